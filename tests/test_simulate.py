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
