"""Exact solvers.

- :mod:`mdpkit.solvers.exact`: finite-horizon backward induction and policy evaluation (numba;
  dense and sparse paths; batched rewards) -- re-exported as ``mdpkit.solve``/``mdpkit.evaluate``.
- :mod:`mdpkit.solvers.reference`: the same in plain numpy, the specification the kernels are
  tested against.
- :mod:`mdpkit.solvers.lp`: occupancy-measure linear programs (sparse matrices solved by HiGHS),
  including constrained and conservative problems.
- :mod:`mdpkit.solvers.discounted`: discounted value and policy iteration with documented
  error bounds (for teaching), and discounted finite-horizon solving.
- :mod:`mdpkit.solvers.average_reward`: average-reward (gain) solvers for ported problems:
  relative value iteration with its span stopping rule, and the dual occupancy LP.

The names re-exported here load :mod:`~mdpkit.solvers.exact` (and with it numba) on first access.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["SPARSE_DENSITY_THRESHOLD", "Solution", "bellman_residual", "evaluate", "solve"]

_SUBMODULES = ("average_reward", "discounted", "exact", "lp", "reference")


def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module(f"{__name__}.exact"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .exact import SPARSE_DENSITY_THRESHOLD, Solution, bellman_residual, evaluate, solve
