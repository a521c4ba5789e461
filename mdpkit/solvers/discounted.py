"""Infinite-horizon discounted MDPs: value iteration and policy iteration (teaching solvers).

Stationary model: transitions ``P[s, a, s']``, rewards ``R[s, a]`` (any real numbers),
discount ``gamma`` in ``[0, 1)``. The Bellman optimality operator

.. math::

    (T V)(s) = \\max_a \\Big[ R(s, a) + \\gamma \\sum_{s'} P(s' \\mid s, a) V(s') \\Big]

is a ``gamma``-contraction in the sup-norm and monotone (``V <= W`` implies ``TV <= TW``); its
unique fixed point is ``V*``. Every solver returns a :class:`DiscountedSolution` holding, besides
``V``, *proven* sup-norm bounds on ``||V - V*||`` and on the suboptimality of the returned policy.

Standard results used (Puterman 1994, *Markov Decision Processes*, Thm 6.3.1 and Prop. 6.6.1;
Williams & Baird 1993, *Tight performance bounds on greedy policies based on imperfect value
functions*):

* for any ``V``: ``||V - V*|| <= ||TV - V|| / (1 - gamma)``;
* for value iteration ``V_k = T V_{k-1}``: ``||V_k - V*|| <= gamma/(1-gamma) ||V_k - V_{k-1}||``;
* the policy greedy with respect to ``V_k`` satisfies
  ``||V^π - V*|| <= 2 gamma/(1-gamma) ||V_k - V_{k-1}||``
  (so ``||V_k - V_{k-1}|| < eps (1-gamma) / (2 gamma)`` makes it ``eps``-optimal).

The bounds are computed from the float64 iterates and hold in exact arithmetic; floating-point
rounding of a sweep (~1e-16 ||V||) is not added to them.

A stationary :class:`~mdpkit.TabularMDP` with a feasibility mask (``mdp.feasible``, e.g. from
:func:`mdpkit.convert.from_quantecon`) is solved over its feasible actions only: ``Q`` is
``-inf`` at the others. :func:`solve_finite_horizon` is the exact discounted *finite-horizon*
counterpart (backward induction with ``gamma``).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import (
    ArgumentTypeError,
    as_float_array,
    check_positive_int,
    check_real,
    check_stochastic,
    check_sums_finite,
    readonly,
    show,
)
from ..mdp import TabularMDP

_PAX = ("s", "a", "s'")


@dataclass(frozen=True)
class DiscountedSolution:
    """Result of a discounted solver.

    Attributes
    ----------
    V : ndarray, shape (S,)
        Value estimate (VI: the last iterate ``V_n``; PI: ``V^π`` of the final policy).
    Q : ndarray, shape (S, A)
        One-step look-ahead of ``V``: ``R + gamma P V``.
    policy : ndarray, shape (S,), int64
        VI: greedy with respect to ``V`` (argmax of ``Q``, ties to the lowest action index).
        PI: the last evaluated policy (greedy w.r.t. its own ``V`` up to a rounding-level tie
        tolerance when ``converged``).
    iterations : int
        VI: number of Bellman sweeps ``n``; PI: number of policy evaluations.
    error_bound : float
        Proven bound on ``||V - V*||_inf`` (see the solver's docstring).
    policy_loss_bound : float
        Proven bound on ``||V^policy - V*||_inf``.
    converged : bool
        Whether the stopping rule was met (``False`` only if ``max_iter`` ran out).
    history : ndarray, shape (n + 1, S), or None
        VI iterates ``V_0 .. V_n`` when ``record_history=True``; otherwise None.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    error_bound: float
    policy_loss_bound: float
    converged: bool = True
    history: np.ndarray | None = None


# ---------------------------------------------------------------------------- validation
def _validate_model(P, R, gamma):
    """Return validated float64 ``P`` (S, A, S), ``R`` (S, A) and float ``gamma``."""
    if isinstance(P, TabularMDP):
        if R is not None:
            raise ValueError("R must be None when P is a TabularMDP (its rewards mdp.R[0] are used)")
        if not P.is_stationary:
            raise ValueError("P is a TabularMDP with stage-dependent transitions; a discounted model "
                             "needs a stationary one (TabularMDP.stationary)")
        stage_varies = np.any(P.R != P.R[0], axis=(1, 2))
        if stage_varies.any():
            h = int(np.argmax(stage_varies))
            raise ValueError(f"P is a TabularMDP whose rewards depend on the stage (R[{h}] != R[0]); "
                             "a discounted model needs stationary rewards")
        feasible = P.feasible
        if feasible is not None and np.any(feasible != feasible[0]):
            raise ValueError("P is a TabularMDP whose feasible actions depend on the stage; a discounted "
                             "model needs a stationary mask")
        P, R = np.array(P.P_stages[0]), np.array(P.R[0])
        if feasible is not None:
            P, R, gamma = _validate_model(P, R, gamma)
            # -inf after validation: infeasible actions are never the max nor the argmax
            return P, np.where(feasible[0], R, -np.inf), gamma
    P = as_float_array("P", P, ndim=3, axis_names=_PAX)
    S, A, S2 = P.shape
    if S2 != S or S < 1 or A < 1:
        raise ValueError(f"P must have shape (S, A, S) with S, A >= 1, got {P.shape}")
    check_stochastic("P", P, _PAX)
    R = as_float_array("R", R, shape=(S, A), axis_names=("s", "a"))
    gamma = _validate_gamma(gamma)
    # |V*| <= max|R| / (1 - gamma) and every iterate's step is bounded by a few times that:
    # 4 / (1 - gamma) x |R| finite keeps Q, TV and the error bounds finite.
    check_sums_finite("R", R, _horizon_factor(gamma), f"the discounted return bound at gamma = {gamma!r}",
                      ("s", "a"))
    return P, R, gamma


def _horizon_factor(gamma: float) -> float:
    return 4.0 / (1.0 - gamma)


def _validate_gamma(gamma) -> float:
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, numbers.Real):
        raise ArgumentTypeError(f"gamma must be a real number in [0, 1), got {show(gamma)}")
    gamma = float(gamma)
    if not 0.0 <= gamma < 1.0:  # also rejects NaN
        raise ValueError(f"gamma = {gamma!r} is outside [0, 1)")
    return gamma


def _validate_V(name, V, S, gamma):
    V = as_float_array(name, V, shape=(S,), axis_names=("s",))
    check_sums_finite(name, V, _horizon_factor(gamma), f"the Bellman step bound at gamma = {gamma!r}", ("s",))
    return V


# ---------------------------------------------------------------------------- operator
def _bellman(P, R, gamma, V):
    """Unvalidated Bellman optimality operator: returns (TV (S,), Q (S, A))."""
    Q = R + gamma * (P @ V)
    return Q.max(axis=1), Q


def bellman_optimality_operator(P, R, gamma, V):
    """Apply the Bellman optimality operator once (plain numpy).

    Parameters
    ----------
    P : array_like, shape (S, A, S), or stationary TabularMDP (then ``R`` must be None)
    R : array_like, shape (S, A), or None
    gamma : float in [0, 1)
    V : array_like, shape (S,)

    Returns
    -------
    TV : ndarray, shape (S,)
        ``max_a Q[:, a]``.
    Q : ndarray, shape (S, A)
        ``R + gamma * P @ V``.
    """
    P, R, gamma = _validate_model(P, R, gamma)
    return _bellman(P, R, gamma, _validate_V("V", V, P.shape[0], gamma))


def _validate_max_iter(max_iter):
    return None if max_iter is None else check_positive_int("max_iter", max_iter)


# ---------------------------------------------------------------------------- value iteration
def value_iteration(P, R, gamma, *, tol=1e-8, max_iter=None, V0=None,
                    record_history=False) -> DiscountedSolution:
    """Value iteration ``V_k = T V_{k-1}`` until ``gamma/(1-gamma) ||V_k - V_{k-1}|| <= tol``.

    Parameters
    ----------
    P : array_like, shape (S, A, S), or TabularMDP
        Transitions (rows must be distributions). A *stationary* :class:`TabularMDP` may be
        passed instead, with ``R=None``: its ``P_stages[0]`` and ``R[0]`` are used (its horizon
        and ``mu0`` are ignored; stage-dependent rewards are rejected).
    R : array_like, shape (S, A), or None
        Rewards (any finite reals).
    gamma : float
        Discount in ``[0, 1)``.
    tol : float, default 1e-8
        Target for ``error_bound`` (a bound on ``||V - V*||_inf``); must be > 0.
    max_iter : int, optional
        Cap on the number of sweeps. If None, the cap is the sweep count that the contraction
        guarantees in exact arithmetic (plus slack); hitting it then means ``tol`` is below the
        floating-point resolution of ``V`` and a ``RuntimeWarning`` is issued.
    V0 : array_like, shape (S,), optional
        Starting point (default zeros).
    record_history : bool
        Keep every iterate in ``history``.

    Returns
    -------
    DiscountedSolution
        ``V = V_n``; ``error_bound = gamma/(1-gamma) ||V_n - V_{n-1}||`` (Puterman Thm 6.3.1);
        ``policy`` greedy w.r.t. ``V_n`` with ``policy_loss_bound = 2 gamma/(1-gamma) ||V_n - V_{n-1}||``
        (Puterman Thm 6.3.1(c); Williams & Baird 1993). ``Q = R + gamma P V_n``.

    Raises
    ------
    ValueError
        For invalid ``P``, ``R``, ``gamma``, ``tol``, ``max_iter`` or ``V0``, naming the argument.
    """
    P, R, gamma = _validate_model(P, R, gamma)
    S = P.shape[0]
    tol = check_real("tol", tol, lo=0.0, lo_open=True)
    max_iter = _validate_max_iter(max_iter)
    V = np.zeros(S) if V0 is None else _validate_V("V0", V0, S, gamma)
    history = [V.copy()] if record_history else None
    # bound factor: ||V_k - V*|| <= gamma/(1-gamma) ||V_k - V_{k-1}||
    factor = gamma / (1.0 - gamma)

    k, error_bound, step = 0, np.inf, np.inf
    cap = max_iter
    while cap is None or k < cap:
        V_next, _ = _bellman(P, R, gamma, V)
        step = float(np.max(np.abs(V_next - V)))
        V, k = V_next, k + 1
        if history is not None:
            history.append(V.copy())
        error_bound = factor * step
        if error_bound <= tol:
            break
        if cap is None:
            cap = _guaranteed_sweeps(gamma, step, tol)
    converged = error_bound <= tol
    if not converged and max_iter is None:
        warnings.warn(f"value_iteration: error bound {error_bound:.3g} still above tol={tol:g} after {k} "
                      "sweeps, more than the contraction guarantees; tol is likely below the "
                      "floating-point resolution of V", RuntimeWarning, stacklevel=2)
    _, Q = _bellman(P, R, gamma, V)
    return DiscountedSolution(
        V=readonly(V), Q=readonly(Q), policy=readonly(np.argmax(Q, axis=1).astype(np.int64)),
        iterations=k, error_bound=error_bound, policy_loss_bound=2.0 * factor * step,
        converged=converged, history=None if history is None else readonly(np.array(history)),
    )


def _guaranteed_sweeps(gamma, first_step, tol):
    """Sweeps after which ``gamma/(1-gamma) ||V_k - V_{k-1}|| <= tol`` holds in exact arithmetic.

    ``||V_k - V_{k-1}|| <= gamma^(k-1) ||V_1 - V_0||``; the slack (x1.1 + 10) only absorbs
    rounding in this count, it is not a tuning knob.
    """
    if gamma == 0.0 or first_step == 0.0:
        return 1
    need = np.log(tol * (1.0 - gamma) / (gamma * first_step)) / np.log(gamma)
    return int(np.ceil(1.1 * max(need, 0.0))) + 11


# ---------------------------------------------------------------------------- policy iteration
def _evaluate_policy(P, R, gamma, policy):
    """Exact V^π by solving (I - gamma P_π) V = R_π; returns (V, residual ||T_π V - V||)."""
    S = P.shape[0]
    states = np.arange(S)
    P_pi, R_pi = P[states, policy], R[states, policy]
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, R_pi)
    residual = float(np.max(np.abs(R_pi + gamma * P_pi @ V - V)))
    return V, residual


def policy_iteration(P, R, gamma, *, max_iter=None) -> DiscountedSolution:
    """Howard's policy iteration: evaluate exactly, improve greedily, stop when stable.

    Pseudocode::

        π_0 = greedy(R)                   # greedy w.r.t. V = 0
        repeat:
            V = (I - gamma P_π)^{-1} R_π  # exact evaluation (linear solve)
            Q = R + gamma P V
            π' = argmax_a Q, keeping π(s) wherever it is already a maximiser
            if π' == π: stop
            π = π'

    Parameters
    ----------
    P, R, gamma
        As in :func:`value_iteration`.
    max_iter : int, optional
        Cap on the number of evaluations. None: run until stable (PI terminates after at most
        ``A**S`` improvements, in practice a handful).

    Returns
    -------
    DiscountedSolution
        ``V = V^π`` of the final policy; ``error_bound = ||TV - V|| / (1 - gamma)`` computed from the
        final residual (Puterman Prop. 6.6.1); ``policy_loss_bound = (||TV - V|| + ||T_π V - V||)/(1-gamma)``,
        which also covers the linear-solve error in ``V`` (``||V^π - V|| <= ||T_π V - V||/(1-gamma)``).

    Notes
    -----
    Reconstructed: the tie tolerance (an action replaces the current one only if its Q is larger by
    more than ``1e-12 (1 + max|Q|)``) is ours; it stops PI cycling between actions whose Q differ by
    rounding error only. Any action within the tolerance is optimal up to that amount, which the
    returned bounds account for.
    """
    P, R, gamma = _validate_model(P, R, gamma)
    max_iter = _validate_max_iter(max_iter)
    S = P.shape[0]
    states = np.arange(S)
    policy = np.argmax(R, axis=1).astype(np.int64)
    k, converged = 0, False
    while True:
        V, eval_residual = _evaluate_policy(P, R, gamma, policy)
        k += 1
        TV, Q = _bellman(P, R, gamma, V)
        tie_tol = 1e-12 * (1.0 + float(np.max(np.abs(Q[np.isfinite(Q)]))))
        improvable = TV > Q[states, policy] + tie_tol
        if not improvable.any():
            converged = True
            break
        if max_iter is not None and k == max_iter:
            break  # return the evaluated policy, so that V and the bounds refer to it
        policy = np.where(improvable, np.argmax(Q, axis=1), policy)
    bellman_residual = float(np.max(np.abs(TV - V)))
    return DiscountedSolution(
        V=readonly(V), Q=readonly(Q), policy=readonly(policy),
        iterations=k, error_bound=bellman_residual / (1.0 - gamma),
        policy_loss_bound=(bellman_residual + eval_residual) / (1.0 - gamma),
        converged=converged, history=None,
    )


# ---------------------------------------------------------------------------- finite horizon
def solve_finite_horizon(mdp: TabularMDP, gamma):
    """Discounted finite-horizon optimal values by backward induction (exact; plain numpy).

    Pseudocode::

        V[H] = 0
        for h = H-1 .. 0:
            Q[h] = R[h] + gamma * P[h] @ V[h+1]       # -inf at infeasible actions
            V[h], policy[h] = max_a Q[h], argmax_a Q[h]

    Parameters
    ----------
    mdp : TabularMDP
        Any model (stage-dependent or not; ``R`` is the expectation of ``transition_rewards``
        when present; ``mdp.feasible`` respected).
    gamma : float
        Discount in ``[0, 1]`` (``1`` gives :func:`mdpkit.solve`'s values up to rounding).

    Returns
    -------
    mdpkit.solvers.exact.Solution
        ``V[h, s] = max_pi E[sum_{t=h}^{H-1} gamma^(t-h) r_t]``; ``value = mu0 @ V[0]``;
        ``policy`` greedy (ties to the lowest feasible action); ``method = "numpy"``.

    Notes
    -----
    Guarantee: exact up to floating-point rounding (no iteration, no stopping rule). The same
    recursion is pymdptoolbox's ``FiniteHorizon`` (tested against it on ``forest()``).
    """
    from .exact import Solution, check_mdp  # lazy: loads numba only when this solver runs

    check_mdp(mdp)
    gamma = check_real("gamma", gamma, lo=0.0, hi=1.0)
    H, S, A = mdp.H, mdp.S, mdp.A
    R = mdp.R if mdp.feasible is None else np.where(mdp.feasible, mdp.R, -np.inf)
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    policy = np.empty((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        P_h = mdp.P_stages[h if mdp.P_stages.shape[0] > 1 else 0]
        Q[h] = R[h] + gamma * (P_h @ V[h + 1])
        policy[h] = np.argmax(Q[h], axis=1)
        V[h] = Q[h].max(axis=1)
    return Solution(Q, V, policy, float(mdp.mu0 @ V[0]), "numpy", V[0])
