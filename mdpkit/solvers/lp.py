"""Occupancy-measure linear programs for finite-horizon tabular MDPs (sparse, HiGHS).

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
  *Conservative Exploration in Reinforcement Learning*);
* :func:`occupancy_problem` -- the polytope as cvxpy objects, for composing your own
  constraints and objectives (imports cvxpy on call; ``pip install cvxpy``).

A policy is read back from ``q`` by normalising per state: ``π_h(a | s) = q_h(s, a) / Σ_a' q_h(s, a')``.

The flow operator is assembled directly as a ``scipy.sparse`` matrix (``H·S`` rows,
``H·S·A`` columns, ``H·S·A + (H-1)·nnz(P_h)`` non-zeros) and handed to HiGHS through
``scipy.optimize.linprog`` -- no modelling layer in between. With presolve on, HiGHS
solves the unconstrained occupancy LP in presolve (0 simplex iterations, measured): the
flow constraints are triangular in the stages, so presolve eliminates them stage by stage.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import as_float_array, check_finite, check_in_range, readonly
from ..mdp import TabularMDP, validate_policy
from .exact import evaluate, solve

#: LP solvers accepted by ``solver=``: HiGHS's choice of method (``"HIGHS"``, the default), its dual
#: simplex (``"HIGHS-DS"``) or its interior-point method with crossover (``"HIGHS-IPM"``), mapped to
#: ``scipy.optimize.linprog`` methods. Names are case-insensitive. All three return vertex (basic)
#: solutions, hence deterministic policies wherever the optimum is unique.
SOLVERS = {"HIGHS": "highs", "HIGHS-DS": "highs-ds", "HIGHS-IPM": "highs-ipm"}

#: Default solver of :func:`solve_lp`: HiGHS's presolve solves the unconstrained occupancy LP outright.
DEFAULT_SOLVER = "HIGHS"

#: Default solver of the constrained LPs (:func:`solve_constrained`, :func:`solve_conservative`): the
#: extra constraint couples all stages, so presolve no longer solves them, and the interior-point
#: method (with crossover to a vertex) was 2-4x faster than the simplex: (S, A) = (64, 4), 3
#: successors, H = 30: 1.2-2.7 s vs 4.9-9.6 s; H = 200: 45 s vs 102-467 s (measured, loaded machine).
DEFAULT_CONSTRAINED_SOLVER = "HIGHS-IPM"

#: HiGHS's primal and dual feasibility tolerances (its smallest allowed value; default 1e-7). With the
#: default, a constrained LP whose threshold was within 1e-7 of the unconstrained optimum's constraint
#: value came back with the constraint violated by 2.5e-8; at 1e-10 it holds to rounding (measured).
FEASIBILITY_TOLERANCE = 1e-10

#: A state whose occupancy mass ``Σ_a q_h(s, a)`` is at most this is treated as unreached
#: (its policy row is set to uniform). Solvers leave noise at the level of their feasibility
#: tolerance (1e-8 for an interior-point method without crossover; up to 4.6e-9 measured on 300
#: random instances) on unreachable states, and normalising noise would give an arbitrary row.
#: Treating a state of mass <= 1e-8 as unreached changes the policy's value by at most ``H * 1e-8``.
REACH_ATOL = 1e-8

# scipy.optimize.linprog status codes.
_LINPROG_OPTIMAL, _LINPROG_INFEASIBLE, _LINPROG_UNBOUNDED = 0, 2, 3


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
        ``"optimal"`` (anything else raises).
    solver : str
        Name of the solver that produced the solution (a key of :data:`SOLVERS`).
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
        (no ``P`` block for ``h = 0``). Only the non-zero transitions are stored.
    """
    H, S, A = mdp.H, mdp.S, mdp.A
    # E blocks: column (h, s, a) has a 1 in row (h, s).
    sum_rows = np.repeat(np.arange(H * S), A)
    sum_cols = np.arange(H * S * A)
    # Inflow blocks: column (h - 1, s, a) has -P_{h-1}(t | s, a) in row (h, t), for h = 1..H-1.
    P_stages = mdp.P_stages
    if P_stages.shape[0] == 1:  # stationary: one pattern, shifted by one stage each time
        s, a, t = np.nonzero(P_stages[0])
        prev = np.arange(H - 1)[:, None]
        in_rows = ((prev + 1) * S + t[None, :]).ravel()
        in_cols = ((prev * S + s[None, :]) * A + a[None, :]).ravel()
        in_data = np.tile(-P_stages[0][s, a, t], H - 1)
    else:
        g, s, a, t = np.nonzero(P_stages[: H - 1])
        in_rows = (g + 1) * S + t
        in_cols = (g * S + s) * A + a
        in_data = -P_stages[g, s, a, t]
    rows = np.concatenate([sum_rows, in_rows])
    cols = np.concatenate([sum_cols, in_cols])
    data = np.concatenate([np.ones(H * S * A), in_data])
    # (row, column) pairs are distinct (the E and inflow blocks of a row use different stages'
    # columns), so no entries are summed.
    return sp.csr_matrix((data, (rows, cols)), shape=(H * S, H * S * A))


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


def check_solver(solver, default: str = DEFAULT_SOLVER) -> str:
    """Canonical solver name (a key of :data:`SOLVERS`); ``None`` means ``default``.

    Raises
    ------
    ValueError
        Naming ``solver`` and the allowed values.
    """
    if solver is None:
        return default
    if not isinstance(solver, str) or solver.upper() not in SOLVERS:
        raise ValueError(f"solver must be None or one of {', '.join(map(repr, SOLVERS))} "
                         f"(case-insensitive), got {solver!r}")
    return solver.upper()


def linprog_highs(c, *, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds, solver: str,
                  what: str, presolve: bool = True):
    """``min c^T x`` with HiGHS via ``scipy.optimize.linprog``; returns the optimal result.

    scipy.optimize is imported here, on first use, not when mdpkit is imported.

    Raises
    ------
    InfeasibleError
        If HiGHS reports the LP infeasible.
    LPSolverError
        If it reports anything else than optimal (unbounded, iteration limit, numerical trouble).
    """
    from scipy.optimize import linprog

    options = {"presolve": presolve, "primal_feasibility_tolerance": FEASIBILITY_TOLERANCE,
               "dual_feasibility_tolerance": FEASIBILITY_TOLERANCE}
    result = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                     method=SOLVERS[solver], options=options)
    if result.status == _LINPROG_INFEASIBLE:
        raise InfeasibleError(f"{what}: the solver reports the LP infeasible ({result.message})")
    if result.status == _LINPROG_UNBOUNDED:
        raise LPSolverError(f"{what}: the solver reports the LP unbounded ({result.message})")
    if result.status != _LINPROG_OPTIMAL:
        raise LPSolverError(f"{what}: solver returned status {result.status} ({result.message})")
    return result


def _solve_occupancy_lp(mdp: TabularMDP, extra_reward: np.ndarray | None, threshold: float | None,
                        solver: str | None, what: str):
    """max <R, q> over occupancy measures, optionally with <extra_reward, q> >= threshold.

    Returns (value, q array (H, S, A), dual of the extra constraint or None, solver name).
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    solver = check_solver(solver, DEFAULT_SOLVER if extra_reward is None else DEFAULT_CONSTRAINED_SOLVER)
    H, S, A = mdp.H, mdp.S, mdp.A
    # infeasible actions (mdp.feasible) get no occupancy
    bounds = (0.0, None) if mdp.feasible is None else np.where(mdp.feasible.ravel()[:, None], [0.0, np.inf], 0.0)
    problem = dict(c=-mdp.R.ravel(), A_eq=flow_matrix(mdp), b_eq=_flow_rhs(mdp), bounds=bounds,
                   solver=solver, what=what)
    if extra_reward is not None:
        # <g, q> >= c written as -<g, q> <= -c.
        problem.update(A_ub=-extra_reward.reshape(1, -1), b_ub=np.array([-threshold]))
    try:
        result = linprog_highs(**problem)
    except InfeasibleError:
        if extra_reward is None:
            raise
        # HiGHS's presolve has declared feasible constrained LPs infeasible when the threshold was
        # within ~1e-7 of the unconstrained optimum's constraint value (a known class of presolve
        # issues, e.g. ERGO-Code/HiGHS#2511): an infeasibility verdict is re-checked without it.
        result = linprog_highs(**problem, presolve=False)
    # linprog minimises f = -<R, q> s.t. -<g, q> <= b = -c; its marginal is m = df/db <= 0. With
    # value = -f: d(value)/dc = m, so the multiplier lambda = -d(value)/dc = -m >= 0.
    dual = None if extra_reward is None else float(-result.ineqlin.marginals[0])
    q = np.asarray(result.x, dtype=np.float64).reshape(H, S, A)
    return float(-result.fun), q, dual, solver


def occupancy_problem(mdp: TabularMDP):
    """The occupancy polytope as cvxpy objects, to compose your own constraints and objectives.

    Parameters
    ----------
    mdp : TabularMDP

    Returns
    -------
    q : cvxpy.Variable, shape (H * S * A,)
        The occupancy measure flattened in C order from shape (H, S, A), ``nonneg=True``.
    constraints : list of cvxpy constraints
        The flow constraints ``flow_matrix(mdp) @ q == b``.

    Examples
    --------
    >>> q, constraints = occupancy_problem(mdp)                                 # doctest: +SKIP
    >>> cp.Problem(cp.Maximize(mdp.R.ravel() @ q), constraints + [...]).solve()  # doctest: +SKIP

    Notes
    -----
    cvxpy is imported on call (it is an optional dependency: ``pip install cvxpy``); the solvers
    of this module do not use it.
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    try:
        import cvxpy as cp
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("occupancy_problem needs cvxpy (pip install cvxpy)") from error
    q = cp.Variable(mdp.H * mdp.S * mdp.A, nonneg=True)
    return q, [flow_matrix(mdp) @ q == _flow_rhs(mdp)]


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
        A key of :data:`SOLVERS` (case-insensitive); defaults to :data:`DEFAULT_SOLVER`.

    Returns
    -------
    LPSolution

    Raises
    ------
    ValueError
        If ``mdp`` is not a TabularMDP or ``solver`` is not one of :data:`SOLVERS`.
    LPSolverError
        If the solver fails.
    """
    value, q, _, solver = _solve_occupancy_lp(mdp, None, None, solver, "solve_lp")
    return LPSolution(value=value, occupancy=readonly(q), policy=readonly(occupancy_to_policy(q)),
                      status="optimal", solver=solver)


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
        A key of :data:`SOLVERS`; defaults to :data:`DEFAULT_CONSTRAINED_SOLVER`.

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
    solver = check_solver(solver, DEFAULT_CONSTRAINED_SOLVER)
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
    value, q, dual, solver = _solve_occupancy_lp(mdp, g_mdp.R, c, solver, what)
    policy = occupancy_to_policy(q)
    return ConstrainedLPSolution(
        value=value, occupancy=readonly(q), policy=readonly(policy), status="optimal", solver=solver,
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
        A key of :data:`SOLVERS`; defaults to :data:`DEFAULT_CONSTRAINED_SOLVER`.

    Returns
    -------
    ConstrainedLPSolution
        With ``constraint_threshold = (1 - alpha) V^{π_b}`` and ``constraint_value = V^π``
        (exact evaluation of the returned policy).
    """
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
    solver = check_solver(solver, DEFAULT_CONSTRAINED_SOLVER)
    baseline = validate_policy(baseline_policy, mdp.H, mdp.S, mdp.A, name="baseline_policy")
    alpha = _validate_threshold("alpha", alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha = {alpha!r} is outside [0, 1]")
    threshold = (1.0 - alpha) * evaluate(mdp, baseline).value
    return _constrained_solution(mdp, mdp, threshold, solver, "solve_conservative")
