"""Analysis of search runs: `load_run(path)` for notebooks, `write_report` / `python -m nars.analysis` for people.

Names are imported lazily (PEP 562): `from nars.analysis import load_run` does not load matplotlib or
scikit-learn until a figure or the parameter importance needs them.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "Run": "nars.analysis.run",
    "load_run": "nars.analysis.run",
    "write_report": "nars.analysis.report",
}
__all__ = ["Run", "load_run", "write_report"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
