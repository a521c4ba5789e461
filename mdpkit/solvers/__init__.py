"""Exact solvers.

- :mod:`mdpkit.solvers.exact`: finite-horizon backward induction and policy evaluation (numba;
  dense and sparse paths; batched rewards) -- re-exported as ``mdpkit.solve``/``mdpkit.evaluate``.
- :mod:`mdpkit.solvers.reference`: the same in plain numpy, the specification the kernels are
  tested against.
- :mod:`mdpkit.solvers.lp`: occupancy-measure linear programs (cvxpy), including constrained
  and conservative problems.
- :mod:`mdpkit.solvers.discounted`: discounted value and policy iteration with documented
  error bounds (for teaching).
"""
from .exact import SPARSE_DENSITY_THRESHOLD, Solution, bellman_residual, evaluate, solve

__all__ = ["SPARSE_DENSITY_THRESHOLD", "Solution", "bellman_residual", "evaluate", "solve"]
