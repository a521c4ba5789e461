"""TabularMDP: validation (every malformed input names its argument), immutability, memory."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# ----------------------------------------------------------------------------- from_csr
def _csr_of(mdp):
    csr = mdp.sparse_transitions()
    return csr.indptr, csr.indices, csr.data


@given(tabular_mdps(S=st.integers(1, 7), A=st.integers(1, 3), H=st.integers(1, 4)))
def test_from_csr_round_trips_the_dense_constructor(mdp):
    """A model rebuilt from its CSR form equals it: same arrays, density, and solve / evaluate
    results bit for bit on both solver paths; the dense P is only built when asked for."""
    R = mdp.R[0] if mdp.is_stationary and (mdp.R == mdp.R[0]).all() else mdp.R
    sparse = TabularMDP.from_csr(*_csr_of(mdp), R, mdp.H, mdp.mu0, stationary=mdp.is_stationary,
                                 reward_noise=mdp.reward_noise, name=mdp.name)
    assert (sparse.H, sparse.S, sparse.A, sparse.is_stationary) == (mdp.H, mdp.S, mdp.A, mdp.is_stationary)
    assert sparse.density == mdp.density and sparse.n_stored_stages == mdp.n_stored_stages
    for method in ("sparse", "dense", "auto"):
        a, b = mdpkit.solve(mdp, method=method), mdpkit.solve(sparse, method=method)
        assert a.method == b.method
        for x, y in ((a.Q, b.Q), (a.V, b.V), (a.policy, b.policy)):
            assert np.array_equal(x, y)
        assert a.value == b.value
        if method == "sparse":
            assert not sparse.has_dense_transitions  # solved from the CSR arrays alone
        ev_a, ev_b = mdpkit.evaluate(mdp, a.policy, method=method), mdpkit.evaluate(sparse, a.policy, method=method)
        assert np.array_equal(ev_a.Q, ev_b.Q) and ev_a.value == ev_b.value
    assert np.array_equal(sparse.P, mdp.P) and np.array_equal(sparse.R, mdp.R)
    assert np.array_equal(sparse.mu0, mdp.mu0)


def test_from_csr_copies_and_freezes_its_inputs():
    indptr, indices, data = np.array([0, 1, 3, 4, 5]), np.array([1, 0, 1, 0, 1]), np.array([1.0, 0.5, 0.5, 1.0, 1.0])
    mdp = TabularMDP.from_csr(indptr, indices, data, np.full((2, 2), 0.5), 3, 0, name="tiny")
    csr = mdp.sparse_transitions()
    data[0] = 7.0
    assert csr.data[0] == 1.0 and csr.indptr.dtype == np.int64 and csr.indices.dtype == np.int64
    for arr in (csr.indptr, csr.indices, csr.data, mdp.P, mdp.R, mdp.R_view):
        assert not arr.flags.writeable
    assert mdp.P.shape == (3, 2, 2, 2) and mdp.P[2, 0, 1].tolist() == [0.5, 0.5]
    with pytest.raises(AttributeError, match="immutable"):
        mdp._csr = None
    assert "tiny" in repr(mdp) and "stationary" in repr(mdp)


def _chain_csr():
    """S = 3, A = 2: action 0 stays, action 1 moves right (state 2 stays)."""
    indptr = np.array([0, 1, 2, 3, 4, 5, 6])
    indices = np.array([0, 1, 1, 2, 2, 2])
    data = np.ones(6)
    return indptr, indices, data


@pytest.mark.parametrize("change, pattern", [
    (dict(indptr=[0, 1, 2, 3, 4, 5]), r"indptr must have G \* S \* A \+ 1 = 7 entries"),
    (dict(indptr=[1, 1, 2, 3, 4, 5, 6]), r"indptr\[0\] must be 0, got 1"),
    (dict(indptr=[0, 2, 1, 3, 4, 5, 6]), r"indptr must be non-decreasing: indptr\[2\] = 1 < indptr\[1\] = 2 "
                                         r"at row \(s=0, a=1\)"),
    (dict(indptr=[0, 1, 2, 3, 4, 5, 5]), r"indices and data must have indptr\[-1\] = 5 entries, got 6 and 6"),
    (dict(indices=[0, 1, 1, 3, 2, 2]), r"indices\[3\] = 3 at \(s=1, a=1\) is not a state in \[0, 3\)"),
    (dict(indices=[0, 1, 1, -1, 2, 2]), r"indices\[3\] = -1 at \(s=1, a=1\)"),
    (dict(indices=[0.0, 1, 1, 2, 2, 2]), r"indices must be an integer array"),
    (dict(data=[1, 1, 1, -1, 1, 1]), r"data\[3\] = -1.0 at \(s=1, a=1\) is a negative probability"),
    (dict(data=[1, 1, 1, np.nan, 1, 1]), r"data.*(nan|finite)"),
    (dict(data=[1, 1, 1, 0.9, 1, 1]), r"data at row \(s=1, a=1\) .* sums to 0.9, not 1 .*not renormalised"),
])
def test_from_csr_rejects_malformed_arrays_naming_them(change, pattern):
    arrays = dict(zip(("indptr", "indices", "data"), _chain_csr()))
    arrays.update({k: np.asarray(v) for k, v in change.items()})
    with pytest.raises(ValueError, match=pattern):
        TabularMDP.from_csr(arrays["indptr"], arrays["indices"], arrays["data"], np.zeros((3, 2)), 2, 0)


def test_from_csr_rejects_repeated_unsorted_and_zero_successors():
    R = np.zeros((2, 1))
    # row (s=1, a=0) lists successor 1 twice (0.5 + 0.5 would sum to 1: not silently merged)
    with pytest.raises(ValueError, match=r"indices\[2\] = 1 at \(s=1, a=0\) repeats indices\[1\] = 1"):
        TabularMDP.from_csr([0, 1, 3], [0, 1, 1], [1.0, 0.5, 0.5], R, 2, 0)
    with pytest.raises(ValueError, match=r"indices\[2\] = 0 at \(s=1, a=0\) is smaller than indices\[1\] = 1"):
        TabularMDP.from_csr([0, 1, 3], [0, 1, 0], [1.0, 0.5, 0.5], R, 2, 0)
    with pytest.raises(ValueError, match=r"data\[2\] = 0.0 at \(s=1, a=0\), successor 1: store only successors "
                                         r"with positive probability"):
        TabularMDP.from_csr([0, 1, 3], [0, 0, 1], [1.0, 1.0, 0.0], R, 2, 0)
    # stage-dependent models name the stage
    with pytest.raises(ValueError, match=r"data at row \(h=1, s=1, a=0\)"):
        TabularMDP.from_csr([0, 1, 2, 3, 4], [0, 1, 0, 1], [1.0, 1.0, 1.0, 0.5], np.zeros((2, 2, 1)), 2, 0,
                            stationary=False)


@pytest.mark.parametrize("call, pattern", [
    (lambda c: TabularMDP.from_csr(*c, np.zeros(3), 2, 0), r"R must have shape \(S, A\) or \(H, S, A\)"),
    (lambda c: TabularMDP.from_csr(*c, np.full((3, 2), 1.5), 2, 0), r"R\[s=0, a=0\] = 1.5"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((2, 3, 2)), 3, 0), r"R must have shape \(H, S, A\) = \(3, 3, 2\)"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((3, 2)), 0, 0), r"H must be >= 1"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((3, 2)), 2, 3), r"mu0 = 3 is not a state"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((3, 2)), 2, 0, stationary=1), r"stationary must be True or False"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((3, 2)), 2, 0, stationary=False),
     r"indptr must have G \* S \* A \+ 1 = 13 entries \(G = 2 stored stages"),
    (lambda c: TabularMDP.from_csr(*c, np.zeros((3, 2)), 2, 0, reward_noise="gauss"), r"reward_noise"),
])
def test_from_csr_rejects_bad_rewards_horizon_and_start(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(_chain_csr())


def test_dense_transitions_of_a_large_sparse_model_are_refused_with_the_bytes_needed():
    S = 200_000
    indptr = np.arange(S + 1)
    mdp = TabularMDP.from_csr(indptr, np.arange(S), np.ones(S), np.zeros((S, 1)), 2, 0)
    need = 8.0 * S * S
    with pytest.raises(ValueError, match=re.escape(f"would need {need:.3g} bytes") + ".*DENSE_TRANSITIONS_LIMIT"):
        mdp.P_stages
    with pytest.raises(ValueError, match="sparse_transitions"):
        mdp.P
    assert not mdp.has_dense_transitions
    assert mdp.density == 1 / S


def test_stationary_rewards_are_stored_once():
    P, R, mu0 = _valid(H=50, S=4, A=2)
    mdp = TabularMDP.stationary(P[0], R[0], 50, mu0)
    assert mdp.R_view.strides[0] == 0  # a view of the (S, A) table
    assert mdp.R.flags.c_contiguous and mdp.R.shape == (50, 4, 2)
    assert np.array_equal(mdp.R, np.broadcast_to(R[0], (50, 4, 2))) and mdp.R is mdp.R  # cached
    staged = TabularMDP.stationary(P[0], R, 50, mu0)
    assert np.array_equal(staged.R_view, R) and np.array_equal(staged.R, R)
    swapped = mdp.with_rewards(R[1])
    assert np.array_equal(swapped.R, np.broadcast_to(R[1], (50, 4, 2))) and np.array_equal(mdp.R[0], R[0])
