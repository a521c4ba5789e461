"""Tests of the public hypothesis strategies in mdpkit.testing."""
import doctest

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import mdpkit
import mdpkit.testing as mt
from mdpkit import TabularMDP
from mdpkit.mdp import validate_policy
from mdpkit.testing import deterministic_policies, distributions, stochastic_policies, tabular_mdps

# `find` searches for an example; derandomised so the suite is reproducible.
FIND = settings(database=None, max_examples=2000, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _find(strategy, predicate):
    return find(strategy, predicate, settings=FIND)


def _assert_valid(mdp):
    assert isinstance(mdp, TabularMDP)
    P = np.asarray(mdp.P)
    assert P.shape == (mdp.H, mdp.S, mdp.A, mdp.S)
    assert (P >= 0).all() and np.allclose(P.sum(-1), 1.0, atol=1e-12, rtol=0)
    assert mdp.R.shape == (mdp.H, mdp.S, mdp.A)
    assert ((mdp.R >= 0) & (mdp.R <= 1)).all()
    assert (mdp.mu0 >= 0).all() and abs(mdp.mu0.sum() - 1) < 1e-12
    # rebuilding through the public constructor accepts it too
    TabularMDP(P, mdp.R, mdp.mu0, reward_noise=mdp.reward_noise)


@given(tabular_mdps())
def test_default_strategy_builds_valid_models_in_range(mdp):
    _assert_valid(mdp)
    assert 1 <= mdp.S <= 6 and 1 <= mdp.A <= 4 and 1 <= mdp.H <= 5
    assert mdp.name.startswith("tabular_mdps(seed=")


@given(tabular_mdps(S=3, A=st.just(2), H=st.integers(4, 5), stationary=False, reward_noise="bernoulli"))
def test_fixed_sizes_flags_and_noise_are_respected(mdp):
    assert (mdp.S, mdp.A) == (3, 2) and mdp.H in (4, 5)
    assert not mdp.is_stationary
    assert mdp.reward_noise == "bernoulli"


@given(tabular_mdps(stationary=True, reward_noise=st.just("deterministic")))
def test_stationary_flag(mdp):
    assert mdp.is_stationary and mdp.P_stages.shape[0] == 1
    assert mdp.reward_noise == "deterministic"


@given(st.data(), tabular_mdps())
def test_policies_are_valid_for_their_model(data, mdp):
    det = data.draw(deterministic_policies(mdp))
    assert det.dtype == np.int64 and det.shape == (mdp.H, mdp.S)
    np.testing.assert_array_equal(validate_policy(det, mdp.H, mdp.S, mdp.A), det)
    sto = data.draw(stochastic_policies(mdp))
    assert sto.shape == (mdp.H, mdp.S, mdp.A)
    validate_policy(sto, mdp.H, mdp.S, mdp.A)
    # both evaluate, and never beat the optimum
    v_star = mdpkit.solve(mdp).value
    for pol in (det, sto):
        assert mdpkit.evaluate(mdp, pol).value <= v_star + 1e-12


@given(distributions(st.integers(1, 9)))
def test_distributions_are_distributions(p):
    assert p.ndim == 1 and 1 <= p.size <= 9 and p.dtype == np.float64
    assert (p >= 0).all() and abs(p.sum() - 1) < 1e-12


@given(distributions(4))
def test_distributions_fixed_length(p):
    assert p.shape == (4,)


# ------------------------------------------------------------------ edge cases do occur
@pytest.mark.parametrize("predicate", [
    pytest.param(lambda m: m.S == 1, id="S=1"),
    pytest.param(lambda m: m.A == 1, id="A=1"),
    pytest.param(lambda m: m.H == 1, id="H=1"),
    pytest.param(lambda m: m.S == 1 and m.A == 1 and m.H == 1, id="S=A=H=1"),
    pytest.param(lambda m: m.S >= 3 and (np.asarray(m.P) == 0).any(axis=-1).any()
                 and (np.asarray(m.P) > 0).all(axis=-1).any(), id="sparse-and-full-rows"),
    pytest.param(lambda m: m.S >= 3 and (np.asarray(m.P) > 0).all(), id="all-rows-full-support"),
    pytest.param(lambda m: m.S >= 2 and (np.asarray(m.P).max(-1) == 1).all(), id="deterministic"),
    pytest.param(lambda m: (m.R == 0).any() and (m.R == 1).any() and ((m.R > 0) & (m.R < 1)).any(),
                 id="rewards-0-1-and-between"),
    pytest.param(lambda m: m.A >= 2 and (m.R[..., 0] == m.R[..., 1]).all(), id="tied-rewards"),
    pytest.param(lambda m: m.S >= 2 and m.mu0.max() == 1.0, id="fixed-start"),
    pytest.param(lambda m: m.S >= 3 and (m.mu0 > 0).sum() >= 2 and (m.mu0 == 0).any(), id="sparse-mu0"),
    pytest.param(lambda m: m.is_stationary and m.H >= 2 and not (m.R == m.R[0]).all(),
                 id="stationary-P-stage-rewards"),
    pytest.param(lambda m: not m.is_stationary and m.H >= 2 and m.reward_noise == "bernoulli",
                 id="stage-dependent-bernoulli"),
])
def test_edge_cases_occur(predicate):
    _assert_valid(_find(tabular_mdps(), predicate))


def test_tied_optimal_actions_occur():
    def tied(m):
        Q = mdpkit.solve(m).Q
        top = Q.max(-1, keepdims=True)
        return m.A >= 2 and ((Q == top).sum(-1) >= 2).any() and (Q < top).any()
    _find(tabular_mdps(), tied)


@pytest.mark.parametrize("predicate", [
    lambda p: p.size >= 2 and p.max() == 1.0,
    lambda p: p.size >= 3 and (p == p[0]).all(),
    lambda p: p.size >= 3 and (p == 0).any() and (p > 0).sum() >= 2,
    lambda p: p.size >= 3 and (p > 0).all() and len(set(p.tolist())) == p.size,
], ids=["one-hot", "uniform", "sparse", "full"])
def test_distribution_kinds_occur(predicate):
    _find(distributions(), predicate)


def test_policy_kinds_occur():
    mdp = TabularMDP.stationary(np.full((3, 3, 3), 1 / 3), np.zeros((3, 3)), 2, 0)
    _find(deterministic_policies(mdp), lambda p: (p == 0).all())
    _find(deterministic_policies(mdp), lambda p: len(np.unique(p)) == 3)
    _find(stochastic_policies(mdp), lambda p: (p.max(-1) == 1).all())
    _find(stochastic_policies(mdp), lambda p: (p == 0).any() and (p.max(-1) < 1).any())


# ------------------------------------------------------------------ reproducibility, speed
def test_same_seed_same_model():
    # hypothesis replays a failing example from its choice sequence; the model built from a
    # given draw is a pure function of that draw (no global RNG).
    m1 = _find(tabular_mdps(S=4, A=3, H=3), lambda m: m.name.endswith("distribution)") and "mixed" in m.name)
    m2 = _find(tabular_mdps(S=4, A=3, H=3), lambda m: m.name.endswith("distribution)") and "mixed" in m.name)
    assert m1.name == m2.name
    np.testing.assert_array_equal(np.asarray(m1.P), np.asarray(m2.P))
    np.testing.assert_array_equal(m1.R, m2.R)


@settings(max_examples=20)
@given(tabular_mdps(S=200, A=5, H=10))
def test_large_models_are_cheap_to_draw(mdp):
    _assert_valid(mdp)


# ------------------------------------------------------------------ argument validation
@pytest.mark.parametrize("kwargs, word", [
    ({"S": 0}, "S"), ({"A": -1}, "A"), ({"H": 1.5}, "H"), ({"S": True}, "S"),
    ({"stationary": "yes"}, "stationary"), ({"reward_noise": "gaussian"}, "reward_noise"),
])
def test_tabular_mdps_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        tabular_mdps(**kwargs)


def test_bad_strategy_values_are_reported():
    with pytest.raises(ValueError, match="S"):
        find(tabular_mdps(S=st.just(0)), lambda m: True, settings=FIND)


def test_policy_strategies_need_a_model():
    with pytest.raises(ValueError, match="mdp"):
        deterministic_policies("not a model")
    with pytest.raises(ValueError, match="mdp"):
        stochastic_policies(None)
    with pytest.raises(ValueError, match="n"):
        distributions(0)


def test_module_docstring_example_runs():
    result = doctest.testmod(mt, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
