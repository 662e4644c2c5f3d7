"""``fastgnn.GCNKernel`` and ``fastgnn.GCNGP`` are lazy: ``import fastgnn`` does not import the node kernels."""

from __future__ import annotations

import subprocess
import sys


def test_lazy_exports():
    code = ("import sys, fastgnn; assert 'fastgnn.node' not in sys.modules; "
            "from fastgnn.node import GCNGP, GCNKernel; "
            "assert fastgnn.GCNGP is GCNGP and fastgnn.GCNKernel is GCNKernel; "
            "assert {'GCNGP', 'GCNKernel'} <= set(fastgnn.__all__) <= set(dir(fastgnn))")
    subprocess.run([sys.executable, "-c", code], check=True)
