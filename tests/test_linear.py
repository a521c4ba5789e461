"""LinearMixtureMDP: validation, exact tabular view, value features, instances."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit import _kernels
from mdpkit.algorithms import _linear_kernels as kern
from mdpkit.envs.linear import (long_horizon_two_state, random_linear_mixture, sign_actions, three_state_hard,
                                ucrl_rfe_hard)
from mdpkit.linear import LinearMixtureMDP, check_reward_class
from mdpkit.solvers import reference


def _random_model(S, A, d, H, seed):
    return random_linear_mixture(S, A, d, H, seed=seed)


sizes = st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(1, 8), st.integers(0, 10 ** 6))


# ---------------------------------------------------------------------------- validation
def test_invalid_distribution_names_first_pair_and_value():
    m = _random_model(3, 2, 2, 4, 0)
    theta = np.array(m.theta)
    theta[0] += 0.1  # rows no longer sum to 1
    with pytest.raises(ValueError, match=r"<phi\(\.\|s,a\), theta>\[s=0, a=0\] sums to") as err:
        LinearMixtureMDP(m.phi, theta, H=4, mu0=0)
    assert "not renormalised" in str(err.value)


def test_negative_probability_names_entry():
    phi = np.zeros((2, 1, 2, 1))
    phi[0, 0, 0, 0], phi[0, 0, 1, 0] = 1.5, -0.5
    phi[1, 0, 1, 0] = 1.0
    with pytest.raises(ValueError, match=r"\[s=0, a=0, s'=1\] = -0.5 is a negative probability"):
        LinearMixtureMDP(phi, [1.0], H=2, mu0=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(phi=np.zeros((2, 1, 3, 1))), r"phi must have shape \(S, A, S, d\)"),
    (dict(theta=np.ones(3)), r"theta must have shape \(1,\), got \(3,\)"),
    (dict(theta=[np.nan]), r"theta\[i=0\] = nan is not finite"),
    (dict(H=0), "H must be >= 1"),
    (dict(mu0=[0.5, 0.4]), r"mu0 sums to"),
    (dict(R=np.full((2, 2, 1), 1.5)), r"R\[h=0, s=0, a=0\] = 1.5 is outside \[0.0, 1.0\]"),
    (dict(B=0.5), r"B = 0.5 must be positive and >= \|\|theta\|\|_2 = 1.0"),
])
def test_argument_errors(kwargs, match):
    phi = np.zeros((2, 1, 2, 1))
    phi[0, 0, 1, 0] = phi[1, 0, 1, 0] = 1.0
    args = dict(phi=phi, theta=[1.0], H=2, mu0=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LinearMixtureMDP(args.pop("phi"), args.pop("theta"), **args)


def test_model_is_immutable():
    m = _random_model(3, 2, 2, 4, 0)
    with pytest.raises(AttributeError):
        m.H = 3
    with pytest.raises(ValueError):
        m.theta[0] = 1.0


# ---------------------------------------------------------------------------- tabular view
@given(sizes)
def test_to_tabular_is_exact(size):
    S, A, d, H, seed = size
    m = _random_model(S, A, d, H, seed)
    tab = m.to_tabular()
    np.testing.assert_allclose(tab.P[0], np.einsum("satd,d->sat", m.phi, m.theta), rtol=0, atol=1e-15)
    assert tab.is_stationary and tab.H == H
    np.testing.assert_array_equal(tab.mu0, m.mu0)
    # An exact solve of a reward on the tabular view equals plain backward induction in the features.
    R = np.random.default_rng(seed).random((H, S, A)) / H
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        V = (R[h] + m.psi(V) @ m.theta).max(axis=1)
    assert mdpkit.solve(tab.with_rewards(R)).value == pytest.approx(m.mu0 @ V, abs=1e-12)


def test_one_hot_features_reproduce_a_tabular_model():
    """Linear reduces to tabular: one feature per (s, a, s') and theta = P flattened."""
    tab = mdpkit.envs.random_mdp(4, 3, 5, seed=3)
    P = np.array(tab.P_stages[0])
    S, A, _ = P.shape
    d = S * A * S
    phi = np.eye(d).reshape(S, A, S, d)
    m = LinearMixtureMDP(phi, P.ravel(), H=5, mu0=tab.mu0, R=tab.R)
    np.testing.assert_array_equal(m.P, P)
    assert mdpkit.solve(m.to_tabular()).value == pytest.approx(mdpkit.solve(tab).value, abs=1e-14)
    # psi_V(s, a) is V placed in the (s, a) block: VTR on it is regression on transition rows.
    V = np.arange(S, dtype=float)
    psi = m.psi(V).reshape(S, A, S, A, S)
    for s in range(S):
        for a in range(A):
            block = np.zeros((S, A, S))
            block[s, a] = V
            np.testing.assert_array_equal(psi[s, a], block)


# ---------------------------------------------------------------------------- value features
@given(sizes, st.integers(1, 5))
def test_psi_matches_einsum_and_numba_kernel(size, n):
    S, A, d, H, seed = size
    m = _random_model(S, A, d, H, seed)
    V = np.random.default_rng(seed + 1).normal(size=(n, S))
    ref = np.einsum("satd,nt->nsad", m.phi, V)
    np.testing.assert_allclose(m.psi(V), ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(m.psi(V[0]), ref[0], rtol=1e-13, atol=1e-14)
    out = np.empty((n, S, A, d))
    kern.psi_batch(np.ascontiguousarray(m.phi), V, out)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)


def test_psi_rejects_wrong_length():
    m = _random_model(3, 2, 2, 4, 0)
    with pytest.raises(ValueError, match=r"V must have shape \(S,\) = \(3,\)"):
        m.psi(np.ones(4))


# ---------------------------------------------------------------------------- instances
@given(sizes)
def test_random_generator_is_valid_and_normalised(size):
    S, A, d, H, seed = size
    m = _random_model(S, A, d, H, seed)
    assert np.linalg.norm(m.theta) <= m.B + 1e-12 and m.B == pytest.approx(np.sqrt(d))
    assert m.max_value_feature_norm() <= 1 + 1e-12


@pytest.mark.parametrize("make", [
    lambda: three_state_hard(5, 8, 0.03, seed=1).lmdp,
    lambda: ucrl_rfe_hard(5, 8, seed=1).lmdp,
    lambda: long_horizon_two_state(5, 40, seed=1).lmdp,
])
def test_structured_instances_meet_the_norm_assumptions(make):
    m = make()
    assert m.max_value_feature_norm() <= 1 + 1e-12
    assert np.linalg.norm(m.theta) <= m.B * (1 + 1e-12)
    check_reward_class(m, m.R)  # the hard reward collects at most 1 per trajectory


@pytest.mark.parametrize("d, H, Delta, seed", [(2, 5, 0.1, 0), (4, 10, 0.02, 1), (6, 3, 0.01, 2)])
def test_three_state_optimal_action_and_closed_form_gaps(d, H, Delta, seed):
    inst = three_state_hard(d, H, Delta, seed=seed)
    tab = inst.lmdp.to_tabular()
    sol = mdpkit.solve(tab)
    q_x1 = sol.Q[0, 0]
    assert np.argmax(q_x1) == inst.optimal_action
    wrong = (inst.actions != np.sign(inst.mu)[None]).sum(axis=1)
    np.testing.assert_allclose(q_x1.max() - q_x1, 2 * Delta * wrong * (H - 1) / H, atol=1e-14)


def test_sign_instance_errors():
    with pytest.raises(ValueError, match="gives invalid probabilities"):
        three_state_hard(4, 5, 0.1)
    with pytest.raises(ValueError, match=r"signs\[1\] = 0.5 is not -1 or \+1"):
        three_state_hard(3, 5, 0.01, signs=[1.0, 0.5])
    with pytest.raises(ValueError, match="enumerate them only"):
        sign_actions(20)
    with pytest.raises(ValueError, match="alpha"):
        ucrl_rfe_hard(4, 5, alpha=2.0)


def test_long_horizon_instance_has_constant_relative_gap():
    for H in (10, 100):
        inst = long_horizon_two_state(3, H, rel_gap=0.5, signs=[1, 1])
        P = inst.lmdp.P
        assert P[0, inst.optimal_action, 1] == pytest.approx(1.5 / H)
        assert P[1, 0, 0] == pytest.approx(1 / H)


# ---------------------------------------------------------------------------- reward class
def test_reward_class_errors_name_the_offender():
    m = three_state_hard(3, 4, 0.02, seed=0).lmdp
    R = np.zeros((2, 4, 3, 4))
    R[1, 2, 1, 3] = -0.1
    with pytest.raises(ValueError, match=r"R\[b=1, h=2, s=1, a=3\] = -0.1 is negative"):
        check_reward_class(m, R)
    R = np.zeros((4, 3, 4))
    R[:, 2, :] = 0.3  # x3 is absorbing: 4 x 0.3 = 1.2 along the path x3, x3, ...
    with pytest.raises(ValueError, match=r"collects 1.2\d* > 1 along a path from state 2 at stage 0"):
        check_reward_class(m, R)
    R = np.zeros((4, 3, 4))
    R[0, 0, :] = 0.5
    R[1:, 1:, :] = 1 / 6  # x1 then three steps in x2 or x3: exactly 1 on every path
    check_reward_class(m, R)


@given(S=st.integers(1, 5), A=st.integers(1, 3), H=st.integers(1, 6), B=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_worst_path_kernel_matches_numpy_reference(S, A, H, B, seed):
    """Max-plus backward induction: bit-identical to the numpy reference (max and + are exact)."""
    rng = np.random.default_rng(seed)
    possible = rng.random((S, A, S)) < 0.5
    possible[np.arange(S)[:, None], np.arange(A)[None, :], rng.integers(S, size=(S, A))] = True
    R = rng.random((H, S, A, B)) * (rng.random((H, S, A, B)) < 0.7)
    worst = np.empty((H + 1, S, B))
    _kernels.worst_path_totals(possible, R, worst)
    np.testing.assert_array_equal(worst, reference.worst_path_totals(possible, R))


def test_reward_class_error_names_the_first_offending_reward_of_a_batch():
    m = three_state_hard(3, 4, 0.02, seed=0).lmdp
    R = np.zeros((3, 4, 3, 4))
    R[2, :, 2, :] = 0.3   # reward 2 exceeds from stage 0 only (4 x 0.3 in the absorbing x3)
    R[1, 1:, 2, :] = 0.4  # reward 1 exceeds from stage 1 (3 x 0.4): met first by the backward recursion
    with pytest.raises(ValueError, match=r"R\[b=1\] collects 1.2\d* > 1 along a path from state 2 at stage 1"):
        check_reward_class(m, R)
