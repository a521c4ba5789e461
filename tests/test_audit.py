"""Exact auditing: reward battery, batched gaps, model-error LP."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit import audit
from mdpkit.algorithms import hf_rfe
from mdpkit.envs.linear import random_linear_mixture, three_state_hard
from mdpkit.linear import check_reward_class

sizes = st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(0, 10 ** 6))


@given(sizes)
def test_battery_is_in_the_safe_class_and_seeded(size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    battery = audit.reward_battery(m, seed=seed)
    assert battery.rewards.shape == (len(battery), H, S, A)
    assert np.all(battery.rewards >= 0)
    assert np.all(battery.rewards.max(axis=(2, 3)).sum(axis=1) <= 1 + 1e-12)
    check_reward_class(m, battery.rewards)
    np.testing.assert_array_equal(battery.rewards, audit.reward_battery(m, seed=seed).rewards)
    assert battery.kinds.count("single_state") == S and battery.kinds.count("dense") == 8


def test_battery_adds_instance_and_adversarial_rewards():
    inst = three_state_hard(3, 5, 0.05, seed=0)
    ex = hf_rfe.explore(inst.lmdp, K=10, seed=0, beta_scale=0.01)
    battery = audit.reward_battery(inst.lmdp, seed=0, exploration=ex)
    assert {"instance", "adversarial_least_visited_state", "adversarial_least_visited_pair",
            "adversarial_most_uncertain_pair"} <= set(battery.kinds)
    np.testing.assert_array_equal(battery.rewards[battery.kinds.index("instance")], inst.lmdp.R)


@given(sizes)
def test_masked_sweep_equals_policy_evaluation(size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    rng = np.random.default_rng(seed)
    R = audit.reward_battery(m, seed=seed).rewards
    policies = rng.integers(A, size=(R.shape[0], H, S))
    values = audit.policy_values(m, policies, R)
    tab = m.to_tabular()
    for i in range(R.shape[0]):
        assert values[i] == pytest.approx(mdpkit.evaluate(tab, policies[i], rewards=R[i]).value, abs=1e-13)


def test_exact_gaps_against_direct_computation():
    m = random_linear_mixture(4, 3, 3, 8, seed=2)
    ex = hf_rfe.explore(m, K=30, seed=1, beta_scale=0.01)
    battery = audit.reward_battery(m, seed=3, exploration=ex)
    result = audit.exact_gaps(ex, battery)
    tab = m.to_tabular()
    for i in range(len(battery)):
        pol, cert = ex.plan(battery.rewards[i])
        gap = mdpkit.solve(tab, rewards=battery.rewards[i]).value - mdpkit.evaluate(tab, pol, rewards=battery.rewards[i]).value
        assert result.gaps[i] == pytest.approx(gap, abs=1e-13)
        assert result.certificates[i] == pytest.approx(cert, abs=1e-14)
    assert result.worst_gap == result.gaps.max()


def test_policy_values_errors():
    m = random_linear_mixture(3, 2, 2, 4, seed=0)
    R = np.zeros((2, 4, 3, 2))
    with pytest.raises(ValueError, match=r"policies must have shape \(B, H, S\) = \(2, 4, 3\)"):
        audit.policy_values(m, np.zeros((2, 4, 2), dtype=int), R)
    with pytest.raises(ValueError, match=r"policies\[1\]\[h=0, s=0\] = 5 is not in \[0, 2\)"):
        bad = np.zeros((2, 4, 3), dtype=int)
        bad[1, 0, 0] = 5
        audit.policy_values(m, bad, R)


# ---------------------------------------------------------------------------- LP
@given(sizes)
def test_model_occupancy_gives_exact_values(size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    rng = np.random.default_rng(seed)
    policy = rng.integers(A, size=(H, S))
    q = audit.model_occupancy(m.P, m.mu0, policy, H)
    R = rng.random((H, S, A)) / H
    assert np.sum(R * q) == pytest.approx(mdpkit.evaluate(m.to_tabular(), policy, rewards=R).value, abs=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_model_error_lp_bounds_every_battery_reward(seed):
    m = random_linear_mixture(4, 2, 3, 5, seed=seed)
    rng = np.random.default_rng(seed)
    theta_hat = m.theta + 0.05 * rng.normal(size=3)
    policy = rng.integers(2, size=(5, 4))
    safe = audit.model_error_lp(m, theta_hat, policy, reward_class="safe")
    path = audit.model_error_lp(m, theta_hat, policy, reward_class="path")
    assert safe.value == pytest.approx(safe.closed_form, abs=1e-7)  # LP agrees with the closed form
    assert path.value >= safe.value - 1e-7  # the path class contains the safe class
    D = (audit.model_occupancy(m.phi @ theta_hat, m.mu0, policy, 5)
         - audit.model_occupancy(m.P, m.mu0, policy, 5))
    errors = np.abs(np.einsum("bhsa,hsa->b", audit.reward_battery(m, seed=seed).rewards, D))
    assert np.all(errors <= safe.value + 1e-7)
    assert abs(np.sum(path.reward * D)) == pytest.approx(path.value, abs=1e-6)  # the maximiser attains it
    check_reward_class(m, np.maximum(path.reward, 0) / (1 + 1e-6))


def test_model_error_lp_is_zero_for_the_true_model():
    m = random_linear_mixture(3, 2, 2, 4, seed=0)
    result = audit.model_error_lp(m, m.theta, np.zeros((4, 3), dtype=int))
    assert result.value == pytest.approx(0.0, abs=1e-12)


def test_model_error_lp_errors():
    m = random_linear_mixture(3, 2, 2, 4, seed=0)
    with pytest.raises(ValueError, match="reward_class must be one of"):
        audit.model_error_lp(m, m.theta, np.zeros((4, 3), dtype=int), reward_class="all")
    with pytest.raises(ValueError, match=r"theta_hat must have shape \(2,\)"):
        audit.model_error_lp(m, np.ones(3), np.zeros((4, 3), dtype=int))
