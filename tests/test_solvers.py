"""Exact finite-horizon solvers: optimality, kernels vs the numpy reference, sparse = dense, batching."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit import TabularMDP
from mdpkit.solvers import reference
from mdpkit.testing import deterministic_policies, stochastic_policies, tabular_mdps

METHODS = ("dense", "sparse")


def _tie_safe_policy_check(Q, policy, atol=1e-12):
    """The chosen action attains the max of Q at every (h, s) (ties may go either way)."""
    chosen = np.take_along_axis(Q, policy[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(chosen, Q.max(axis=-1), rtol=0, atol=atol)


@pytest.mark.parametrize("method", METHODS)
@given(mdp=tabular_mdps())
def test_bellman_optimality_residual_is_zero(mdp, method):
    sol = mdpkit.solve(mdp, method=method)
    assert sol.method == method
    assert mdpkit.bellman_residual(mdp, sol.V) <= 1e-10
    assert np.all(sol.V[mdp.H] == 0)
    assert sol.value == pytest.approx(mdp.mu0 @ sol.V[0], abs=1e-12)
    _tie_safe_policy_check(sol.Q, sol.policy)


@pytest.mark.parametrize("method", METHODS)
@given(mdp=tabular_mdps(), data=st.data())
def test_kernels_match_numpy_reference(mdp, method, data):
    P = np.asarray(mdp.P)
    sol = mdpkit.solve(mdp, method=method)
    Q, V, _ = reference.backward_induction(P, mdp.R)
    np.testing.assert_allclose(sol.Q, Q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.V, V, rtol=0, atol=1e-12)
    for policy in (data.draw(deterministic_policies(mdp)), data.draw(stochastic_policies(mdp))):
        ev = mdpkit.evaluate(mdp, policy, method=method)
        Qp, Vp = reference.policy_evaluation(P, mdp.R, policy)
        np.testing.assert_allclose(ev.Q, Qp, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ev.V, Vp, rtol=0, atol=1e-12)


@given(mdp=tabular_mdps(), data=st.data())
def test_optimal_value_dominates_every_policy(mdp, data):
    V_star = mdpkit.solve(mdp).V
    for policy in (data.draw(deterministic_policies(mdp)), data.draw(stochastic_policies(mdp))):
        V_pi = mdpkit.evaluate(mdp, policy).V
        assert np.all(V_pi <= V_star + 1e-10)


@given(mdp=tabular_mdps())
def test_evaluating_the_optimal_policy_gives_v_star(mdp):
    sol = mdpkit.solve(mdp)
    ev = mdpkit.evaluate(mdp, sol.policy)
    np.testing.assert_allclose(ev.V, sol.V, rtol=0, atol=1e-12)
    # The same policy written as one-hot distributions evaluates identically.
    one_hot = np.eye(mdp.A)[sol.policy]
    np.testing.assert_allclose(mdpkit.evaluate(mdp, one_hot).V, sol.V, rtol=0, atol=1e-12)


@given(mdp=tabular_mdps(S=st.integers(1, 8)), data=st.data())
def test_sparse_equals_dense(mdp, data):
    dense, sparse = mdpkit.solve(mdp, method="dense"), mdpkit.solve(mdp, method="sparse")
    np.testing.assert_allclose(sparse.Q, dense.Q, rtol=0, atol=1e-12)
    policy = data.draw(stochastic_policies(mdp))
    np.testing.assert_allclose(mdpkit.evaluate(mdp, policy, method="sparse").V,
                               mdpkit.evaluate(mdp, policy, method="dense").V, rtol=0, atol=1e-12)


@given(mdp=tabular_mdps(), B=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_batched_rewards_equal_looped(mdp, B, seed, data):
    rewards = np.random.default_rng(seed).normal(size=(B, mdp.H, mdp.S, mdp.A))  # any finite reals
    policy = data.draw(stochastic_policies(mdp))
    for method in METHODS:
        batch = mdpkit.solve(mdp, rewards=rewards, method=method)
        batch_eval = mdpkit.evaluate(mdp, policy, rewards=rewards, method=method)
        assert batch.V.shape == (B, mdp.H + 1, mdp.S) and batch.value.shape == (B,)
        for b in range(B):
            single = mdpkit.solve(mdp, rewards=rewards[b], method=method)
            # Same arithmetic in the same order: bit-identical, not merely close.
            np.testing.assert_array_equal(batch.Q[b], single.Q)
            np.testing.assert_array_equal(batch.policy[b], single.policy)
            assert batch.value[b] == single.value
            np.testing.assert_array_equal(batch_eval.V[b],
                                          mdpkit.evaluate(mdp, policy, rewards=rewards[b], method=method).V)


@given(mdp=tabular_mdps(stationary=True))
def test_stationary_equals_stage_dependent_copies(mdp):
    copies = TabularMDP(np.array(mdp.P), mdp.R, mdp.mu0)
    np.testing.assert_array_equal(mdpkit.solve(mdp).V, mdpkit.solve(copies).V)


def test_auto_method_follows_density():
    S, A, H = 60, 2, 4
    P = np.zeros((S, A, S))
    P[np.arange(S), :, (np.arange(S) + 1) % S] = 1.0
    sparse_mdp = TabularMDP.stationary(P, np.ones((S, A)) * 0.5, H, 0)
    dense_mdp = TabularMDP.stationary(np.full((S, A, S), 1 / S), np.ones((S, A)) * 0.5, H, 0)
    assert mdpkit.solve(sparse_mdp).method == "sparse"
    assert mdpkit.solve(dense_mdp).method == "dense"
    with pytest.raises(ValueError, match="method must be one of"):
        mdpkit.solve(dense_mdp, method="gpu")


def test_known_closed_form_chain():
    # Deterministic cycle, reward 1 only for action 1 in state 0: V*_0(0) counts the visits
    # to state 0 in H steps, each time taking action 1.
    S, A, H = 3, 2, 7
    P = np.zeros((S, A, S))
    P[np.arange(S), :, (np.arange(S) + 1) % S] = 1.0
    R = np.zeros((S, A))
    R[0, 1] = 1.0
    sol = mdpkit.solve(TabularMDP.stationary(P, R, H, 0))
    assert sol.value == 3.0  # stages 0, 3, 6
    assert sol.policy[0, 0] == 1 and sol.policy[3, 0] == 1


def test_bad_rewards_argument():
    mdp = TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 3, 0)
    with pytest.raises(ValueError, match=r"rewards must have shape \(H, S, A\) = \(3, 2, 2\)"):
        mdpkit.solve(mdp, rewards=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"rewards must have shape \(B, H, S, A\)"):
        mdpkit.solve(mdp, rewards=np.zeros((4, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"rewards\[.*\] = nan is not finite"):
        mdpkit.solve(mdp, rewards=np.full((3, 2, 2), np.nan))
    with pytest.raises(ValueError, match=r"V must have shape \(4, 2\)"):
        mdpkit.bellman_residual(mdp, np.zeros((3, 2)))


def test_solvers_reject_a_raw_array_for_mdp():
    mdp = TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 3, 0)
    for call in (lambda: mdpkit.solve(np.asarray(mdp.P)),
                 lambda: mdpkit.evaluate(np.asarray(mdp.P), np.zeros((3, 2), dtype=int)),
                 lambda: mdpkit.bellman_residual(np.asarray(mdp.P), np.zeros((4, 2)))):
        with pytest.raises(ValueError, match="^mdp must be a mdpkit.TabularMDP, got ndarray$"):
            call()


@pytest.mark.parametrize("stationary", [True, False])
def test_results_do_not_depend_on_the_thread_count(stationary, monkeypatch):
    # Large enough for the dense sweeps to split states over threads (S * A * S >=
    # _kernels.PARALLEL_MIN_STAGE_WORK): one numba thread (the serial kernels) gives the same bits.
    import numba

    from mdpkit import _kernels, envs

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # it would cap the threads at 1
    if numba.get_num_threads() < 2:
        pytest.skip("numba has a single thread here")
    mdp = envs.random_mdp(330, 10, 3, stationary=stationary, seed=5)
    assert _kernels.dense_threads(mdp.S * mdp.A * mdp.S) > 1
    rewards = np.random.default_rng(6).normal(size=(2, mdp.H, mdp.S, mdp.A))
    policy = np.random.default_rng(7).dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))

    def run():
        return (mdpkit.solve(mdp, method="dense"), mdpkit.solve(mdp, rewards=rewards, method="dense"),
                mdpkit.evaluate(mdp, policy, method="dense"))

    threaded = run()
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = run()
    finally:
        numba.set_num_threads(before)
    for a, b in zip(threaded, single):
        np.testing.assert_array_equal(a.Q, b.Q)
        np.testing.assert_array_equal(a.V, b.V)
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))
        if a.policy is not None:
            np.testing.assert_array_equal(a.policy, b.policy)
    assert mdpkit.bellman_residual(mdp, threaded[0].V) <= 1e-10
