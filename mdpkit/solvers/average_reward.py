"""Average-reward (gain-optimal) MDPs: relative value iteration and the occupancy LP.

Stationary model: transitions ``P[s, a, s']``, rewards ``R[s, a]`` (any finite reals; a
stationary :class:`~mdpkit.TabularMDP` may be passed instead, its horizon and ``mu0`` are
ignored and its feasibility mask is respected). The gain of a stationary policy ``pi`` from
``s`` is ``g^pi(s) = lim_n E[sum_{t<n} r_t] / n``; the optimal gain is ``g*(s) = max_pi g^pi(s)``.

Guarantee used (Puterman 1994, *Markov Decision Processes*, Thm 8.5.5 and Sec. 8.5.4, here in
the form that holds for *every* finite MDP): the Bellman operator ``(T v)(s) = max_a [R(s, a) +
sum_s' P(s'|s, a) v(s')]`` is monotone and ``T(v + c) = T v + c``, so for any ``v``

* ``min_s (T v - v)(s) <= g*(s') <= max_s (T v - v)(s)`` for every ``s'``;
* the policy ``d`` greedy with respect to ``v`` has ``g^d(s') >= min_s (T v - v)(s)`` for every ``s'``.

(From ``T^n v <= v + n max(Tv - v)`` and ``T_d^n v >= v + n min(Tv - v)``, divided by ``n``.) So
when the span ``sp(T v - v) = max - min`` is at most ``tol`` the greedy policy is
``tol``-gain-optimal from every state. Relative value iteration stops exactly then. It reaches
the stopping rule when the model is unichain and aperiodic (Puterman Thm 8.5.4); for periodic
models pass ``aperiodicity < 1`` (the transformation ``P_tau = tau P + (1 - tau) I``, which keeps
the optimal policies and scales every gain by ``tau`` -- the gains reported are rescaled back).
For a multichain model, where ``g*`` depends on the state, the bounds still hold but may never
meet: ``converged`` is then False after ``max_iter``.

:func:`average_reward_lp` solves the dual linear program over stationary state-action
frequencies; its optimum equals ``g*`` for unichain and, more generally, weakly communicating
models (constant optimal gain; Puterman Sec. 8.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_int, check_real, readonly
from .discounted import _validate_model as _validate_discounted_model

__all__ = ["AverageRewardSolution", "average_reward_lp", "relative_value_iteration"]


@dataclass(frozen=True)
class AverageRewardSolution:
    """Result of :func:`relative_value_iteration` or :func:`average_reward_lp`.

    Attributes
    ----------
    gain : float
        Estimate of the optimal gain (RVI: the midpoint of ``gain_bounds``; LP: the optimum).
    gain_bounds : (float, float)
        Proven ``(lower, upper)`` bounds on ``g*(s)`` for every ``s`` (RVI); ``(gain, gain)`` for
        the LP (exact up to the LP solver's tolerance, for weakly communicating models).
    bias : ndarray, shape (S,) or None
        RVI: relative values ``h = v - v[reference_state]`` (``h[reference_state] = 0``); they
        solve ``g + h = T h`` up to ``span``. None for the LP.
    policy : ndarray, shape (S,), int64
        RVI: greedy w.r.t. the last iterate, gain ``>= gain_bounds[0]`` from every state. LP:
        the most frequent action in each state with positive frequency, the greedy action
        w.r.t. ``R`` elsewhere (gain-optimal on the recurrent states the LP found).
    iterations : int
    converged : bool
        RVI: ``span(T v - v) <= tol`` was reached.
    frequencies : ndarray, shape (S, A) or None
        LP: optimal stationary state-action frequencies (sum 1). None for RVI.
    """

    gain: float
    gain_bounds: tuple[float, float]
    bias: np.ndarray | None
    policy: np.ndarray
    iterations: int
    converged: bool
    frequencies: np.ndarray | None = None


def _validate(P, R):
    """Validated ``P`` (S, A, S) and ``R`` (S, A), ``-inf`` at infeasible actions of a masked model."""
    # The discounted validation checks rows, shapes and mask; gamma = 0.5 only sizes its finiteness check.
    P, R, _ = _validate_discounted_model(P, R, 0.5)
    return P, R


def _bellman(P, R, v):
    Q = R + P @ v
    return Q.max(axis=1), Q


def relative_value_iteration(P, R=None, *, tol: float = 1e-9, max_iter: int = 100_000,
                             reference_state: int = 0, aperiodicity: float = 1.0) -> AverageRewardSolution:
    """Relative value iteration with the span stopping rule.

    Pseudocode::

        v = 0
        repeat:
            w = T v                        # T on the (optionally aperiodic-transformed) model
            lower, upper = min(w - v), max(w - v)
            if upper - lower <= tol: stop  # greedy policy is tol-gain-optimal (module docstring)
            v = w - w[reference_state]     # keep the iterates bounded

    Parameters
    ----------
    P : array_like, shape (S, A, S), or stationary TabularMDP (then ``R`` must be None)
    R : array_like, shape (S, A), or None
    tol : float, default 1e-9
        Target width of ``gain_bounds`` (> 0).
    max_iter : int, default 100000
    reference_state : int, default 0
    aperiodicity : float in (0, 1], default 1
        ``tau`` of the transformation ``P_tau = tau P + (1 - tau) I`` (rewards ``tau R``); 1 is
        plain RVI. Use e.g. 0.5 for a periodic unichain model.

    Returns
    -------
    AverageRewardSolution
        ``gain_bounds`` are proven for every state whether or not ``converged`` (bounds of the
        original model: the transformed gains are divided by ``tau``).
    """
    P, R = _validate(P, R)
    S, A, _ = P.shape
    tol = check_real("tol", tol, lo=0.0, lo_open=True)
    max_iter = check_positive_int("max_iter", max_iter)
    reference_state = check_positive_int("reference_state", reference_state, minimum=0, maximum=S - 1)
    tau = check_real("aperiodicity", aperiodicity, lo=0.0, hi=1.0, lo_open=True)
    if tau < 1.0:
        P = tau * P + (1.0 - tau) * np.eye(S)[:, None, :]
        R = tau * R
    v = np.zeros(S)
    lower, upper, k = -np.inf, np.inf, 0
    for k in range(1, max_iter + 1):
        w, _ = _bellman(P, R, v)
        diff = w - v
        lower, upper = float(diff.min()), float(diff.max())
        if upper - lower <= tol * tau or k == max_iter:  # the transformed gain is tau g
            break  # keep v: the bounds and the greedy policy below refer to it
        v = w - w[reference_state]
    _, Q = _bellman(P, R, v)
    policy = np.argmax(Q, axis=1).astype(np.int64)
    lower, upper = lower / tau, upper / tau
    bias = v - v[reference_state]  # the transformation keeps the bias: tau (g + h) = tau (R + P h)
    return AverageRewardSolution(gain=0.5 * (lower + upper), gain_bounds=(lower, upper), bias=readonly(bias),
                                 policy=readonly(policy), iterations=k, converged=bool(upper - lower <= tol))


def average_reward_lp(P, R=None) -> AverageRewardSolution:
    """Optimal gain by the dual LP over stationary state-action frequencies (HiGHS).

    ::

        maximise    sum_{s,a} R[s, a] x[s, a]
        subject to  sum_a x[t, a] = sum_{s,a} P[s, a, t] x[s, a]   for every state t
                    sum_{s,a} x[s, a] = 1,  x >= 0   (x = 0 at infeasible actions)

    Parameters
    ----------
    P, R
        As in :func:`relative_value_iteration`.

    Returns
    -------
    AverageRewardSolution
        ``gain`` = the LP optimum, which is ``g*`` for weakly communicating (in particular
        unichain) models; for a multichain model it is ``max_s g*(s)``.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, vstack

    P, R = _validate(P, R)
    S, A, _ = P.shape
    feasible = np.isfinite(R)
    # balance rows: sum_a x[t, a] - sum_{s,a} P[s, a, t] x[s, a] = 0, columns ordered (s, a)
    outflow = csr_array(np.kron(np.eye(S), np.ones((1, A))))
    inflow = csr_array(P.reshape(S * A, S).T)
    A_eq = vstack([outflow - inflow, csr_array(np.ones((1, S * A)))]).tocsr()
    b_eq = np.zeros(S + 1)
    b_eq[-1] = 1.0
    bounds = [(0.0, None if f else 0.0) for f in feasible.ravel()]
    res = linprog(-np.where(feasible, R, 0.0).ravel(), A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - the LP is feasible (any stationary distribution) and bounded
        raise RuntimeError(f"average-reward LP failed: {res.message}")
    x = np.maximum(res.x.reshape(S, A), 0.0)
    visited = x.sum(axis=1) > 1e-12
    policy = np.where(visited, np.argmax(x, axis=1), np.argmax(R, axis=1)).astype(np.int64)
    gain = float(-res.fun)
    return AverageRewardSolution(gain=gain, gain_bounds=(gain, gain), bias=None, policy=readonly(policy),
                                 iterations=int(res.nit), converged=True, frequencies=readonly(x))
