"""The local cluster of ``--workers N`` is closed: another local process without its credentials cannot run a
task on it, and it serves no HTTP page (no dashboard) unless asked.

The finding: during ``fastgnn gntk ... --workers 2`` another process connected to the scheduler on 127.0.0.1
with no credentials and ran ``os.popen("id -un; touch ...")`` as the user; the dashboard answered on
127.0.0.1:8787 although the code passed ``dashboard_address=None``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("cryptography")

from fastgnn.distributed import cluster_client  # noqa: E402

#: a second local process: tries to run a task that creates a file, over plain TCP and over TLS without the
#: cluster's certificate; prints what happened to each try
INTRUDER = textwrap.dedent("""
    import json, sys
    import distributed
    from distributed.security import Security
    address, marker = sys.argv[1], sys.argv[2]
    def touch(path):
        open(path, "w").write("ran")
        return "ran"
    out = {}
    tries = {"tcp, no credentials": (address.replace("tls://", "tcp://"), None),
             "tls, its own certificate": (address, Security.temporary())}
    for name, (where, security) in tries.items():
        try:
            with distributed.Client(where, security=security, timeout=5) as c:
                out[name] = c.submit(touch, marker, pure=False).result(timeout=5)
        except Exception as e:
            out[name] = f"refused: {type(e).__name__}"
    print(json.dumps(out))
""")


def _get(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def test_another_process_without_the_credentials_cannot_run_a_task(tmp_path):
    marker = tmp_path / "intruder-ran"
    with cluster_client(1) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert all(w.startswith("tls://127.0.0.1:") for w in client.scheduler_info()["workers"])
        assert client.submit(sum, [1, 2]).result() == 3  # this process holds the credentials
        run = subprocess.run([sys.executable, "-c", INTRUDER, address, str(marker)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
        assert set(outcome) == {"tcp, no credentials", "tls, its own certificate"}
        assert all(v.startswith("refused") for v in outcome.values()), outcome
    assert not marker.exists()


def test_no_page_is_served_unless_a_dashboard_is_asked_for():
    with cluster_client(1) as client:
        info = client.scheduler_info()
        ports = [info["services"]["dashboard"], *(w["services"]["dashboard"] for w in info["workers"].values())]
        assert 8787 not in ports  # Dask's default, taken even with dashboard_address=None
        for port in ports:
            for path in ("/", "/status", "/info/main/workers.html", "/metrics", "/health"):
                assert _get(f"http://127.0.0.1:{port}{path}") == 404
    with cluster_client(1, dashboard=True) as client:
        port = client.scheduler_info()["services"]["dashboard"]
        assert _get(f"http://127.0.0.1:{port}/info/main/workers.html") == 200
