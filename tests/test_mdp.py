"""TabularMDP: validation (every malformed input names its argument), immutability, memory."""

import re

import numpy as np
import pytest
from hypothesis import given

import mdpkit
from mdpkit import TabularMDP
from mdpkit.testing import tabular_mdps


def _valid(H=3, S=4, A=2, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    R = rng.random((H, S, A))
    mu0 = rng.dirichlet(np.ones(S))
    return P, R, mu0


def test_valid_model_attributes_and_readonly():
    P, R, mu0 = _valid()
    mdp = TabularMDP(P, R, mu0, name="toy")
    assert (mdp.H, mdp.S, mdp.A) == (3, 4, 2)
    assert not mdp.is_stationary
    for arr in (mdp.P, mdp.R, mdp.mu0):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[(0,) * arr.ndim] = 0.5
    with pytest.raises(AttributeError, match="immutable"):
        mdp.H = 7
    # The model copied its inputs: mutating the caller's arrays changes nothing.
    P[0, 0, 0] = 0.0
    assert mdp.P[0, 0, 0].sum() == pytest.approx(1.0)
    assert "toy" in repr(mdp)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda P, R, m: (P[0], R, m), r"P must have 4 dimensions"),
    (lambda P, R, m: (P[..., :3], R, m), r"P must have shape \(H, S, A, S\).*last axis 3 != S = 4"),
    (lambda P, R, m: (P, R[:, :3], m), r"R must have shape \(H, S, A\) = \(3, 4, 2\)"),
    (lambda P, R, m: (P, R[:2], m), r"R must have shape \(H, S, A\) = \(3, 4, 2\)"),
    (lambda P, R, m: (P, R, m[:3]), r"mu0 must have shape \(S,\) = \(4,\)"),
    (lambda P, R, m: (_set(P, (1, 2, 0, 3), np.nan), R, m), r"P\[h=1, s=2, a=0, s'=3\] = nan is not finite"),
    (lambda P, R, m: (_set(P, (0, 1, 1, 0), np.inf), R, m), r"P\[h=0, s=1, a=1, s'=0\] = inf is not finite"),
    (lambda P, R, m: (P, _set(R, (2, 3, 1), np.nan), m), r"R\[h=2, s=3, a=1\] = nan is not finite"),
    (lambda P, R, m: (_neg(P, (2, 0, 1)), R, m), r"P\[h=2, s=0, a=1, s'=0\] = -0\.1 is a negative probability"),
    (lambda P, R, m: (_scale(P, (1, 3, 0), 1.001), R, m), r"P\[h=1, s=3, a=0\] sums to 1\.001"),
    (lambda P, R, m: (P, _set(R, (0, 2, 1), 1.5), m), r"R\[h=0, s=2, a=1\] = 1\.5 is outside \[0\.0, 1\.0\]"),
    (lambda P, R, m: (P, _set(R, (1, 0, 0), -0.2), m), r"R\[h=1, s=0, a=0\] = -0\.2 is outside"),
    (lambda P, R, m: (P, R, m * 0.5), r"mu0 sums to 0\.(5|4999)"),
    (lambda P, R, m: (P, R, _set(m, (2,), -0.5)), r"mu0\[s=2\] = -0\.5 is a negative probability"),
    (lambda P, R, m: (P, R, 9), r"mu0 = 9 is not a state in \[0, 4\)"),
    (lambda P, R, m: (np.full(P.shape, "x"), R, m), r"P must be a numeric array"),
])
def test_malformed_inputs_raise_naming_argument_and_entry(mutate, pattern):
    P, R, mu0 = mutate(*_valid())
    with pytest.raises(ValueError, match=pattern):
        TabularMDP(P, R, mu0)


def _set(arr, idx, value):
    arr = np.array(arr, dtype=float if arr.dtype.kind == "f" else arr.dtype)
    arr[idx] = value
    return arr


def _neg(P, row):
    P = P.copy()
    P[row][0] = -0.1
    P[row][1] += 0.1
    return P


def _scale(P, row, factor):
    P = P.copy()
    P[row] *= factor
    return P


def test_row_sum_tolerance_is_1e9():
    P, R, mu0 = _valid()
    P[0, 0, 0, 0] += 5e-10  # within tolerance: accepted as is, not renormalised
    mdp = TabularMDP(P, R, mu0)
    assert mdp.P[0, 0, 0].sum() == pytest.approx(1 + 5e-10, abs=1e-15)
    P[0, 0, 0, 0] += 2e-9
    with pytest.raises(ValueError, match=r"P\[h=0, s=0, a=0\] sums to"):
        TabularMDP(P, R, mu0)


def test_horizon_and_other_arguments():
    P, R, mu0 = _valid()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="^H must"):
            TabularMDP.stationary(P[0], R[0], bad, mu0)
    with pytest.raises(ValueError, match="reward_noise must be one of"):
        TabularMDP(P, R, mu0, reward_noise="gaussian")
    with pytest.raises(ValueError, match=r"P must have shape \(S, A, S\)"):
        TabularMDP.stationary(P[0][:, :, :2], R[0], 3, mu0)
    with pytest.raises(ValueError, match=r"R must have shape \(S, A\) = \(4, 2\) or \(H, S, A\)"):
        TabularMDP.stationary(P[0], R[0, :2], 3, mu0)
    with pytest.raises(ValueError, match=r"P\[s=1, a=0\] sums to"):
        TabularMDP.stationary(_scale(P[0], (1, 0), 0.9), R[0], 3, mu0)


def test_stationary_stores_transitions_once():
    S, A, H = 5000, 2, 1000
    rng = np.random.default_rng(1)
    P = np.zeros((S, A, S))
    P[np.arange(S), 0, (np.arange(S) + 1) % S] = 1.0
    P[np.arange(S), 1, rng.integers(0, S, S)] = 1.0
    mdp = TabularMDP.stationary(P, np.zeros((S, A)), H, 0)
    assert mdp.is_stationary
    assert mdp.P.shape == (H, S, A, S)
    assert mdp.P_stages.shape == (1, S, A, S)
    # A broadcast view: no H copies (H copies would be 400 GB).
    assert mdp.P.strides[0] == 0
    assert not mdp.P.flags.writeable


def test_with_rewards_shares_transitions():
    P, R, mu0 = _valid()
    mdp = TabularMDP(P, R, mu0, reward_noise="bernoulli")
    other = mdp.with_rewards(np.zeros_like(R))
    assert np.shares_memory(other.P_stages, mdp.P_stages)
    assert other.reward_noise == "bernoulli"
    assert other.R.sum() == 0 and mdp.R.sum() > 0
    with pytest.raises(ValueError, match=r"R\[h=0, s=0, a=0\] = 2\.0 is outside"):
        mdp.with_rewards(np.full_like(R, 2.0))
    stat = TabularMDP.stationary(P[0], R[0], 3, mu0)
    assert stat.with_rewards(R[1] * 0.5).R.shape == (3, 4, 2)


@given(tabular_mdps())
def test_sparse_transitions_reproduce_dense(mdp):
    csr = mdp.sparse_transitions()
    dense = np.zeros(mdp.P_stages.size).reshape(-1, mdp.S)
    rows = np.repeat(np.arange(dense.shape[0]), np.diff(csr.indptr))
    dense[rows, csr.indices] = csr.data
    np.testing.assert_array_equal(dense.reshape(mdp.P_stages.shape), mdp.P_stages)
    assert csr.nnz == np.count_nonzero(mdp.P_stages)
    assert mdp.density == pytest.approx(csr.nnz / mdp.P_stages.size)


def test_policy_validation_names_entry():
    P, R, mu0 = _valid()
    mdp = TabularMDP(P, R, mu0)
    bad = np.zeros((3, 4), dtype=int)
    bad[1, 2] = 2
    with pytest.raises(ValueError, match=re.escape("policy[h=1, s=2] = 2 is not in [0, 2)")):
        mdpkit.evaluate(mdp, bad)
    with pytest.raises(ValueError, match=r"policy must have shape \(H, S\) = \(3, 4\)"):
        mdpkit.evaluate(mdp, np.zeros(4, dtype=int))
    stoch = np.full((3, 4, 2), 0.5)
    stoch[2, 1] = [0.7, 0.7]
    with pytest.raises(ValueError, match=r"policy\[h=2, s=1\] sums to 1\.4"):
        mdpkit.evaluate(mdp, stoch)
    with pytest.raises(ValueError, match="policy must be an integer array"):
        mdpkit.evaluate(mdp, np.full((3, 4), 0.5))
    # a stochastic policy missing the H axis is a shape error, not a dtype error
    with pytest.raises(ValueError, match=re.escape("policy must have shape (H, S) = (3, 4) (deterministic) or "
                                                   "(H, S, A) = (3, 4, 2) (stochastic), got (4, 2)")):
        mdpkit.evaluate(mdp, np.full((4, 2), 0.5))


def test_row_sum_shown_without_round_off_digits():
    P, R, mu0 = _valid()
    P[1, 3, 0] = [0.1, 0.2, 0.68, 0.0]  # sums to 0.9800000000000001 in floating point
    with pytest.raises(ValueError, match=re.escape("P[h=1, s=3, a=0] sums to 0.98, not 1 (tolerance 1e-09); "
                                                   "rows are not renormalised")):
        TabularMDP(P, R, mu0)
    from mdpkit._validation import check_stochastic
    # 12 digits would print "1": the full repr is kept so the sum never reads as 1
    with pytest.raises(ValueError, match=re.escape("sums to 1.0000000000001998,")):
        check_stochastic("p", np.array([0.5, 0.5 + 2e-13]), atol=1e-13)


def test_stationary_rewards_are_reported_in_the_callers_shape():
    P, R, mu0 = _valid()
    bad = R[0].copy()
    bad[3, 1] = 1.5
    with pytest.raises(ValueError, match=re.escape("R[s=3, a=1] = 1.5 is outside [0.0, 1.0]")):
        TabularMDP.stationary(P[0], bad, 3, mu0)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("R[s=3, a=1] = nan is not finite")):
        TabularMDP.stationary(P[0], bad, 3, mu0)
    mdp = TabularMDP.stationary(P[0], R[0], 3, mu0)
    with pytest.raises(ValueError, match=re.escape("R[s=0, a=1] = -0.5 is outside")):
        mdp.with_rewards(_set(R[0], (0, 1), -0.5))


@pytest.mark.parametrize("mu0, shown", [(True, "True"), (1.0, "1.0"), (np.float64(0.5), "0.5"),
                                         (np.array(2), "array(2)"), (None, "None")])
def test_scalar_mu0_that_is_not_an_int_state(mu0, shown):
    P, R, _ = _valid()
    with pytest.raises(ValueError, match=re.escape("mu0 must be an int state index or an (S,) = (4,) "
                                                   f"distribution, got {shown}")):
        TabularMDP(P, R, mu0)


def test_shape_messages_write_one_tuples_with_a_comma():
    from mdpkit._validation import as_float_array, check_positive_int
    with pytest.raises(ValueError, match=re.escape("theta must have shape (2,), got (3,)")):
        as_float_array("theta", np.ones(3), shape=(2,))
    with pytest.raises(ValueError, match=re.escape("x must have shape (2, *), got (3,)")):
        as_float_array("x", np.ones(3), shape=(2, None))
    with pytest.raises(ValueError, match=r"K must be an integer >= 1, got 2\.5$"):  # not np.float64(2.5)
        check_positive_int("K", np.float64(2.5))
