"""Tests for mdpkit.solvers.lp: occupancy-measure LPs (plain, constrained, conservative)."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit import TabularMDP, evaluate, solve
from mdpkit.solvers import lp
from mdpkit.solvers.lp import (
    ConstrainedLPSolution,
    InfeasibleError,
    LPSolution,
    flow_matrix,
    solve_conservative,
    solve_constrained,
    solve_lp,
)

# Acceptance tolerance on values (values are at most H <= 4): the brief's 1e-6; HiGHS typically
# achieves ~1e-12 (measured), so this leaves room without hiding real errors (a wrong action at a
# reached state changes the value by far more on these random instances).
TOL = 1e-6

# Every solver name accepted by solve_lp: HiGHS's default choice, dual simplex, interior point.
SOLVER_NAMES = ["HIGHS", "HIGHS-DS", "HIGHS-IPM"]


def random_mdp(rng, H, S, A, *, stationary, point_start):
    """Random TabularMDP with some exactly-zero transitions (hence possibly unreached states)."""
    n_stages = 1 if stationary else H
    P = rng.dirichlet(np.full(S, 0.5), size=(n_stages, S, A))
    mask = rng.random(P.shape) < 0.4
    # keep each row's largest entry so every row stays a distribution after masking
    np.put_along_axis(mask, P.argmax(axis=-1)[..., None], False, axis=-1)
    P[mask] = 0.0
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.uniform(size=(H, S, A))
    mu0 = int(rng.integers(S)) if point_start else rng.dirichlet(np.ones(S))
    if stationary:
        return TabularMDP.stationary(P[0], R, H, mu0)
    return TabularMDP(P, R, mu0)


@st.composite
def mdps(draw, max_H=4, max_S=5, max_A=3):
    H = draw(st.integers(1, max_H))
    S = draw(st.integers(1, max_S))
    A = draw(st.integers(1, max_A))
    stationary = draw(st.booleans())
    point_start = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    return random_mdp(rng, H, S, A, stationary=stationary, point_start=point_start), rng


def constraint_reward(mdp, rng):
    return rng.uniform(size=(mdp.H, mdp.S, mdp.A))


def flow_matrix_reference(mdp):
    """Entry-by-entry loop construction of the flow operator (dense)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    P = np.asarray(mdp.P)
    M = np.zeros((H * S, H * S * A))
    col = lambda h, s, a: (h * S + s) * A + a  # noqa: E731
    for h in range(H):
        for s in range(S):
            for a in range(A):
                M[h * S + s, col(h, s, a)] += 1.0
                if h + 1 < H:
                    for t in range(S):
                        M[(h + 1) * S + t, col(h, s, a)] -= P[h, s, a, t]
    return M


# ------------------------------------------------------------------ building blocks
@given(mdps())
def test_flow_matrix_matches_loop_reference(drawn):
    mdp, _ = drawn
    np.testing.assert_array_equal(flow_matrix(mdp).toarray(), flow_matrix_reference(mdp))


def test_occupancy_to_policy_uniform_on_unreached_states():
    q = np.array([[[0.2, 0.6], [0.0, 0.0]], [[-1e-12, 0.5], [3e-11, 0.0]]])
    pi = lp.occupancy_to_policy(q)
    np.testing.assert_allclose(pi, [[[0.25, 0.75], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])


# ------------------------------------------------------------------ solve_lp
@pytest.mark.parametrize("solver", SOLVER_NAMES)
@given(drawn=mdps())
def test_lp_value_equals_backward_induction_and_policy_achieves_it(drawn, solver):
    mdp, _ = drawn
    sol = solve_lp(mdp, solver=solver)
    assert isinstance(sol, LPSolution) and sol.status == "optimal" and sol.solver == solver
    assert sol.occupancy.shape == sol.policy.shape == (mdp.H, mdp.S, mdp.A)
    assert sol.value == pytest.approx(solve(mdp).value, abs=TOL)
    assert evaluate(mdp, sol.policy).value == pytest.approx(sol.value, abs=TOL)
    np.testing.assert_allclose(sol.policy.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(sol.policy >= 0)
    # the occupancy satisfies the flow constraints it was asked to satisfy
    b = np.concatenate([mdp.mu0, np.zeros((mdp.H - 1) * mdp.S)])
    np.testing.assert_allclose(flow_matrix(mdp) @ sol.occupancy.ravel(), b, rtol=0, atol=1e-7)
    # states the start distribution never visits get the documented uniform row
    np.testing.assert_array_equal(sol.policy[0][mdp.mu0 == 0], 1.0 / mdp.A)


def test_lp_medium_instance_matches_backward_induction():
    rng = np.random.default_rng(np.random.SeedSequence(2024))
    H, S, A = 20, 50, 5
    mdp = TabularMDP(rng.dirichlet(np.ones(S), size=(H, S, A)), rng.uniform(size=(H, S, A)),
                     rng.dirichlet(np.ones(S)))
    sol = solve_lp(mdp)
    assert sol.value == pytest.approx(solve(mdp).value, abs=TOL)
    assert evaluate(mdp, sol.policy).value == pytest.approx(sol.value, abs=TOL)


def test_lp_rejects_non_mdp_and_bad_solver():
    with pytest.raises(ValueError, match="mdp must be a TabularMDP"):
        solve_lp(np.zeros((1, 2, 2, 2)))
    mdp = TabularMDP(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1)), 0)
    for bad in (3, "NOPE", "CLARABEL", ""):
        with pytest.raises(ValueError, match=r"^solver must be None or one of 'HIGHS', 'HIGHS-DS', "
                                             r"'HIGHS-IPM' \(case-insensitive\), got"):
            solve_lp(mdp, solver=bad)
    g = np.ones((1, 1, 1))
    with pytest.raises(ValueError, match="solver must be"):
        solve_constrained(mdp, g, 0.5, solver="NOPE")
    with pytest.raises(ValueError, match="solver must be"):
        solve_conservative(mdp, np.zeros((1, 1), int), 0.1, solver="NOPE")
    assert solve_lp(mdp, solver="highs-ipm").solver == "HIGHS-IPM"
    assert solve_lp(mdp).solver == lp.DEFAULT_SOLVER == "HIGHS"


def test_lp_prints_nothing(capfd):
    rng = np.random.default_rng(np.random.SeedSequence(3))
    mdp = random_mdp(rng, 3, 4, 2, stationary=True, point_start=False)
    solve_lp(mdp)
    solve_constrained(mdp, constraint_reward(mdp, rng), 0.0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@given(mdps())
def test_flow_matrix_stores_only_nonzero_transitions(drawn):
    mdp, _ = drawn
    M = flow_matrix(mdp)
    nnz_P = sum(np.count_nonzero(mdp.P[h]) for h in range(mdp.H - 1))
    assert M.nnz == mdp.H * mdp.S * mdp.A + nnz_P
    assert np.all(M.data != 0)


def test_occupancy_problem_composes_with_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(np.random.SeedSequence(12))
    mdp = random_mdp(rng, 3, 4, 2, stationary=False, point_start=False)
    q, constraints = lp.occupancy_problem(mdp)
    assert q.shape == (mdp.H * mdp.S * mdp.A,)
    problem = cp.Problem(cp.Maximize(mdp.R.ravel() @ q), constraints)
    problem.solve(solver="CLARABEL")
    assert problem.value == pytest.approx(solve(mdp).value, abs=TOL)
    # a user-composed constraint: the same constrained MDP as solve_constrained
    g = constraint_reward(mdp, rng)
    g_mdp = mdp.with_rewards(g)
    c = 0.5 * (evaluate(g_mdp, solve(mdp).policy).value + solve(g_mdp).value)
    problem = cp.Problem(cp.Maximize(mdp.R.ravel() @ q), constraints + [g.ravel() @ q >= c])
    problem.solve(solver="CLARABEL")
    assert problem.value == pytest.approx(solve_constrained(mdp, g, c).value, abs=TOL)


# ------------------------------------------------------------------ solve_constrained
@given(mdps(), st.floats(0.0, 1.0))
def test_constrained_feasible_and_no_better_than_unconstrained(drawn, frac):
    mdp, rng = drawn
    g = constraint_reward(mdp, rng)
    g_mdp = mdp.with_rewards(g)
    unconstrained = solve(mdp)
    # thresholds between V_g of an unconstrained optimum (slack) and max V_g (tightest feasible)
    lo, hi = evaluate(g_mdp, unconstrained.policy).value, solve(g_mdp).value
    c = lo + frac * (hi - lo)
    sol = solve_constrained(mdp, g, c)
    assert isinstance(sol, ConstrainedLPSolution) and sol.constraint_threshold == c
    assert sol.constraint_value >= c - TOL
    assert sol.constraint_value == pytest.approx(evaluate(g_mdp, sol.policy).value, abs=1e-12)
    assert sol.value <= unconstrained.value + TOL
    assert evaluate(mdp, sol.policy).value == pytest.approx(sol.value, abs=TOL)
    assert sol.constraint_dual >= -TOL


@given(mdps(), st.floats(0.01, 1.0))
def test_constrained_equals_unconstrained_when_slack(drawn, margin):
    mdp, rng = drawn
    g = constraint_reward(mdp, rng)
    unconstrained = solve(mdp)
    c = evaluate(mdp.with_rewards(g), unconstrained.policy).value - margin  # strictly slack
    sol = solve_constrained(mdp, g, c)
    assert sol.value == pytest.approx(unconstrained.value, abs=TOL)
    # complementary slackness: a strictly slack constraint at some optimum has multiplier 0
    assert sol.constraint_dual == pytest.approx(0.0, abs=TOL)


def _deterministic_policy_values(mdp, g_mdp):
    """(V_R, V_g) of every deterministic Markov policy, shape (A**(H*S),) each."""
    H, S, A = mdp.H, mdp.S, mdp.A
    vr, vg = [], []
    for actions in itertools.product(range(A), repeat=H * S):
        pi = np.array(actions).reshape(H, S)
        vr.append(evaluate(mdp, pi).value)
        vg.append(evaluate(g_mdp, pi).value)
    return np.array(vr), np.array(vg)


def _best_two_policy_mixture(vr, vg, c):
    """max over i, j, lam in [0,1] of lam*vr_i + (1-lam)*vr_j subject to lam*vg_i + (1-lam)*vg_j >= c."""
    ri, rj = vr[:, None], vr[None, :]
    gi, gj = vg[:, None], vg[None, :]
    # feasible lam form an interval of [0, 1]; a linear objective peaks at one of its ends
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.clip((c - gj) / (gi - gj), 0.0, 1.0)
    best = -np.inf
    for lam in (np.zeros_like(ri + rj), np.ones_like(ri + rj), np.nan_to_num(crossing)):
        value = lam * ri + (1 - lam) * rj
        feasible = lam * gi + (1 - lam) * gj >= c - 1e-12
        best = max(best, np.max(np.where(feasible, value, -np.inf)))
    return best


@given(mdps(max_H=2, max_S=3, max_A=2), st.floats(0.0, 1.0))
def test_constrained_matches_brute_force_on_tiny_instances(drawn, frac):
    mdp, rng = drawn
    g = constraint_reward(mdp, rng)
    g_mdp = mdp.with_rewards(g)
    vr, vg = _deterministic_policy_values(mdp, g_mdp)
    c = vg.min() + frac * (vg.max() - vg.min())
    sol = solve_constrained(mdp, g, c)
    best_deterministic = vr[vg >= c].max()
    assert sol.value >= best_deterministic - TOL
    # Altman (1999, Thm 3.8): one constraint -> some optimum mixes at most two deterministic policies
    assert sol.value == pytest.approx(_best_two_policy_mixture(vr, vg, c), abs=TOL)


def test_constrained_at_the_largest_feasible_threshold():
    rng = np.random.default_rng(np.random.SeedSequence(11))
    mdp = random_mdp(rng, 4, 5, 3, stationary=False, point_start=True)
    g = constraint_reward(mdp, rng)
    c = solve(mdp.with_rewards(g)).value  # only g-optimal policies are feasible
    for solver in SOLVER_NAMES:
        sol = solve_constrained(mdp, g, c, solver=solver)
        assert sol.constraint_value >= c - TOL


def test_constrained_threshold_just_above_unconstrained_constraint_value():
    # Regression: HiGHS with presolve reported this feasible LP (margin 6e-9) infeasible.
    R = np.array([[[0.29971189, 0.42268722]], [[0.02831967, 0.12428328]], [[0.67062441, 0.64718951]]])
    g = np.array([[[0.61538511, 0.38367755]], [[0.99720994, 0.98083534]], [[0.68554198, 0.65045928]]])
    mdp = TabularMDP(np.ones((3, 1, 2, 1)), R, 0)
    g_mdp = mdp.with_rewards(g)
    lo, hi = evaluate(g_mdp, solve(mdp).policy).value, solve(g_mdp).value
    # With HiGHS's default feasibility tolerance (1e-7) the returned policy violated the constraint
    # by 6e-9 to 2.5e-8 at these thresholds; lp.FEASIBILITY_TOLERANCE = 1e-10 makes it hold to rounding.
    for frac in (1e-9, 2.5e-8, 1e-7):
        c = lo + frac * (hi - lo)
        for solver in SOLVER_NAMES:
            sol = solve_constrained(mdp, g, c, solver=solver)
            assert sol.constraint_value >= c - 1e-12
            assert sol.value == pytest.approx(solve(mdp).value, abs=TOL)
    assert solve_constrained(mdp, g, c).solver == lp.DEFAULT_CONSTRAINED_SOLVER == "HIGHS-IPM"


def test_infeasible_constraint_raises():
    rng = np.random.default_rng(np.random.SeedSequence(5))
    mdp = random_mdp(rng, 3, 4, 2, stationary=True, point_start=False)
    g = constraint_reward(mdp, rng)
    best = solve(mdp.with_rewards(g)).value
    with pytest.raises(InfeasibleError, match="exceeds the largest achievable"):
        solve_constrained(mdp, g, best + 1e-6)
    assert issubclass(InfeasibleError, ValueError)
    # the solver-status path (bypassing the exact pre-check) reports infeasibility too
    with pytest.raises(InfeasibleError, match="infeasible"):
        lp._solve_occupancy_lp(mdp, g, best + 0.1, None, "test")


def test_malformed_g_and_c_raise_naming_the_argument():
    rng = np.random.default_rng(np.random.SeedSequence(6))
    mdp = random_mdp(rng, 2, 3, 2, stationary=False, point_start=True)
    g = constraint_reward(mdp, rng)
    with pytest.raises(ValueError, match=r"g must have shape \(2, 3, 2\)"):
        solve_constrained(mdp, g[0], 0.1)
    bad = g.copy()
    bad[1, 2, 0] = 1.5
    with pytest.raises(ValueError, match=r"g\[h=1, s=2, a=0\] = 1.5 is outside \[0.0, 1.0\]"):
        solve_constrained(mdp, bad, 0.1)
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"g\[h=1, s=2, a=0\] = nan is not finite"):
        solve_constrained(mdp, bad, 0.1)
    for c in (np.nan, np.inf, "0.1", None, True):
        with pytest.raises(ValueError, match=r"^c "):
            solve_constrained(mdp, g, c)


# ------------------------------------------------------------------ solve_conservative
@given(mdps(), st.floats(0.0, 1.0))
def test_conservative(drawn, alpha):
    mdp, rng = drawn
    baseline = rng.integers(mdp.A, size=(mdp.H, mdp.S))
    sol = solve_conservative(mdp, baseline, alpha)
    assert sol.constraint_threshold == pytest.approx((1 - alpha) * evaluate(mdp, baseline).value, abs=1e-12)
    assert sol.constraint_value >= sol.constraint_threshold - TOL
    # same reward in objective and constraint: V* >= V^baseline >= threshold, so the optimum is V*
    assert sol.value == pytest.approx(solve(mdp).value, abs=TOL)


def test_conservative_rejects_bad_arguments():
    rng = np.random.default_rng(np.random.SeedSequence(8))
    mdp = random_mdp(rng, 2, 3, 2, stationary=True, point_start=True)
    with pytest.raises(ValueError, match="alpha"):
        solve_conservative(mdp, np.zeros((2, 3), int), 1.5)
    with pytest.raises(ValueError, match="alpha"):
        solve_conservative(mdp, np.zeros((2, 3), int), np.nan)
    with pytest.raises(ValueError, match=r"baseline_policy\[h=0, s=1\] = 2 is not in \[0, 2\)"):
        solve_conservative(mdp, np.array([[0, 2, 0], [0, 0, 0]]), 0.1)


def test_results_are_frozen_and_read_only():
    rng = np.random.default_rng(np.random.SeedSequence(9))
    sol = solve_lp(random_mdp(rng, 2, 2, 2, stationary=True, point_start=True))
    with pytest.raises(AttributeError):
        sol.value = 0.0
    with pytest.raises(ValueError):
        sol.policy[0, 0, 0] = 1.0


@pytest.mark.parametrize("seed", range(3))
def test_constraint_dual_is_the_shadow_price(seed):
    # V(c) is concave and piecewise linear in c; away from its kinks -dV/dc is the multiplier.
    rng = np.random.default_rng(np.random.SeedSequence(100 + seed))
    mdp = random_mdp(rng, 3, 4, 2, stationary=False, point_start=False)
    g = constraint_reward(mdp, rng)
    g_mdp = mdp.with_rewards(g)
    lo, hi = evaluate(g_mdp, solve(mdp).policy).value, solve(g_mdp).value
    c, step = lo + 0.5 * (hi - lo), 1e-6 * (hi - lo)
    sol = solve_constrained(mdp, g, c)
    slope = (solve_constrained(mdp, g, c + step).value - solve_constrained(mdp, g, c - step).value) / (2 * step)
    assert sol.constraint_dual > 0
    assert sol.constraint_dual == pytest.approx(-slope, rel=1e-4)


def test_presolve_infeasibility_verdict_is_rechecked_without_presolve(monkeypatch):
    # HiGHS's presolve has wrongly declared near-tight constrained LPs infeasible; such a verdict must
    # be re-checked with presolve off rather than reported.
    rng = np.random.default_rng(np.random.SeedSequence(13))
    mdp = random_mdp(rng, 3, 4, 2, stationary=False, point_start=False)
    g = constraint_reward(mdp, rng)
    c = 0.5 * (evaluate(mdp.with_rewards(g), solve(mdp).policy).value + solve(mdp.with_rewards(g)).value)
    expected = solve_constrained(mdp, g, c).value
    real, presolve_flags = lp.linprog_highs, []

    def presolve_says_infeasible(*args, presolve=True, **kwargs):
        presolve_flags.append(presolve)
        if presolve:
            raise InfeasibleError("presolve: infeasible")
        return real(*args, presolve=presolve, **kwargs)

    monkeypatch.setattr(lp, "linprog_highs", presolve_says_infeasible)
    assert solve_constrained(mdp, g, c).value == pytest.approx(expected, abs=TOL)
    assert presolve_flags == [True, False]
    with pytest.raises(InfeasibleError):  # the unconstrained LP is never re-solved
        solve_lp(mdp)
