"""numba kernels of the harness: deploy a deterministic policy for one episode, and audit batches
of policies exactly. No learning logic lives here.

Each kernel has a plain-numpy counterpart in ``tests/test_harness.py`` and is tested against it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._kernels import FASTMATH, _dot, simulate_episodes
from ..algorithms._ucbvi_kernels import evaluate_deterministic

#: Return codes of :func:`deploy_deterministic`.
UNCHANGED, CHANGED, INVALID = 0, 1, 2

_NO_POLICY_CDF = np.zeros((0, 0, 0))


@njit(cache=True)
def deploy_deterministic(policy, rows, slot, n_actions, P_cdf, mu0_cdf, R, bernoulli, uniforms, i,
                         states, actions, rewards):
    """Check ``policy``, note whether it differs from the last deployed one, and roll it out once.

    One call per episode, so the harness pays one dispatch for all three steps. A new policy is
    written straight into the audit's batch buffer (``rows[slot + 1]``). The roll-out is
    :func:`mdpkit._kernels.simulate_episodes` itself (the project's only sampler).

    Parameters
    ----------
    policy : ndarray, shape (H, S), int64
        The learner's policy.
    rows : ndarray, shape (B + 1, H, S), int64 -- in/out
        The audit's buffer: ``rows[slot]`` is the previously deployed deterministic policy (all
        ``-1`` if none); a changed ``policy`` is copied to ``rows[slot + 1]``.
    slot : int
        ``0 <= slot < B``.
    n_actions : int
    P_cdf : ndarray, shape (G, S, A, S)
    mu0_cdf : ndarray, shape (S,)
    R : ndarray, shape (H, S, A)
    bernoulli : bool
    uniforms : ndarray, shape (n, 1 + 3 H)
        A chunk of episodes' uniforms in the simulator's layout.
    i : int
        The episode's row in the chunk.
    states : ndarray, shape (n, H + 1), int64 -- output row ``i``
    actions : ndarray, shape (n, H), int64 -- output row ``i``
    rewards : ndarray, shape (n, H) -- output row ``i``

    Returns
    -------
    int
        :data:`INVALID` (an action outside ``0..A-1``; nothing is rolled out), :data:`CHANGED` or
        :data:`UNCHANGED`.
    """
    H, S = policy.shape
    changed = False
    for h in range(H):
        for s in range(S):
            a = policy[h, s]
            if a < 0 or a >= n_actions:
                return INVALID
            if a != rows[slot, h, s]:
                changed = True
    if changed:
        for h in range(H):
            for s in range(S):
                rows[slot + 1, h, s] = policy[h, s]
    simulate_episodes(P_cdf, mu0_cdf, policy, _NO_POLICY_CDF, R, bernoulli, uniforms[i:i + 1], states[i:i + 1],
                      actions[i:i + 1], rewards[i:i + 1])
    return CHANGED if changed else UNCHANGED


@njit(cache=True, fastmath=FASTMATH)
def values_deterministic(P_stages, R, mu0, policies, V, out):
    """Exact ``mu0 . V^pi_0`` of ``B`` deterministic policies on the true model.

    Each value is :func:`mdpkit.algorithms._ucbvi_kernels.evaluate_deterministic`'s -- the audit
    of the native UCBVI loop -- so a policy gets the same float here and there.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (H, S, A)
    mu0 : ndarray, shape (S,)
    policies : ndarray, shape (B, H, S), int64
    V : ndarray, shape (H + 1, S) -- scratch
    out : ndarray, shape (B,) -- output
    """
    for b in range(policies.shape[0]):
        out[b] = evaluate_deterministic(P_stages, R, mu0, policies[b], V)


@njit(cache=True, fastmath=FASTMATH)
def values_stochastic(P_stages, R, mu0, policies, V, out):
    """Exact ``mu0 . V^pi_0`` of ``B`` stochastic policies on the true model.

    ``V[h, s] = sum_a pi[h, s, a] (R[h, s, a] + P[h, s, a] . V[h + 1])``, skipping actions of
    probability 0.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (H, S, A)
    mu0 : ndarray, shape (S,)
    policies : ndarray, shape (B, H, S, A)
    V : ndarray, shape (H + 1, S) -- scratch
    out : ndarray, shape (B,) -- output
    """
    H, S, A = R.shape
    G = P_stages.shape[0]
    for b in range(policies.shape[0]):
        V[H, :] = 0.0
        for h in range(H - 1, -1, -1):
            g = h if G > 1 else 0
            for s in range(S):
                total = 0.0
                for a in range(A):
                    p = policies[b, h, s, a]
                    if p != 0.0:
                        total += p * (R[h, s, a] + _dot(P_stages[g, s, a], V[h + 1]))
                V[h, s] = total
        out[b] = _dot(mu0, V[0])
