"""Occupancy-measure linear programs for finite-horizon tabular MDPs (cvxpy).

Every Markov policy ``π`` of a :class:`~mdpkit.TabularMDP` induces an occupancy measure
``q_h(s, a) = Pr^π(s_h = s, a_h = a)``, and the set of occupancy measures is exactly the polytope

.. math::

    q_h(s, a) \\ge 0, \\qquad \\sum_a q_0(s, a) = \\mu_0(s), \\qquad
    \\sum_a q_{h+1}(s', a) = \\sum_{s, a} P_h(s' \\mid s, a)\\, q_h(s, a),

on which the value ``V^π = Σ_{h,s,a} R_h(s, a) q_h(s, a)`` is *linear*. Hence

* :func:`solve_lp` -- ``max_q <R, q>`` over the polytope: the optimal value ``V*``;
* :func:`solve_constrained` -- ``max_q <R, q>`` s.t. ``<g, q> >= c``: a constrained MDP
  (one extra linear constraint; its optimum is attained by a mixture of at most two
  deterministic policies, Altman 1999, *Constrained Markov Decision Processes*, Thm 3.8);
* :func:`solve_conservative` -- the conservative-exploration special case ``g = R``,
  ``c = (1 - α) V^{π_b}`` (Wu et al. 2016, *Conservative Bandits*; Garcelon et al. 2020,
  *Conservative Exploration in Reinforcement Learning*).

A policy is read back from ``q`` by normalising per state: ``π_h(a | s) = q_h(s, a) / Σ_a' q_h(s, a')``.

The flow operator is assembled once as a ``scipy.sparse`` matrix (``H·S`` rows,
``H·S·A`` columns, ``O(H·nnz(P))`` non-zeros), so cvxpy sees one vectorised equality
constraint rather than one Python constraint per entry.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .._validation import as_float_array, check_finite, check_in_range, readonly
from ..mdp import TabularMDP, validate_policy
from .exact import evaluate, solve

#: Default cvxpy solver. Measured on random dense MDPs (first solve, build included): HiGHS
#: 0.2 s at (H, S, A) = (20, 50, 5) and 1.3 s at (30, 100, 5), value error vs backward induction
#: 0 (to printing precision); CLARABEL 0.6 s / 11 s with error 1e-8. HiGHS also returns vertex
#: (basic) solutions, hence deterministic policies wherever the optimum is unique.
DEFAULT_SOLVER = "HIGHS"

#: Options passed to a solver whenever it is used. HiGHS's presolve declared a feasible
#: constrained LP infeasible when the threshold was within ~1e-7 of the unconstrained optimum's
#: constraint value (a known class of HiGHS presolve issues, e.g. ERGO-Code/HiGHS#2511); without
#: presolve it solves correctly, and presolve gave no speed-up on these LPs (measured).
SOLVER_OPTIONS = {"HIGHS": {"presolve": "off"}}

#: A state whose occupancy mass ``Σ_a q_h(s, a)`` is at most this is treated as unreached
#: (its policy row is set to uniform). Interior-point solvers leave noise at the level of their
#: feasibility tolerance (1e-8) on unreachable states -- up to 4.6e-9 measured with CLARABEL on
#: 300 random instances -- and normalising noise would give an arbitrary row. Treating a state of
#: mass <= 1e-8 as unreached changes the policy's value by at most ``H * 1e-8``.
REACH_ATOL = 1e-8

_OK = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


class InfeasibleError(ValueError):
    """The constraint of a constrained MDP LP cannot be met by any policy."""


class LPSolverError(RuntimeError):
    """The LP solver failed (neither optimal nor a certificate of infeasibility)."""


@dataclass(frozen=True)
class LPSolution:
    """Solution of the occupancy-measure LP.

    Attributes
    ----------
    value : float
        Optimal LP objective ``Σ R_h(s, a) q_h(s, a)`` (as computed by the solver).
    occupancy : ndarray, shape (H, S, A)
        Optimal occupancy measure ``q`` as returned by the solver (read-only; may carry
        solver noise of order 1e-9, including tiny negative entries).
    policy : ndarray, shape (H, S, A)
        Stochastic Markov policy ``π_h(a|s) = q⁺_h(s, a) / Σ_a' q⁺_h(s, a')`` with
        ``q⁺ = max(q, 0)``; rows of states with mass ``<= REACH_ATOL`` (unreached under
        ``q``) are uniform -- any row would do there, since they do not affect the value.
    status : str
        cvxpy status (``"optimal"`` or ``"optimal_inaccurate"``).
    solver : str
        Name of the solver that produced the solution.
    """

    value: float
    occupancy: np.ndarray
    policy: np.ndarray
    status: str
    solver: str


@dataclass(frozen=True)
class ConstrainedLPSolution(LPSolution):
    """Solution of a constrained occupancy LP (``V^π_g >= c``).

    Attributes
    ----------
    constraint_value : float
        ``V^π_g`` of the returned ``policy``, evaluated exactly (backward induction), not
        read off the solver.
    constraint_threshold : float
        The threshold ``c``.
    constraint_dual : float
        Optimal dual variable ``λ >= 0`` of ``<g, q> >= c``: the shadow price
        ``-d(value)/dc``; zero (up to solver tolerance) when the constraint is slack.
    """

    constraint_value: float
    constraint_threshold: float
    constraint_dual: float


# ---------------------------------------------------------------------------- building blocks
def flow_matrix(mdp: TabularMDP) -> sp.csr_matrix:
    """Sparse flow operator ``M`` with ``M q = b`` the occupancy constraints.

    Parameters
    ----------
    mdp : TabularMDP

    Returns
    -------
    scipy.sparse.csr_matrix, shape (H * S, H * S * A)
        ``q`` is flattened in C order from shape (H, S, A). Block row ``h`` is
        ``E q_h - P_{h-1}^T q_{h-1}`` with ``E = I_S ⊗ 1_A^T`` summing over actions
        (no ``P`` block for ``h = 0``).
    """
    H, S, A = mdp.H, mdp.S, mdp.A
    sum_actions = sp.kron(sp.identity(S, format="csr"), np.ones((1, A)), format="csr")
    # inflow[h] maps q_h (S*A,) to the next-stage state distribution (S,); stored once when stationary.
    inflow = [-sp.csr_matrix(P_h.reshape(S * A, S).T) for P_h in mdp.P_stages]
    blocks = [[None] * H for _ in range(H)]
    for h in range(H):
        blocks[h][h] = sum_actions
        if h > 0:
            blocks[h][h - 1] = inflow[h - 1 if len(inflow) > 1 else 0]
    return sp.bmat(blocks, format="csr")


def _flow_rhs(mdp: TabularMDP) -> np.ndarray:
    """Right-hand side ``b``, shape (H * S,): ``mu0`` for stage 0, zeros after."""
    b = np.zeros(mdp.H * mdp.S)
    b[: mdp.S] = mdp.mu0
    return b


def occupancy_to_policy(occupancy: np.ndarray) -> np.ndarray:
    """Normalise an occupancy measure per state into a stochastic policy.

    Parameters
    ----------
    occupancy : ndarray, shape (H, S, A)

    Returns
    -------
    ndarray, shape (H, S, A)
        ``max(q, 0)`` normalised over actions; uniform where ``Σ_a max(q, 0) <= REACH_ATOL``.
    """
    q = np.maximum(occupancy, 0.0)  # solver noise only: the LP enforces q >= 0
    mass = q.sum(axis=-1, keepdims=True)
    reached = mass > REACH_ATOL
    uniform = np.full_like(q, 1.0 / q.shape[-1])
    return np.where(reached, q / np.where(reached, mass, 1.0), uniform)


def _check_solver_status(problem: cp.Problem, what: str) -> None:
    if problem.status in _INFEASIBLE:
        raise InfeasibleError(f"{what}: the solver reports the LP {problem.status}")
    if problem.status not in _OK:
        raise LPSolverError(f"{what}: solver returned status {problem.status!r}")
    if problem.status == cp.OPTIMAL_INACCURATE:
        warnings.warn(f"{what}: solver returned 'optimal_inaccurate'; check the result's accuracy",
                      stacklevel=3)


def _solve_occupancy_lp(mdp: TabularMDP, extra_reward: np.ndarray | None, threshold: float | None,
                        solver: str | None, what: str):
    """max <R, q> over occupancy measures, optionally with <extra_reward, q> >= threshold.

    Returns (problem, q array (H, S, A), dual of the extra constraint or None).
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    H, S, A = mdp.H, mdp.S, mdp.A
    q = cp.Variable(H * S * A, nonneg=True)
    constraints = [flow_matrix(mdp) @ q == _flow_rhs(mdp)]
    if extra_reward is not None:
        constraints.append(extra_reward.ravel() @ q >= threshold)
    problem = cp.Problem(cp.Maximize(mdp.R.ravel() @ q), constraints)
    if solver is not None and not isinstance(solver, str):
        raise ValueError(f"solver must be a cvxpy solver name (str) or None, got {solver!r}")
    solver = (solver or DEFAULT_SOLVER).upper()
    problem.solve(solver=solver, **SOLVER_OPTIONS.get(solver, {}))
    _check_solver_status(problem, what)
    dual = None if extra_reward is None else float(constraints[1].dual_value)
    return problem, np.asarray(q.value, dtype=np.float64).reshape(H, S, A), dual


# ---------------------------------------------------------------------------- public solvers
def solve_lp(mdp: TabularMDP, *, solver: str | None = None) -> LPSolution:
    """Optimal value and policy of a finite-horizon MDP via its occupancy-measure LP.

    Solves ``max_q Σ R_h(s,a) q_h(s,a)`` subject to ``q >= 0``,
    ``Σ_a q_0(s,a) = mu0(s)`` and ``Σ_a q_{h+1}(s',a) = Σ_{s,a} P_h(s'|s,a) q_h(s,a)``.
    The optimum equals ``mdpkit.solve(mdp).value`` (LP duality: the dual variables of the
    flow constraints are ``V_h``).

    Parameters
    ----------
    mdp : TabularMDP
    solver : str, optional
        Any cvxpy LP solver name; defaults to :data:`DEFAULT_SOLVER`.

    Returns
    -------
    LPSolution

    Raises
    ------
    LPSolverError
        If the solver fails.
    """
    problem, q, _ = _solve_occupancy_lp(mdp, None, None, solver, "solve_lp")
    return LPSolution(
        value=float(problem.value), occupancy=readonly(q), policy=readonly(occupancy_to_policy(q)),
        status=problem.status, solver=problem.solver_stats.solver_name,
    )


def _validate_threshold(name: str, c) -> float:
    if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {c!r}")
    c = float(c)
    check_finite(name, np.asarray(c))
    return c


def solve_constrained(mdp: TabularMDP, g, c, *, solver: str | None = None) -> ConstrainedLPSolution:
    """Constrained MDP: maximise ``V^π_R`` subject to ``V^π_g >= c``.

    Feasibility is decided exactly before calling the solver: the LP is feasible iff
    ``c <= max_π V^π_g``, and that maximum is computed by backward induction on ``g``.

    Parameters
    ----------
    mdp : TabularMDP
        Supplies ``P``, ``mu0`` and the objective reward ``R``.
    g : array_like, shape (H, S, A)
        Constraint reward in ``[0, 1]``.
    c : float
        Threshold on ``V^π_g``.
    solver : str, optional
        cvxpy solver name; defaults to :data:`DEFAULT_SOLVER`.

    Returns
    -------
    ConstrainedLPSolution
        ``constraint_value`` is ``V^π_g`` of the returned policy (exact evaluation) and
        ``constraint_dual`` the multiplier of the constraint.

    Raises
    ------
    ValueError
        If ``g`` has the wrong shape, a non-finite entry or an entry outside ``[0, 1]``
        (naming the first one), or ``c`` is not a finite real number.
    InfeasibleError
        If ``c > max_π V^π_g``.
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    axes = ("h", "s", "a")
    g = as_float_array("g", g, shape=(mdp.H, mdp.S, mdp.A), axis_names=axes)
    check_in_range("g", g, 0.0, 1.0, axes)
    c = _validate_threshold("c", c)
    g_mdp = mdp.with_rewards(g)
    best_g = solve(g_mdp).value
    if c > best_g:
        raise InfeasibleError(f"c = {c!r} exceeds the largest achievable constraint value "
                              f"max_pi V^pi_g = {best_g!r}: no policy satisfies V^pi_g >= c")
    return _constrained_solution(mdp, g_mdp, c, solver, "solve_constrained")


def _constrained_solution(mdp, g_mdp, c, solver, what) -> ConstrainedLPSolution:
    problem, q, dual = _solve_occupancy_lp(mdp, g_mdp.R, c, solver, what)
    policy = occupancy_to_policy(q)
    return ConstrainedLPSolution(
        value=float(problem.value), occupancy=readonly(q), policy=readonly(policy),
        status=problem.status, solver=problem.solver_stats.solver_name,
        constraint_value=float(evaluate(g_mdp, policy).value), constraint_threshold=c,
        constraint_dual=dual,
    )


def solve_conservative(mdp: TabularMDP, baseline_policy, alpha: float, *,
                       solver: str | None = None) -> ConstrainedLPSolution:
    """Best policy that loses at most a fraction ``alpha`` of a baseline's value.

    Maximises ``V^π`` subject to ``V^π >= (1 - alpha) V^{π_b}``, both for the reward ``mdp.R``
    and the dynamics of ``mdp``. Always feasible (``π_b`` itself satisfies the constraint).

    Note that on a single model the constraint never excludes the optimum --
    ``V* >= V^{π_b} >= (1-alpha) V^{π_b}`` as rewards are non-negative -- so the value is ``V*``, with
    the constraint's threshold, achieved value and multiplier recorded. Conservative-exploration algorithms constrain a
    *planning* model (e.g. an optimistic estimate) against the baseline's value under the true
    model; they call :func:`solve_constrained` with ``g = R`` and that threshold directly.

    Parameters
    ----------
    mdp : TabularMDP
    baseline_policy : array_like, shape (H, S) int or (H, S, A) stochastic
        The baseline ``π_b``.
    alpha : float
        Allowed relative loss, in ``[0, 1]``.
    solver : str, optional

    Returns
    -------
    ConstrainedLPSolution
        With ``constraint_threshold = (1 - alpha) V^{π_b}`` and ``constraint_value = V^π``
        (exact evaluation of the returned policy).
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    baseline = validate_policy(baseline_policy, mdp.H, mdp.S, mdp.A, name="baseline_policy")
    alpha = _validate_threshold("alpha", alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha = {alpha!r} is outside [0, 1]")
    threshold = (1.0 - alpha) * evaluate(mdp, baseline).value
    return _constrained_solution(mdp, mdp, threshold, solver, "solve_conservative")
