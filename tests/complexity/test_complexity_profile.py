"""complexity/profile.py end to end on tiny sweeps: the report's table and files, unavailable
operations, the reused input dropped when the profile returns, argument errors."""

from __future__ import annotations

import json
import time

import pytest

from fastgnn.complexity import Cost, Sweep, cache, profile, registry
from fastgnn.complexity.profile import load_report
from fastgnn.complexity.sweeps.gcn import gcn_adjacency


def _tiny_sweep(k=2.0):
    def build(p, ctx):
        # 10 ms at the smallest point: sleep()'s own overshoot (a few ms on a loaded machine, where 2 ms
        # measured a slope of 1.2) stays small against it
        return lambda: time.sleep(1e-2 * (p["n"] / 4) ** k)

    return Sweep(op="test-sleep", variable="n", values=(4, 8, 16), quick=(4, 8, 16), fixed={}, build=build,
                 costs=(Cost("test", "|n|²", lambda p: p["n"] ** 2),), flops=lambda p: p["n"] ** 2, grows=2)


def test_profile_end_to_end_on_small_sweeps(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", [*registry.REGISTRY, _tiny_sweep()])
    # max_call_seconds: quick mode skips points extrapolated past 0.25 s per call, which a loaded
    # CI machine can reach at N = 256; the test is about the pipeline, not that cut-off.
    rep = profile(["test-sleep", "gntk-aggregate-decoupled"], quick=True, repeats=2, clock="wall",
                  max_call_seconds=30.0)
    fits = {f["name"]: f for f in rep.fits}
    assert fits["test-sleep/n"]["time"]["slope"] == pytest.approx(2.0, abs=0.35)
    assert fits["gntk-aggregate-decoupled/N"]["status"] == "ok"
    assert "test-sleep" in rep.table() and "matmul" in rep.table()
    assert "verdicts: " in rep.table() and all(r["verdict"] for r in rep.rows() if r["status"] == "ok" and r["formula"])
    paths = rep.write(tmp_path)
    names = {p.name for p in paths}
    assert {"complexity.json", "complexity.csv", "complexity_points.csv"} <= names
    assert any(n.endswith(".png") for n in names)
    data = json.loads((tmp_path / "complexity.json").read_text())
    assert data["table"][0]["operation"] in ("test-sleep", "gntk-aggregate-decoupled")
    assert (tmp_path / "complexity.csv").read_text().startswith("operation,variable")
    md = (tmp_path / "complexity.md").read_text()
    assert "\\|n\\|²" in md  # a | in a formula does not split the Markdown cell
    assert all(line.count(" | ") == md.splitlines()[0].count(" | ") for line in md.splitlines() if "test-sleep" in line)
    back = load_report(tmp_path / "complexity.json")  # strict JSON (NaN -> null) reads back
    assert back.rows()[0]["operation"] == rep.rows()[0]["operation"] and back.table()


def test_unavailable_operation_is_reported_not_raised(monkeypatch):
    s = _tiny_sweep()
    s.op, s.available = "test-missing", lambda: "fastgnn.nn has no Nothing yet"
    monkeypatch.setattr(registry, "REGISTRY", [*registry.REGISTRY, s])
    rep = profile(["test-missing"], quick=True, repeats=1, baselines=False)
    assert rep.fits[0]["status"].startswith("unavailable: fastgnn.nn has no Nothing")
    assert "unavailable" in rep.table()


def test_profile_drops_the_cached_adjacency(monkeypatch):
    """The sweeps' reused A' lives only while profile() runs, also when a sweep raises."""
    seen = []

    def build(p, ctx):
        adj = gcn_adjacency({"N": 8, "E": 16}, ctx)
        seen.append(cache.held() is adj)
        if p["n"] == 8 and p.get("fail"):
            raise ValueError("boom")
        return lambda: adj

    ok = Sweep(op="test-adj", variable="n", values=(4, 8), quick=(4, 8), fixed={}, build=build,
               costs=(Cost("test", "1", lambda p: 1.0),), grows=1)
    bad = Sweep(op="test-adj-fail", variable="n", values=(4, 8), quick=(4, 8), fixed={"fail": True},
                build=build, costs=(Cost("test", "1", lambda p: 1.0),), grows=1)
    monkeypatch.setattr(registry, "REGISTRY", [*registry.REGISTRY, ok, bad])
    profile(["test-adj"], quick=True, repeats=1, baselines=False, memory=False)
    assert seen and all(seen)
    assert cache.held() is None
    with pytest.raises(ValueError, match="boom"):
        profile(["test-adj-fail"], quick=True, repeats=1, baselines=False, memory=False)
    assert cache.held() is None


def test_cache_keeps_one_input_and_drops_it_before_building_the_next():
    built = []

    def build(tag):
        def make():
            built.append((tag, cache.held()))  # what is still held while the new input is built
            return [tag]

        return make

    try:
        a = cache.reuse(("a",), build("a"))
        assert cache.reuse(("a",), build("a-again")) is a and cache.held() is a
        b = cache.reuse(("b",), build("b"))
        assert b == ["b"] and cache.held() is b
        assert built == [("a", None), ("b", None)]  # "a" was dropped before "b" was built
    finally:
        cache.clear_cache()
    assert cache.held() is None


def test_profile_argument_errors():
    with pytest.raises(ValueError, match="repeats"):
        profile(["ref-copy"], repeats=0)
    with pytest.raises(ValueError, match="clock"):
        profile(["ref-copy"], clock="sundial")
    with pytest.raises(ValueError, match="device"):
        profile(["ref-copy"], device="tpu")
