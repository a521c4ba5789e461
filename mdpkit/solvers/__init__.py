"""Exact solvers: finite-horizon backward induction and evaluation, LPs, discounted DP."""
from .exact import Solution, evaluate, solve

__all__ = ["Solution", "evaluate", "solve"]
