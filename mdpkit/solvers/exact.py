"""Exact finite-horizon solvers: backward induction and policy evaluation (temporary numpy path)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mdp import TabularMDP, validate_policy
from . import reference


@dataclass(frozen=True)
class Solution:
    """Exact finite-horizon solution.

    Attributes
    ----------
    Q : ndarray, shape (H, S, A) or (B, H, S, A)
    V : ndarray, shape (H + 1, S) or (B, H + 1, S), ``V[..., H, :] = 0``
    policy : ndarray, shape (H, S) or (B, H, S), int64 (optimal: greedy; evaluated: None if stochastic)
    value : float or ndarray, shape (B,) -- ``mu0 @ V[0]``
    """

    Q: np.ndarray
    V: np.ndarray
    policy: np.ndarray | None
    value: float | np.ndarray


def solve(mdp: TabularMDP) -> Solution:
    Q, V, pi = reference.backward_induction(np.asarray(mdp.P), mdp.R)
    return Solution(Q, V, pi, float(mdp.mu0 @ V[0]))


def evaluate(mdp: TabularMDP, policy) -> Solution:
    pol = validate_policy(policy, mdp.H, mdp.S, mdp.A)
    Q, V = reference.policy_evaluation(np.asarray(mdp.P), mdp.R, pol)
    return Solution(Q, V, pol if pol.ndim == 2 else None, float(mdp.mu0 @ V[0]))
