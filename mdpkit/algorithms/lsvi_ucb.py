"""LSVI-UCB with oracle features (Jin, Yang, Wang, Jordan, COLT 2020, Algorithm 1).

The linear-MDP upper reference for representation learners: the true features ``phi*`` are given.
Per episode ``k``, backwards over ``h = H-1 .. 0``::

    Lambda_h = sum_{tau < k} phi(s_h^tau, a_h^tau) phi(s_h^tau, a_h^tau)^T + lambda I
    w_h      = Lambda_h^-1 sum_{tau < k} phi(s_h^tau, a_h^tau) [r_h(s_h^tau, a_h^tau) + max_a Q_{h+1}(s_{h+1}^tau, a)]
    Q_h      = min{w_h^T phi + beta ||phi||_{Lambda_h^-1}, H}

then one episode with the greedy policy of ``Q``. Regret ``O~(sqrt(d^3 H^3 T))``, independent of
``S`` and ``A``. The agent observes mean rewards (``r = R[h, s, a]``).
"""

from __future__ import annotations

import numpy as np

from .._validation import (
    ArgumentTypeError,
    as_float_array,
    check_episodes,
    check_instance,
    check_optional_seed,
    check_real,
    show,
    show_float,
)
from ..lowrank import LowRankMDP
from ..solvers import evaluate, solve
from .results import RunResult

__all__ = ["run", "theoretical_beta"]


def theoretical_beta(d: int, H: int, K: int, failure_probability: float = 0.05, c: float = 1.0) -> float:
    """``beta = c d H sqrt(iota)``, ``iota = log(2 d T / p)``, ``T = K H`` (Jin et al. 2020, Theorem 3.1;
    recalled, not from the paper notes).

    The absolute constant ``c`` is not given in the paper; ``c = 1`` is our default.
    """
    return float(c * d * H * np.sqrt(np.log(2 * d * K * H / failure_probability)))


def _sample(rng: np.random.Generator, p: np.ndarray) -> int:
    return min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")), p.shape[0] - 1)


def run(lrmdp: LowRankMDP, *, K: int, seed, features=None, beta: float | None = None, bonus_scale: float = 1.0,
        ridge: float = 1.0, record: bool = False) -> RunResult:
    """Run LSVI-UCB for ``K`` episodes with given (by default the true) features.

    Parameters
    ----------
    lrmdp : LowRankMDP
        True model; ``lrmdp.phi`` are the oracle features unless ``features`` is given.
    K : int
        Episodes (one trajectory each).
    seed : int, SeedSequence, Generator or None
    features : array_like, shape (H, S, A, d'), optional
        Features to use instead of ``lrmdp.phi`` (e.g. random ones, for an ablation).
    beta : float, optional
        Bonus coefficient; default :func:`theoretical_beta` with ``c = 1``, ``p = 0.05``.
    bonus_scale : float
        Practical multiplier of ``beta``.
    ridge : float
        ``lambda`` (Jin et al. use 1); at least the smallest normal float64 (``2.2e-308``), so
        that ``Lambda^-1 = I / lambda`` at the start is finite.
    record : bool
        Also return ``extras["trace"]``, one dict per episode (every other output unchanged):
        ``Q`` (H, S, A) and ``V`` (H + 1, S), the optimistic estimates planned from the data of
        the earlier episodes; ``policy`` (H, S) int, the greedy policy deployed; ``transitions``
        (H, 4) int, the ``(h, s, a, s')`` observed in the episode (added to the data afterwards).

    Returns
    -------
    RunResult
        ``values[k]``: exact value of the greedy policy deployed in episode ``k`` (planned on the
        data of episodes ``< k``); ``extras["optimistic_value"]`` (K,) = ``mu0 @ V_hat_0``.
    """
    check_instance("lrmdp", lrmdp, LowRankMDP, "mdpkit.LowRankMDP")
    K = check_episodes(K, 16.0, "the per-episode values")
    seed = check_optional_seed(seed)
    H, S, A = lrmdp.H, lrmdp.S, lrmdp.A
    phi = lrmdp.phi if features is None else as_float_array("features", features, ndim=4,
                                                            axis_names=("h", "s", "a", "i"))
    if phi.shape[:3] != (H, S, A) or phi.shape[3] < 1:
        raise ValueError(f"features must have shape (H, S, A, d) = ({H}, {S}, {A}, *) with d >= 1, "
                         f"got {phi.shape}")
    d = phi.shape[3]
    if features is not None:
        # Lambda accumulates K outer products: K |phi|^2 must stay finite.
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(phi * phi * float(K))
        if bad.any():
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), phi.shape))
            raise ValueError(f"features[h={idx[0]}, s={idx[1]}, a={idx[2]}, i={idx[3]}] = "
                             f"{show_float(phi[idx])}: K = {K} squared features overflow float64 in Lambda")
    bonus_scale = check_real("bonus_scale", bonus_scale, lo=0.0)
    ridge = check_real("ridge", ridge, lo=float(np.finfo(np.float64).tiny))
    beta = None if beta is None else check_real("beta", beta, lo=0.0)
    if not isinstance(record, (bool, np.bool_)):
        raise ArgumentTypeError(f"record must be True or False, got {show(record)}")
    beta_value = (theoretical_beta(d, H, K) if beta is None else float(beta)) * bonus_scale
    if not np.isfinite(beta_value):
        raise ValueError(f"beta * bonus_scale = {beta_value!r} overflows float64 "
                         f"(beta={beta!r}, bonus_scale={bonus_scale!r})")
    tabular = lrmdp.to_tabular()
    optimal_value = solve(tabular).value
    rng = np.random.default_rng(seed)

    Lambda = np.broadcast_to(ridge * np.eye(d), (H, d, d)).copy()
    visits = np.zeros((H, S, A))            # n_h(s, a): regression sums are over these samples
    next_visits = np.zeros((H, S, A, S))    # n_h(s, a, s')
    values, optimistic = np.empty(K), np.empty(K)
    trace = []
    for k in range(K):
        Q = np.empty((H, S, A))
        V_next = np.zeros(S)
        V = np.zeros((H + 1, S))  # only for the trace
        Lambda_inv = np.linalg.inv(Lambda)
        for h in range(H - 1, -1, -1):
            targets = visits[h] * lrmdp.R[h] + next_visits[h] @ V_next  # sum of regression targets per (s, a)
            w = Lambda_inv[h] @ np.einsum("sai,sa->i", phi[h], targets)
            norms = np.sqrt(np.maximum(np.einsum("sai,ij,saj->sa", phi[h], Lambda_inv[h], phi[h]), 0.0))
            Q[h] = np.minimum(phi[h] @ w + beta_value * norms, H)
            V_next = Q[h].max(axis=1)
            V[h] = V_next
        optimistic[k] = lrmdp.mu0 @ V_next
        greedy = Q.argmax(axis=2)
        values[k] = evaluate(tabular, greedy).value
        s = _sample(rng, lrmdp.mu0)
        transitions = []
        for h in range(H):
            a = greedy[h, s]
            s_next = _sample(rng, lrmdp.P[h, s, a])
            transitions.append((h, s, a, s_next))
            Lambda[h] += np.outer(phi[h, s, a], phi[h, s, a])
            visits[h, s, a] += 1
            next_visits[h, s, a, s_next] += 1
            s = s_next
        if record:
            trace.append(dict(Q=Q, V=V, policy=greedy, transitions=np.array(transitions, dtype=np.int64)))
    hyper = dict(beta=theoretical_beta(d, H, K) if beta is None else float(beta), bonus_scale=bonus_scale,
                 ridge=ridge, features="oracle" if features is None else "given", K=K)
    extras = dict(optimistic_value=optimistic, transitions_per_episode=H)
    if record:
        extras["trace"] = trace
    return RunResult.from_values("lsvi_ucb", values, optimal_value, seed=seed, hyper=hyper, extras=extras)
