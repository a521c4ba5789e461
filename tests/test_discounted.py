"""Tests for mdpkit.solvers.discounted: value iteration, policy iteration, Bellman operator."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit import TabularMDP
from mdpkit.solvers import discounted
from mdpkit.solvers.discounted import (
    DiscountedSolution,
    bellman_optimality_operator,
    policy_iteration,
    value_iteration,
)

# Floating-point slack for comparisons against bounds that hold in exact arithmetic: V* itself
# comes from a linear solve, and values here are at most max|R|/(1-gamma) <= 3/(1-0.99) = 300,
# so rounding is ~1e-13; 1e-10 is far below every bound being tested (>= 1e-8 typically).
ROUND = 1e-10


@st.composite
def discounted_models(draw, max_S=6, max_A=4, max_gamma=0.99):
    """Random (P (S,A,S), R (S,A), gamma) with some exactly-zero transitions."""
    S = draw(st.integers(1, max_S))
    A = draw(st.integers(1, max_A))
    gamma = draw(st.one_of(st.just(0.0), st.floats(0.0, max_gamma)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    # zero some transitions (keeping each row's largest entry) so sparse structure is exercised
    mask = rng.random((S, A, S)) < 0.3
    mask[np.arange(S)[:, None], np.arange(A)[None, :], P.argmax(axis=2)] = False
    P[mask] = 0.0
    P /= P.sum(axis=2, keepdims=True)
    R = rng.uniform(-3.0, 3.0, size=(S, A))
    return P, R, gamma


def exact_value(P, R, gamma, policy):
    """V^π for a deterministic stationary policy by a direct linear solve."""
    S = P.shape[0]
    P_pi, R_pi = P[np.arange(S), policy], R[np.arange(S), policy]
    return np.linalg.solve(np.eye(S) - gamma * P_pi, R_pi)


def bellman_reference(P, R, gamma, V):
    """Plain-loop reference for the Bellman optimality operator."""
    S, A, _ = P.shape
    Q = np.empty((S, A))
    for s in range(S):
        for a in range(A):
            Q[s, a] = R[s, a] + gamma * sum(P[s, a, t] * V[t] for t in range(S))
    return np.array([max(Q[s]) for s in range(S)]), Q


# ------------------------------------------------------------------ operator
@given(discounted_models(), st.integers(0, 2**32 - 1))
def test_bellman_operator_matches_loop_reference(model, seed):
    P, R, gamma = model
    V = np.random.default_rng(seed).normal(size=P.shape[0]) * 5
    TV, Q = bellman_optimality_operator(P, R, gamma, V)
    TV_ref, Q_ref = bellman_reference(P, R, gamma, V)
    np.testing.assert_allclose(Q, Q_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(TV, TV_ref, rtol=0, atol=1e-12)


@given(discounted_models(), st.integers(0, 2**32 - 1))
def test_bellman_operator_is_gamma_contraction(model, seed):
    P, R, gamma = model
    rng = np.random.default_rng(seed)
    V, W = rng.normal(size=(2, P.shape[0])) * 10
    TV, _ = bellman_optimality_operator(P, R, gamma, V)
    TW, _ = bellman_optimality_operator(P, R, gamma, W)
    assert np.max(np.abs(TV - TW)) <= gamma * np.max(np.abs(V - W)) + ROUND


@given(discounted_models(), st.integers(0, 2**32 - 1))
def test_bellman_operator_is_monotone(model, seed):
    P, R, gamma = model
    rng = np.random.default_rng(seed)
    V = rng.normal(size=P.shape[0]) * 10
    W = V + rng.exponential(size=P.shape[0]) * (rng.random(P.shape[0]) < 0.5)  # W >= V
    TV, _ = bellman_optimality_operator(P, R, gamma, V)
    TW, _ = bellman_optimality_operator(P, R, gamma, W)
    assert np.all(TV <= TW + ROUND)


# ------------------------------------------------------------------ policy iteration
@given(discounted_models(max_S=4, max_A=3))
def test_policy_iteration_matches_brute_force_over_deterministic_policies(model):
    P, R, gamma = model
    S, A, _ = P.shape
    sol = policy_iteration(P, R, gamma)
    # an optimal stationary deterministic policy dominates all others in every state
    V_best = np.max([exact_value(P, R, gamma, np.array(pi))
                     for pi in itertools.product(range(A), repeat=S)], axis=0)
    np.testing.assert_allclose(sol.V, V_best, rtol=0, atol=ROUND)
    assert np.max(np.abs(sol.V - V_best)) <= sol.error_bound + ROUND


@given(discounted_models())
def test_policy_iteration_terminates_greedy_and_exact(model):
    P, R, gamma = model
    sol = policy_iteration(P, R, gamma)
    S = P.shape[0]
    assert sol.converged
    assert sol.policy.dtype == np.int64 and sol.policy.shape == (S,)
    # greedy w.r.t. its own value (up to rounding)
    TV, Q = bellman_reference(P, R, gamma, sol.V)
    assert np.all(Q[np.arange(S), sol.policy] >= TV - ROUND)
    np.testing.assert_allclose(sol.Q, Q, rtol=0, atol=1e-12)
    # V is the exact value of the returned policy
    np.testing.assert_allclose(sol.V, exact_value(P, R, gamma, sol.policy), rtol=0, atol=ROUND)
    assert sol.error_bound <= 1e-9 and sol.policy_loss_bound >= sol.error_bound
    assert sol.history is None


def test_policy_iteration_max_iter_returns_evaluated_policy():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    S, A = 30, 5
    P = rng.dirichlet(np.full(S, 0.2), size=(S, A))
    R = rng.uniform(size=(S, A))
    full = policy_iteration(P, R, 0.95)
    assert full.iterations >= 2  # otherwise the capped run below would not be capped
    capped = policy_iteration(P, R, 0.95, max_iter=1)
    assert capped.iterations == 1 and not capped.converged
    np.testing.assert_allclose(capped.V, exact_value(P, R, 0.95, capped.policy), atol=ROUND)
    V_star = full.V
    assert np.max(np.abs(capped.V - V_star)) <= capped.error_bound + ROUND
    assert np.max(np.abs(capped.V - V_star)) <= capped.policy_loss_bound + ROUND


# ------------------------------------------------------------------ value iteration
@given(discounted_models(), st.sampled_from([1e-2, 1e-5, 1e-8]))
def test_value_iteration_meets_its_error_bound(model, tol):
    P, R, gamma = model
    sol = value_iteration(P, R, gamma, tol=tol)
    V_star = exact_value(P, R, gamma, policy_iteration(P, R, gamma).policy)
    assert sol.converged and sol.error_bound <= tol
    assert np.max(np.abs(sol.V - V_star)) <= sol.error_bound + ROUND


@given(discounted_models(), st.sampled_from([1e-1, 1e-3, 1e-6]))
def test_value_iteration_greedy_policy_within_policy_loss_bound(model, tol):
    P, R, gamma = model
    sol = value_iteration(P, R, gamma, tol=tol)
    V_star = exact_value(P, R, gamma, policy_iteration(P, R, gamma).policy)
    V_greedy = exact_value(P, R, gamma, sol.policy)
    assert np.max(np.abs(V_greedy - V_star)) <= sol.policy_loss_bound + ROUND
    assert np.all(V_greedy <= V_star + ROUND)  # V* dominates every policy
    np.testing.assert_array_equal(sol.policy, np.argmax(sol.Q, axis=1))


@given(discounted_models(max_S=5), st.integers(0, 2**32 - 1))
def test_value_iteration_history_is_the_bellman_orbit(model, seed):
    P, R, gamma = model
    V0 = np.random.default_rng(seed).normal(size=P.shape[0])
    sol = value_iteration(P, R, gamma, tol=1e-6, V0=V0, record_history=True)
    assert sol.history.shape == (sol.iterations + 1, P.shape[0])
    np.testing.assert_array_equal(sol.history[0], V0)
    np.testing.assert_array_equal(sol.history[-1], sol.V)
    for V_prev, V_next in zip(sol.history[:-1], sol.history[1:]):
        np.testing.assert_allclose(V_next, bellman_reference(P, R, gamma, V_prev)[0], rtol=0, atol=1e-12)
    step = np.max(np.abs(sol.history[-1] - sol.history[-2]))
    assert sol.error_bound == pytest.approx(gamma / (1 - gamma) * step, rel=1e-12, abs=0)
    assert sol.policy_loss_bound == pytest.approx(2 * gamma / (1 - gamma) * step, rel=1e-12, abs=0)


def test_value_iteration_gamma_zero_is_one_greedy_step():
    R = np.array([[0.1, 0.7], [0.4, -0.2]])
    P = np.full((2, 2, 2), 0.5)
    sol = value_iteration(P, R, 0.0)
    assert sol.iterations == 1 and sol.error_bound == 0.0 and sol.policy_loss_bound == 0.0
    np.testing.assert_array_equal(sol.V, [0.7, 0.4])
    np.testing.assert_array_equal(sol.policy, [1, 0])


def test_value_iteration_max_iter_caps_without_warning():
    P = np.array([[[1.0]]])
    R = np.array([[1.0]])
    sol = value_iteration(P, R, 0.9, tol=1e-12, max_iter=3, record_history=True)
    # V_k = sum_{j<k} 0.9^j; the bound is 9 * 0.9^2 = 7.29 and is tight here (V* = 10)
    assert sol.iterations == 3 and not sol.converged
    np.testing.assert_allclose(sol.V, [1 + 0.9 + 0.81])
    assert sol.error_bound == pytest.approx(10 - 2.71)
    assert 10 - sol.V[0] == pytest.approx(sol.error_bound)


def test_value_iteration_warns_when_guaranteed_sweeps_exhausted(monkeypatch):
    monkeypatch.setattr(discounted, "_guaranteed_sweeps", lambda gamma, step, tol: 2)
    P = np.array([[[1.0]]])
    with pytest.warns(RuntimeWarning, match="floating-point resolution"):
        sol = value_iteration(P, np.array([[1.0]]), 0.9, tol=1e-12)
    assert not sol.converged and sol.iterations == 2


def test_guaranteed_sweeps_suffice_in_exact_arithmetic():
    # a single self-looping state has ||V_k - V_{k-1}|| = gamma^(k-1) exactly: the worst case
    for gamma in (0.5, 0.9, 0.99):
        for tol in (1e-3, 1e-8):
            k = discounted._guaranteed_sweeps(gamma, 1.0, tol)
            assert gamma / (1 - gamma) * gamma ** (k - 1) <= tol


# ------------------------------------------------------------------ TabularMDP input
def test_stationary_tabular_mdp_is_accepted():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    P = rng.dirichlet(np.ones(4), size=(4, 2))
    R = rng.uniform(size=(4, 2))
    mdp = TabularMDP.stationary(P, R, H=5, mu0=0)
    a, b = value_iteration(mdp, None, 0.8), value_iteration(P, R, 0.8)
    np.testing.assert_array_equal(a.V, b.V)
    np.testing.assert_array_equal(policy_iteration(mdp, None, 0.8).V, policy_iteration(P, R, 0.8).V)
    np.testing.assert_array_equal(bellman_optimality_operator(mdp, None, 0.8, np.ones(4))[0],
                                  bellman_optimality_operator(P, R, 0.8, np.ones(4))[0])


def test_tabular_mdp_rejections():
    rng = np.random.default_rng(np.random.SeedSequence(4))
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    R = rng.uniform(size=(3, 2))
    with pytest.raises(ValueError, match="R must be None"):
        value_iteration(TabularMDP.stationary(P, R, H=2, mu0=0), R, 0.9)
    with pytest.raises(ValueError, match="stage-dependent transitions"):
        value_iteration(TabularMDP(np.stack([P, P]), np.stack([R, R]), 0), None, 0.9)
    with pytest.raises(ValueError, match=r"R\[1\] != R\[0\]"):
        policy_iteration(TabularMDP.stationary(P, np.stack([R, R / 2]), H=2, mu0=0), None, 0.9)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, float("nan"), float("inf"), True, "0.9", None])
@pytest.mark.parametrize("solver", [value_iteration, policy_iteration])
def test_bad_gamma_raises_naming_gamma(solver, gamma):
    P, R = np.full((2, 2, 2), 0.5), np.zeros((2, 2))
    with pytest.raises(ValueError, match="gamma"):
        solver(P, R, gamma)


def test_bad_P_raises_naming_first_offending_entry():
    P, R = np.full((2, 2, 2), 0.5), np.zeros((2, 2))
    neg = P.copy()
    neg[1, 0] = [1.5, -0.5]
    with pytest.raises(ValueError, match=r"P\[s=1, a=0, s'=1\] = -0.5 is a negative probability"):
        value_iteration(neg, R, 0.9)
    off = P.copy()
    off[0, 1] = [0.5, 0.6]
    with pytest.raises(ValueError, match=r"P\[s=0, a=1\] sums to 1.1"):
        policy_iteration(off, R, 0.9)
    nan = P.copy()
    nan[1, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"P\[s=1, a=1, s'=0\] = nan is not finite"):
        bellman_optimality_operator(nan, R, 0.9, np.zeros(2))
    with pytest.raises(ValueError, match="P must have shape"):
        value_iteration(np.full((2, 2, 3), 1 / 3), R, 0.9)
    with pytest.raises(ValueError, match="P must have 3 dimensions"):
        value_iteration(np.full((2, 2), 0.5), R, 0.9)


def test_bad_R_V0_tol_max_iter_raise_naming_argument():
    P, R = np.full((2, 2, 2), 0.5), np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"R\[s=0, a=1\] = inf"):
        value_iteration(P, np.array([[0.0, np.inf], [0.0, 0.0]]), 0.9)
    with pytest.raises(ValueError, match="R must have shape"):
        value_iteration(P, np.zeros((2, 3)), 0.9)
    with pytest.raises(ValueError, match="V0 must have shape"):
        value_iteration(P, R, 0.9, V0=np.zeros(3))
    with pytest.raises(ValueError, match="V must have shape"):
        bellman_optimality_operator(P, R, 0.9, np.zeros(3))
    for tol in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tol"):
            value_iteration(P, R, 0.9, tol=tol)
    with pytest.raises(ValueError, match="max_iter"):
        value_iteration(P, R, 0.9, max_iter=0)
    with pytest.raises(ValueError, match="max_iter"):
        policy_iteration(P, R, 0.9, max_iter=2.5)


def test_results_are_frozen_and_read_only():
    sol = value_iteration(np.full((2, 1, 2), 0.5), np.ones((2, 1)), 0.5)
    assert isinstance(sol, DiscountedSolution)
    with pytest.raises(AttributeError):
        sol.V = None
    with pytest.raises(ValueError):
        sol.V[0] = 1.0
