"""Sparse models at scale: CSR-only models through solve, evaluate, simulate and the residual;
solve storing only what is requested (bit-identical to the full solve); a large-S smoke test."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit import TabularMDP, _kernels, envs
from mdpkit.solvers import reference
from mdpkit.solvers.exact import bellman_residual
from mdpkit.testing import tabular_mdps


def _from_csr(mdp):
    """``mdp`` rebuilt from its CSR form (its dense P not materialised)."""
    csr = mdp.sparse_transitions()
    return TabularMDP.from_csr(csr.indptr, csr.indices, csr.data, mdp.R, mdp.H, mdp.mu0,
                               stationary=mdp.is_stationary, reward_noise=mdp.reward_noise)


OPTIONS = [dict(return_q=False), dict(values="initial"), dict(return_policy=False),
           dict(policy_dtype=np.int8), dict(return_q=False, values="initial", policy_dtype=np.int16),
           dict(return_q=False, values="initial", return_policy=False)]


@given(tabular_mdps(S=st.integers(1, 8), A=st.integers(1, 4), H=st.integers(1, 6)),
       st.sampled_from(OPTIONS))
def test_requested_outputs_are_bit_identical_to_the_full_solve(mdp, options):
    sparse = _from_csr(mdp)
    for model, method in ((sparse, "sparse"), (mdp, "dense"), (mdp, "sparse")):
        full = mdpkit.solve(model, method=method)
        part = mdpkit.solve(model, method=method, **options)
        assert part.value == full.value and part.method == full.method
        assert np.array_equal(part.V0, full.V[0]) and np.array_equal(full.V0, full.V[0])
        if options.get("return_q", True):
            assert np.array_equal(part.Q, full.Q)
        else:
            assert part.Q is None
        if options.get("values", "all") == "all":
            assert np.array_equal(part.V, full.V)
        else:
            assert part.V is None
        if options.get("return_policy", True):
            assert part.policy.dtype == np.dtype(options.get("policy_dtype", np.int64))
            assert np.array_equal(part.policy, full.policy)
        else:
            assert part.policy is None
    assert not sparse.has_dense_transitions


@given(tabular_mdps(S=st.integers(1, 8), A=st.integers(1, 4), H=st.integers(1, 6)), st.booleans())
def test_select_kernel_equals_numpy_reference_and_the_single_kernel(mdp, two_rows):
    csr = mdp.sparse_transitions()
    H, S, A = mdp.H, mdp.S, mdp.A
    Q = np.empty((H, S, A))
    V = np.empty((2 if two_rows else H + 1, S))
    policy = np.empty((H, S), dtype=np.int32)
    _kernels.backward_induction_sparse_select(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                              np.ascontiguousarray(mdp.R), H, Q, V, policy)
    Q_ref, V_ref, _ = reference.backward_induction(np.asarray(mdp.P), mdp.R)
    np.testing.assert_allclose(Q, Q_ref, rtol=0, atol=1e-12 * H)
    np.testing.assert_allclose(V[0], V_ref[0], rtol=0, atol=1e-12 * H)
    Q1, V1, pol1 = np.empty((H, S, A)), np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    _kernels.backward_induction_sparse_single(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                              np.ascontiguousarray(mdp.R), Q1, V1, pol1)
    assert np.array_equal(Q, Q1) and np.array_equal(V[0], V1[0]) and np.array_equal(policy, pol1)
    if not two_rows:
        assert np.array_equal(V, V1)


def test_select_kernel_reads_stationary_rewards_as_stored():
    mdp = envs.random_mdp(40, 3, 7, n_successors=5, seed=11)
    csr = mdp.sparse_transitions()
    outputs = []
    for R in (mdp.R_view[:1].copy(), np.ascontiguousarray(mdp.R)):  # (1, S, A) and (H, S, A)
        Q, V, pol = np.empty((7, 40, 3)), np.empty((8, 40)), np.empty((7, 40), dtype=np.int8)
        _kernels.backward_induction_sparse_select(csr.indptr, csr.indices, csr.data, 1, R, 7, Q, V, pol)
        outputs.append((Q, V, pol))
    assert all(np.array_equal(a, b) for a, b in zip(*outputs))


@pytest.mark.parametrize("bad, pattern", [
    (dict(values="last"), r"values must be one of \('all', 'initial'\)"),
    (dict(return_q=1), r"return_q must be True or False"),
    (dict(return_policy="no"), r"return_policy must be True or False"),
    (dict(policy_dtype=np.float32), r"policy_dtype must be a numpy signed integer dtype"),
    (dict(policy_dtype=np.uint8), r"policy_dtype must be a numpy signed integer dtype"),
])
def test_bad_output_options_raise_naming_them(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        mdpkit.solve(envs.riverswim(4, 3), **bad)


def test_policy_dtype_must_hold_every_action():
    mdp = envs.random_mdp(3, 200, 2, seed=0)
    with pytest.raises(ValueError, match=r"policy_dtype = int8 cannot hold action indices up to A - 1 = 199"):
        mdpkit.solve(mdp, policy_dtype=np.int8)
    assert mdpkit.solve(mdp, policy_dtype=np.int16).policy.max() < 200


@given(tabular_mdps(S=st.integers(1, 7), A=st.integers(1, 3), H=st.integers(1, 5)), st.booleans(),
       st.integers(0, 2 ** 32 - 1))
def test_simulate_on_csr_is_bit_identical_to_the_dense_path(mdp, stochastic, seed):
    sparse = _from_csr(mdp)
    policy = mdpkit.solve(mdp).policy
    if stochastic:
        policy = np.random.default_rng(seed).dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    a = mdpkit.simulate(mdp, policy, 50, seed=seed)
    b = mdpkit.simulate(sparse, policy, 50, seed=seed)
    assert np.array_equal(a.states, b.states) and np.array_equal(a.actions, b.actions)
    assert np.array_equal(a.rewards, b.rewards)
    assert not sparse.has_dense_transitions


@given(tabular_mdps(S=st.integers(1, 7), A=st.integers(1, 3), H=st.integers(1, 5)))
def test_cumulative_csr_rows_equal_the_dense_cumulative_rows_at_the_non_zeros(mdp):
    csr = mdp.sparse_transitions()
    dense_cdf = _kernels.cumulative_rows(np.asarray(mdp.P_stages)).reshape(-1, mdp.S)
    rows = np.repeat(np.arange(dense_cdf.shape[0]), np.diff(csr.indptr))
    assert np.array_equal(_kernels.cumulative_csr_rows(csr.indptr, csr.data), dense_cdf[rows, csr.indices])


def test_evaluate_and_residual_run_on_csr_without_materialising():
    mdp = envs.random_mdp(60, 3, 6, n_successors=4, stationary=False, seed=5)
    dense = TabularMDP(np.asarray(envs.random_mdp(60, 3, 6, n_successors=4, stationary=False, seed=5).P),
                       mdp.R, mdp.mu0)
    assert not mdp.has_dense_transitions
    sol = mdpkit.solve(mdp, method="sparse")
    stochastic = np.random.default_rng(0).dirichlet(np.ones(3), size=(6, 60))
    for policy in (sol.policy, stochastic):
        a, b = mdpkit.evaluate(mdp, policy, method="sparse"), mdpkit.evaluate(dense, policy, method="sparse")
        assert np.array_equal(a.Q, b.Q) and np.array_equal(a.V, b.V) and np.array_equal(a.V0, b.V[0])
    residual = bellman_residual(mdp, sol.V)
    assert residual < 1e-12 and residual == pytest.approx(bellman_residual(dense, sol.V), abs=1e-14)
    assert bellman_residual(mdp, sol.V + np.eye(7, 60)[:, :60] * 0.25) >= 0.25 - 1e-12
    assert not mdp.has_dense_transitions


def test_large_riverswim_builds_and_solves_without_dense_arrays():
    """S = 10^5 (a dense P would be 160 GB): build, lean solve, evaluate its policy, simulate."""
    S, H = 100_000, 5
    mdp = envs.riverswim(S=S, H=H)
    assert mdp.sparse_transitions().nnz == 4 * S - 2 and mdp.density == (4 * S - 2) / (2 * S * S)
    sol = mdpkit.solve(mdp, values="initial", return_q=False, policy_dtype=np.int8)
    assert sol.method == "sparse" and sol.Q is None and sol.V is None and sol.policy.dtype == np.int8
    # the far end is out of reach in 5 steps: the best is swimming left at state 0 every step
    assert sol.value == pytest.approx(5 * 0.005, abs=1e-15)
    assert np.all(sol.policy[:, 0] == 0)
    assert mdpkit.evaluate(mdp, sol.policy.astype(np.int64)).value == sol.value
    traj = mdpkit.simulate(mdp, sol.policy.astype(np.int64), 20, seed=0)
    assert np.all(traj.states == 0) and traj.returns == pytest.approx(np.full(20, 0.025))
    assert not mdp.has_dense_transitions
    with pytest.raises(ValueError, match="would need 1.6e\\+11 bytes"):
        mdp.P


@given(tabular_mdps(S=st.integers(1, 8), A=st.integers(1, 4), H=st.integers(1, 6)),
       st.sampled_from([dict(return_q=False), dict(values="initial"), dict(return_q=False, values="initial")]),
       st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_evaluate_requested_outputs_are_bit_identical_to_the_full_evaluation(mdp, options, stochastic, seed):
    policy = mdpkit.solve(mdp).policy
    if stochastic:
        policy = np.random.default_rng(seed).dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    sparse = _from_csr(mdp)
    for model, method in ((sparse, "sparse"), (mdp, "dense"), (mdp, "sparse")):
        full = mdpkit.evaluate(model, policy, method=method)
        part = mdpkit.evaluate(model, policy, method=method, **options)
        assert part.value == full.value and np.array_equal(part.V0, full.V[0])
        assert part.Q is None if "return_q" in options else np.array_equal(part.Q, full.Q)
        assert part.V is None if "values" in options else np.array_equal(part.V, full.V)
    _, V_ref = reference.policy_evaluation(np.asarray(mdp.P), mdp.R, policy)[:2]
    np.testing.assert_allclose(mdpkit.evaluate(sparse, policy, method="sparse", values="initial").V0, V_ref[0],
                               rtol=0, atol=1e-12 * mdp.H)
    assert not sparse.has_dense_transitions


def test_with_rewards_of_a_csr_model_shares_the_csr_and_stays_sparse():
    mdp = envs.chain(30, 40, slip=0.1)
    R = np.random.default_rng(1).random((30, 2))
    swapped = mdp.with_rewards(R)
    assert swapped.sparse_transitions() is mdp.sparse_transitions()
    dense = TabularMDP.stationary(np.asarray(envs.chain(30, 40, slip=0.1).P_stages[0]), R, 40, mdp.mu0)
    a, b = mdpkit.solve(swapped, method="sparse"), mdpkit.solve(dense, method="sparse")
    assert np.array_equal(a.Q, b.Q) and a.value == b.value
    assert not mdp.has_dense_transitions and not swapped.has_dense_transitions
