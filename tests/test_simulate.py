"""simulate: statistically faithful to the model, bit-identical per seed, never leaves the support."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit.testing import deterministic_policies, stochastic_policies, tabular_mdps


@settings(max_examples=25)
@given(mdp=tabular_mdps(S=st.integers(1, 6), H=st.integers(1, 6)), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_monte_carlo_mean_within_4_standard_errors(mdp, data, seed):
    stochastic = data.draw(st.booleans())
    policy = data.draw(stochastic_policies(mdp) if stochastic else deterministic_policies(mdp))
    n = 20_000
    returns = mdpkit.simulate(mdp, policy, n, seed=seed).returns
    exact = mdpkit.evaluate(mdp, policy).value
    se = returns.std(ddof=1) / np.sqrt(n)
    # A deterministic return has se = 0: then the estimate must be exact up to rounding.
    assert abs(returns.mean() - exact) <= 4 * se + 1e-9 * mdp.H


@given(mdp=tabular_mdps(), data=st.data())
def test_trajectories_stay_in_the_support(mdp, data):
    policy = data.draw(stochastic_policies(mdp))
    tr = mdpkit.simulate(mdp, policy, 200, seed=3)
    assert tr.states.shape == (200, mdp.H + 1) and tr.actions.shape == (200, mdp.H)
    assert np.all(mdp.mu0[tr.states[:, 0]] > 0)
    for h in range(mdp.H):
        s, a, s_next = tr.states[:, h], tr.actions[:, h], tr.states[:, h + 1]
        assert np.all(policy[h, s, a] > 0)
        assert np.all(mdp.P[h, s, a, s_next] > 0)
        if mdp.reward_noise == "deterministic":
            np.testing.assert_array_equal(tr.rewards[:, h], mdp.R[h, s, a])
        else:
            assert set(np.unique(tr.rewards[:, h])) <= {0.0, 1.0}


def test_bit_identical_for_the_same_seed_and_chunking_invisible(monkeypatch):
    mdp = mdpkit.TabularMDP.stationary(np.full((4, 2, 4), 0.25), np.full((4, 2), 0.3), 5, 0,
                                       reward_noise="bernoulli")
    policy = np.ones((5, 4, 2)) / 2
    a = mdpkit.simulate(mdp, policy, 1000, seed=np.random.SeedSequence(7))
    b = mdpkit.simulate(mdp, policy, 1000, seed=np.random.SeedSequence(7))
    for x, y in ((a.states, b.states), (a.actions, b.actions), (a.rewards, b.rewards)):
        np.testing.assert_array_equal(x, y)
    # Episodes are drawn in chunks to bound memory; the chunk size does not change the result.
    from mdpkit import simulation as sim_module
    monkeypatch.setattr(sim_module, "_UNIFORMS_PER_CHUNK", 16 * 37)
    c = mdpkit.simulate(mdp, policy, 1000, seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(a.states, c.states)
    d = mdpkit.simulate(mdp, policy, 1000, seed=8)
    assert not np.array_equal(a.states, d.states)


def test_bad_arguments():
    mdp = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 3, 0)
    with pytest.raises(ValueError, match="n_episodes must be >= 1"):
        mdpkit.simulate(mdp, np.zeros((3, 2), dtype=int), 0)
    with pytest.raises(ValueError, match=r"policy\[h=0, s=1\] = 5 is not in \[0, 2\)"):
        mdpkit.simulate(mdp, np.array([[0, 5], [0, 0], [0, 0]]), 10)
    policy = np.zeros((3, 2), dtype=int)
    for bad in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="^seed must be a non-negative int"):
            mdpkit.simulate(mdp, policy, 10, seed=bad)
    with pytest.raises(ValueError, match="mdp must be a mdpkit.TabularMDP, got ndarray"):
        mdpkit.simulate(np.asarray(mdp.P), policy, 10)
    # accepted seeds are unchanged
    for ok in (None, 0, np.int64(3), np.random.SeedSequence(3), np.random.default_rng(3)):
        assert mdpkit.simulate(mdp, policy, 2, seed=ok).states.shape == (2, 4)


# ----------------------------------------------------------------------------- general rewards
def _reference_rollouts(mdp, policy, uniforms):
    """Plain-Python specification of simulate: same uniforms, same order of use."""
    n, H = uniforms.shape[0], mdp.H
    lo, hi = mdp.reward_range
    TR = mdp.transition_rewards
    states, actions, rewards = np.zeros((n, H + 1), int), np.zeros((n, H), int), np.zeros((n, H))

    def draw(p, u):  # first index whose cumulative mass exceeds u
        cdf = np.cumsum(p)
        return int(np.searchsorted(cdf / cdf[-1], u, side="right"))

    for i in range(n):
        u = uniforms[i]
        s = draw(mdp.mu0, u[0])
        states[i, 0] = s
        for h in range(H):
            a = int(policy[h, s]) if policy.ndim == 2 else draw(policy[h, s], u[1 + 3 * h])
            s_next = draw(mdp.P[h, s, a], u[2 + 3 * h])
            mean = mdp.R[h, s, a] if TR is None else TR[h if TR.shape[0] > 1 else 0, s, a, s_next]
            if mdp.reward_noise == "bernoulli":
                rewards[i, h] = hi if u[3 + 3 * h] < (mean - lo) / (hi - lo) else lo
            else:
                rewards[i, h] = mean
            states[i, h + 1], actions[i, h], s = s_next, a, s_next
    return states, actions, rewards


@st.composite
def _general_reward_mdps(draw):
    """Models with next-state rewards and/or a reward range other than [0, 1]."""
    S, A, H = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.dirichlet(np.ones(S) * 0.5, size=(S, A)) if draw(st.booleans()) else \
        np.eye(S)[rng.integers(0, S, size=(S, A))]
    lo, width = draw(st.sampled_from([(0.0, 1.0), (-100.0, 100.0), (-1.0, 3.0), (2.0, 0.5)]))
    noise = draw(st.sampled_from(["deterministic", "bernoulli"]))
    if draw(st.booleans()):
        TR = lo + width * rng.integers(0, 3, size=(draw(st.sampled_from([1, H])), S, A, S)) / 2
        return mdpkit.TabularMDP.stationary(P, None, H, 0, transition_rewards=TR, reward_noise=noise,
                                            reward_range=(lo, lo + width))
    return mdpkit.TabularMDP.stationary(P, lo + width * rng.random((S, A)), H, rng.dirichlet(np.ones(S)),
                                        reward_noise=noise, reward_range=(lo, lo + width))


@settings(max_examples=30)
@given(mdp=_general_reward_mdps(), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_general_rewards_kernel_equals_reference(mdp, data, seed):
    stochastic = data.draw(st.booleans())
    policy = data.draw(stochastic_policies(mdp) if stochastic else deterministic_policies(mdp))
    tr = mdpkit.simulate(mdp, policy, 50, seed=seed)
    uniforms = np.random.default_rng(seed).random((50, 1 + 3 * mdp.H))
    for got, want in zip((tr.states, tr.actions, tr.rewards), _reference_rollouts(mdp, policy, uniforms)):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=15)
@given(mdp=_general_reward_mdps(), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_general_rewards_mean_matches_exact_value(mdp, data, seed):
    policy = data.draw(stochastic_policies(mdp))
    n = 20_000
    returns = mdpkit.simulate(mdp, policy, n, seed=seed).returns
    exact = mdpkit.evaluate(mdp, policy).value
    se = returns.std(ddof=1) / np.sqrt(n)
    scale = mdp.H * max(abs(x) for x in mdp.reward_range)
    assert abs(returns.mean() - exact) <= 4 * se + 1e-9 * scale


@settings(max_examples=15)
@given(mdp=tabular_mdps(S=st.integers(1, 5), H=st.integers(1, 4)), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_general_kernel_bit_identical_to_default_kernel_on_unit_range(mdp, data, seed):
    """On [0, 1] without transition rewards both kernels give the same episodes bit for bit."""
    from mdpkit import _kernels
    policy = np.asarray(data.draw(stochastic_policies(mdp)))
    uniforms = np.random.default_rng(seed).random((40, 1 + 3 * mdp.H))
    P_cdf, mu0_cdf = _kernels.cumulative_rows(mdp.P_stages), _kernels.cumulative_rows(mdp.mu0)
    pol_cdf, det = _kernels.cumulative_rows(policy), np.zeros((0, 0), dtype=np.int64)
    bern = mdp.reward_noise == "bernoulli"
    outs = []
    for general in (False, True):
        out = (np.empty((40, mdp.H + 1), dtype=np.int64), np.empty((40, mdp.H), dtype=np.int64), np.empty((40, mdp.H)))
        if general:
            _kernels.simulate_episodes_general(P_cdf, mu0_cdf, det, pol_cdf, mdp.R, np.zeros((0, 0, 0, 0)), bern,
                                               0.0, 1.0, uniforms, *out)
        else:
            _kernels.simulate_episodes(P_cdf, mu0_cdf, det, pol_cdf, mdp.R, bern, uniforms, *out)
        outs.append(out)
    for x, y in zip(*outs):
        np.testing.assert_array_equal(x, y)


def test_transition_rewards_sampled_not_averaged():
    """Reward 1 on reaching state 1 (prob 1/4): per-step rewards are 0/1, never the mean 1/4."""
    P = np.array([[[0.75, 0.25]], [[0.75, 0.25]]])
    TR = np.zeros((2, 1, 2))
    TR[:, :, 1] = 1.0
    mdp = mdpkit.TabularMDP.stationary(P, None, 4, 0, transition_rewards=TR)
    np.testing.assert_allclose(mdp.R, 0.25)
    tr = mdpkit.simulate(mdp, np.zeros((4, 2), dtype=int), 20_000, seed=1)
    assert set(np.unique(tr.rewards)) == {0.0, 1.0}
    np.testing.assert_array_equal(tr.rewards, (tr.states[:, 1:] == 1).astype(float))
    # returns are Binomial(4, 1/4): variance 3/4 (the expected-reward model would give 0)
    assert abs(tr.returns.var() - 0.75) < 0.05


def test_infeasible_policy_rejected():
    mdp = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 2, 0,
                                       feasible=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match=r"policy\[h=1, s=0\] = 1 is an infeasible action"):
        mdpkit.simulate(mdp, np.array([[0, 1], [1, 1]]), 5)
    with pytest.raises(ValueError, match=r"policy\[h=0, s=0, a=1\] = 0.5 puts probability on an infeasible"):
        mdpkit.simulate(mdp, np.full((2, 2, 2), 0.5), 5)
