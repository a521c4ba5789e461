"""Average-reward solvers: proven gain bounds (checked against finite-horizon values on any
model), agreement of RVI and the LP, brute force over policies, and ported problems."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit.convert import from_mdptoolbox
from mdpkit.solvers.average_reward import average_reward_lp, relative_value_iteration
from mdpkit.testing import tabular_mdps


def _policy_gain(P, R, policy):
    """Gain of a stationary policy in a model whose every row has full support (unichain,
    aperiodic): stationary distribution times rewards."""
    S = P.shape[0]
    P_d, r_d = P[np.arange(S), policy], R[np.arange(S), policy]
    M = np.vstack([P_d.T - np.eye(S), np.ones((1, S))])
    pi = np.linalg.lstsq(M, np.r_[np.zeros(S), 1.0], rcond=None)[0]
    return float(pi @ r_d)


@settings(max_examples=30)
@given(S=st.integers(1, 4), A=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_brute_force_over_policies_on_full_support_models(S, A, seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.normal(size=(S, A))
    best = max(_policy_gain(P, R, np.array(d)) for d in itertools.product(range(A), repeat=S))
    rvi = relative_value_iteration(P, R, tol=1e-10)
    assert rvi.converged
    lo, hi = rvi.gain_bounds
    assert lo - 1e-12 <= best <= hi + 1e-12 and hi - lo <= 1e-10
    assert _policy_gain(P, R, rvi.policy) >= lo - 1e-9
    lp = average_reward_lp(P, R)
    assert lp.gain == pytest.approx(best, abs=1e-8)
    assert lp.frequencies.sum() == pytest.approx(1.0)
    # the bias solves g + h = T h
    Th = (R + P @ rvi.bias).max(axis=1)
    np.testing.assert_allclose(rvi.gain + rvi.bias, Th, atol=1e-8)


@settings(max_examples=30)
@given(mdp=tabular_mdps(S=st.integers(1, 5), A=st.integers(1, 3), H=1), n=st.integers(1, 60))
def test_gain_bounds_hold_on_any_model(mdp, n):
    """For every finite model (multichain, periodic, deterministic rows ...) and every n:
    n lower - sp(bias) <= V*_n(s) <= n upper + sp(bias), and the greedy policy collects at least
    n lower - sp(bias) -- the inequalities the stopping rule rests on."""
    rvi = relative_value_iteration(mdp, max_iter=200)
    lo, hi = rvi.gain_bounds
    span = float(np.ptp(rvi.bias))
    long = mdpkit.TabularMDP.stationary(mdp.P_stages[0], mdp.R[0], n, mdp.mu0)
    V = mdpkit.solve(long).V[0]
    slack = 1e-9 * n
    assert np.all(V <= n * hi + span + slack) and np.all(V >= n * lo - span - slack)
    V_greedy = mdpkit.evaluate(long, np.tile(rvi.policy, (n, 1))).V[0]
    assert np.all(V_greedy >= n * lo - span - slack)


def test_periodic_model_needs_the_aperiodicity_transformation():
    # two states swapping deterministically, reward 1 in state 0 only: gain 1/2, period 2
    P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    R = np.array([[1.0], [0.0]])
    plain = relative_value_iteration(P, R, max_iter=500)
    assert not plain.converged and plain.gain_bounds == (0.0, 1.0)  # the bounds hold but never meet
    fixed = relative_value_iteration(P, R, aperiodicity=0.5)
    assert fixed.converged and fixed.gain == pytest.approx(0.5, abs=1e-9)
    assert fixed.gain_bounds[0] <= 0.5 <= fixed.gain_bounds[1]
    np.testing.assert_allclose(fixed.bias, [0.0, -0.5], atol=1e-8)  # g + h = R + P h
    assert average_reward_lp(P, R).gain == pytest.approx(0.5)


def test_forest_gain():
    """pymdptoolbox's forest (S = 3): always waiting gives the stationary law (0.1, 0.09, 0.81)
    and gain 0.81 * 4 = 3.24 (cutting pays at most 2 < 3.24 and resets the forest)."""
    P = np.array([[[0.1, 0.9, 0.0], [0.1, 0.0, 0.9], [0.1, 0.0, 0.9]],
                  [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    R = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 2.0]])
    mdp = from_mdptoolbox(P, R, 1, 0)
    rvi, lp = relative_value_iteration(mdp), average_reward_lp(mdp)
    assert rvi.gain == pytest.approx(3.24, abs=1e-9) and lp.gain == pytest.approx(3.24, abs=1e-9)
    np.testing.assert_array_equal(rvi.policy, [0, 0, 0])
    np.testing.assert_allclose(lp.frequencies[:, 0], [0.1, 0.09, 0.81], atol=1e-9)


def test_feasibility_mask_is_respected():
    # QuantEcon's DiscreteDP example: state 1's second action is infeasible and would pay 10
    P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    R = np.array([[5.0, 10.0], [-1.0, 10.0]])
    mdp = mdpkit.TabularMDP.stationary(P, R, 1, 0, reward_range=(-1, 10),
                                       feasible=np.array([[True, True], [True, False]]))
    rvi, lp = relative_value_iteration(mdp), average_reward_lp(mdp)
    assert rvi.gain == pytest.approx(-1.0, abs=1e-9) and lp.gain == pytest.approx(-1.0, abs=1e-9)
    assert rvi.policy[1] == 0 and lp.frequencies[1, 1] == 0.0
    unmasked = mdpkit.TabularMDP.stationary(P, R, 1, 0, reward_range=(-1, 10))
    assert relative_value_iteration(unmasked).gain > 4  # the mask matters


def test_bad_arguments():
    P, R = np.full((2, 1, 2), 0.5), np.zeros((2, 1))
    with pytest.raises(ValueError, match="tol"):
        relative_value_iteration(P, R, tol=0)
    with pytest.raises(ValueError, match="reference_state"):
        relative_value_iteration(P, R, reference_state=2)
    with pytest.raises(ValueError, match="aperiodicity"):
        relative_value_iteration(P, R, aperiodicity=0.0)
    with pytest.raises(ValueError, match="R must be None"):
        relative_value_iteration(mdpkit.TabularMDP.stationary(P, R, 2, 0), R)
    staged = mdpkit.TabularMDP(np.stack([P, P]), np.zeros((2, 2, 1)), 0)
    with pytest.raises(ValueError, match="stationary"):
        average_reward_lp(staged)
