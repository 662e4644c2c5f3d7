"""Where a warning points: the first frame outside fastgnn and scikit-learn, the user's line.

A fixed ``stacklevel`` is right for one call path only: ``GNTK.fit`` called by the user, by
``fit_transform``, or by ``fit_transform`` wrapped by scikit-learn's ``set_output`` machinery
(``sklearn/utils/_set_output.py``) or a ``Pipeline`` are three depths.  :func:`user_stacklevel`
counts the frames instead (Python 3.12's ``skip_file_prefixes`` does the same; fastgnn supports 3.10).

Cost: one step per frame between the warning and the user's code.
"""

from __future__ import annotations

import os
import sys

__all__ = ["user_stacklevel"]

_FASTGNN = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called by the function that calls this, so that the
    warning names the first frame outside fastgnn and scikit-learn (1 if there is none)."""
    inside = [_FASTGNN]
    sklearn = sys.modules.get("sklearn")
    if sklearn is not None and getattr(sklearn, "__file__", None):
        inside.append(os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep)
    frame, level = sys._getframe(1), 1  # the function that will call warnings.warn: stacklevel 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(tuple(inside)):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1
