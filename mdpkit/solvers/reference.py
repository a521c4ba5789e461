"""Plain-numpy reference implementations of the finite-horizon solvers.

These are the readable specification the numba kernels in :mod:`mdpkit._kernels` are tested
against: short, obviously correct, and slow. They are public so users can check their own
code against them too.
"""

from __future__ import annotations

import numpy as np


def backward_induction(P: np.ndarray, R: np.ndarray):
    """Optimal Q, V and greedy policy by backward induction (numpy).

    Parameters
    ----------
    P : ndarray, shape (H, S, A, S)
    R : ndarray, shape (H, S, A)

    Returns
    -------
    Q : ndarray, shape (H, S, A)
    V : ndarray, shape (H + 1, S), ``V[H] = 0``
    policy : ndarray, shape (H, S), int64; ties broken towards the lowest action index
    """
    H, S, A, _ = P.shape
    Q = np.zeros((H, S, A))
    V = np.zeros((H + 1, S))
    policy = np.zeros((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        Q[h] = R[h] + P[h] @ V[h + 1]
        policy[h] = np.argmax(Q[h], axis=1)
        V[h] = Q[h].max(axis=1)
    return Q, V, policy


def policy_evaluation(P: np.ndarray, R: np.ndarray, policy: np.ndarray):
    """Q^π and V^π of a deterministic (H, S) or stochastic (H, S, A) policy (numpy).

    Returns
    -------
    Q : ndarray, shape (H, S, A)
    V : ndarray, shape (H + 1, S)
    """
    H, S, A, _ = P.shape
    Q = np.zeros((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = R[h] + P[h] @ V[h + 1]
        if policy.ndim == 2:
            V[h] = Q[h][np.arange(S), policy[h]]
        else:
            V[h] = (policy[h] * Q[h]).sum(axis=1)
    return Q, V


def worst_path_totals(possible: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Largest reward total along any feasible path, from every state at every stage (numpy).

    Parameters
    ----------
    possible : ndarray, shape (S, A, S), bool
        ``possible[s, a, s']``: ``s'`` can follow ``(s, a)``.
    R : ndarray, shape (H, S, A, B)
        Rewards, batch last.

    Returns
    -------
    worst : ndarray, shape (H + 1, S, B), ``worst[H] = 0``
    """
    H, S, A, B = R.shape
    worst = np.zeros((H + 1, S, B))
    for h in range(H - 1, -1, -1):
        best_next = np.where(possible[..., None], worst[h + 1][None, None], -np.inf).max(axis=2)  # (S, A, B)
        worst[h] = (R[h] + best_next).max(axis=1)
    return worst
