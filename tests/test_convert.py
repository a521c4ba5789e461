"""Converters (gymnasium, pymdptoolbox, QuantEcon) and the general-reward model fields
(reward_range, transition_rewards, feasible) they rely on."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit.convert import from_gymnasium, from_mdptoolbox, from_quantecon, table_to_mdp
from mdpkit.solvers.discounted import policy_iteration, solve_finite_horizon, value_iteration

# pymdptoolbox's forest example (S = 3, r1 = 4, r2 = 2, p = 0.1), written out so the published
# values below are checked even without pymdptoolbox.
FOREST_P = np.array([[[0.1, 0.9, 0.0], [0.1, 0.0, 0.9], [0.1, 0.0, 0.9]],
                     [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
FOREST_R = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 2.0]])
# Published in pymdptoolbox's documentation: PolicyIteration(P, R, 0.9).V and
# FiniteHorizon(P, R, 0.9, N=3).V (columns: stages 0..3).
FOREST_PI_V = np.array([26.244, 29.484, 33.484])
FOREST_FH_V = np.array([[2.6973, 0.81, 0.0, 0.0], [5.9373, 3.24, 1.0, 0.0], [9.9373, 7.24, 4.0, 0.0]])
FOREST_FH_POLICY = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]])


# ----------------------------------------------------------------------------- model fields
def test_reward_range_declared_and_validated():
    P = np.full((2, 2, 2), 0.5)
    mdp = mdpkit.TabularMDP.stationary(P, [[-3.0, 2.0], [0.0, 1.0]], 4, 0, reward_range=(-3, 2))
    assert mdp.reward_range == (-3.0, 2.0)
    assert mdpkit.TabularMDP.stationary(P, np.zeros((2, 2)), 4, 0).reward_range == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"R\[s=0, a=0\] = -3.0 is outside \[0.0, 1.0\]"):
        mdpkit.TabularMDP.stationary(P, [[-3.0, 2.0], [0.0, 1.0]], 4, 0)
    with pytest.raises(ValueError, match=r"R\[s=0, a=1\] = 2.0 is outside \[-3.0, 1.5\]"):
        mdpkit.TabularMDP.stationary(P, [[-3.0, 2.0], [0.0, 1.0]], 4, 0, reward_range=(-3, 1.5))
    for bad in ((1, 0), (0, np.inf), (np.nan, 1), (2, 2)):
        with pytest.raises(ValueError, match="reward_range must be"):
            mdpkit.TabularMDP.stationary(P, np.zeros((2, 2)), 4, 0, reward_range=bad)
    with pytest.raises(ValueError, match="reward_range must be a pair"):
        mdpkit.TabularMDP.stationary(P, np.zeros((2, 2)), 4, 0, reward_range=1.0)
    # with_rewards keeps the declared range
    assert mdp.with_rewards(np.full((2, 2), -1.0)).reward_range == (-3.0, 2.0)
    with pytest.raises(ValueError, match="outside"):
        mdp.with_rewards(np.full((2, 2), -4.0))


def test_transition_rewards_validation_and_expectation():
    P = np.array([[[0.25, 0.75]], [[1.0, 0.0]]])
    TR = np.array([[[4.0, 8.0]], [[1.0, -2.0]]])
    mdp = mdpkit.TabularMDP.stationary(P, None, 3, 0, transition_rewards=TR, reward_range=(-2, 8))
    np.testing.assert_array_equal(mdp.R[0], [[7.0], [1.0]])
    V2 = np.array([7.0, 1.0])
    V1 = mdp.R[0, :, 0] + P[:, 0] @ V2
    V0 = mdp.R[0, :, 0] + P[:, 0] @ V1
    assert mdpkit.solve(mdp).value == pytest.approx(V0[0], abs=1e-12)
    with pytest.raises(ValueError, match="R must be None when transition_rewards is given"):
        mdpkit.TabularMDP.stationary(P, np.zeros((2, 1)), 3, 0, transition_rewards=TR, reward_range=(-2, 8))
    with pytest.raises(ValueError, match=r"transition_rewards\[s=0, a=0, s'=0\] = 4.0 is outside \[0.0, 1.0\]"):
        mdpkit.TabularMDP.stationary(P, None, 3, 0, transition_rewards=TR)
    with pytest.raises(ValueError, match="transition_rewards must have shape"):
        mdpkit.TabularMDP.stationary(P, None, 3, 0, transition_rewards=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="transition_rewards must have shape"):
        mdpkit.TabularMDP.stationary(P, None, 3, 0, transition_rewards=np.zeros((2, 2, 1, 2)))
    # stage-dependent transition rewards on a stage-dependent model
    TR_h = (np.stack([TR, 0.5 * TR, 0 * TR]) + 2) / 10
    staged = mdpkit.TabularMDP(np.stack([P] * 3), None, 0, transition_rewards=TR_h)
    np.testing.assert_allclose(staged.R, np.einsum("hsat,hsat->hsa", staged.P, TR_h), rtol=0, atol=1e-15)


def test_with_rewards_drops_transition_rewards():
    P = np.full((2, 1, 2), 0.5)
    mdp = mdpkit.TabularMDP.stationary(P, None, 2, 0, transition_rewards=np.array([[[0.0, 1.0]], [[1.0, 0.0]]]))
    plain = mdp.with_rewards(np.full((2, 1), 0.5))
    assert plain.transition_rewards is None
    assert np.all(mdpkit.simulate(plain, np.zeros((2, 2), dtype=int), 50, seed=0).rewards == 0.5)


def test_algorithms_assuming_unit_rewards_refuse_other_ranges():
    from mdpkit.algorithms import stepmix, ucbvi
    mdp = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), 3, 0, reward_range=(-1, 1))
    with pytest.raises(ValueError, match=r"ucbvi assumes rewards in \[0, 1\].*reward_range = \(-1.0, 1.0\)"):
        ucbvi.run(mdp, K=2, seed=0)
    with pytest.raises(ValueError, match=r"stepmix assumes rewards in \[0, 1\]"):
        stepmix.run(mdp, np.zeros((3, 2), dtype=int), alpha=0.1, K=2, seed=0)
    narrower = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), 3, 0,
                                            reward_range=(0.25, 0.75))
    assert ucbvi.run(narrower, K=2, seed=0).values.shape == (2,)


# ----------------------------------------------------------------------------- feasibility
def _masked_backward_induction(P, R, feasible, H):
    """Reference: plain numpy, Q = -inf at infeasible actions."""
    S, A = R.shape
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q = np.where(feasible, R + P @ V[h + 1], -np.inf)
        V[h] = Q.max(axis=1)
    return V


@settings(max_examples=40)
@given(S=st.integers(1, 5), A=st.integers(1, 4), H=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 1e3, 1e-3]))
def test_solve_maximises_over_feasible_actions_only(S, A, H, seed, scale):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = scale * (rng.random((S, A)) - 0.5)
    feasible = rng.random((S, A)) < 0.5
    feasible[np.arange(S), rng.integers(0, A, S)] = True
    mdp = mdpkit.TabularMDP.stationary(P, R, H, 0, feasible=feasible, reward_range=(-scale, scale))
    want = _masked_backward_induction(P, R, feasible, H)
    for method in ("dense", "sparse"):
        sol = mdpkit.solve(mdp, method=method)
        np.testing.assert_allclose(sol.V, want, rtol=1e-12, atol=1e-12 * scale * H)
        assert np.all(feasible[np.arange(S), sol.policy])  # every stage
        assert np.all(np.isneginf(sol.Q[:, ~feasible]))
        assert mdpkit.evaluate(mdp, sol.policy).value == pytest.approx(sol.value, rel=1e-12, abs=1e-12 * scale * H)
    fh = solve_finite_horizon(mdp, 1.0)
    np.testing.assert_allclose(fh.V, want, rtol=1e-12, atol=1e-12 * scale * H)


def test_evaluate_rejects_infeasible_policies():
    mdp = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 2, 0,
                                       feasible=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match=r"policy\[h=0, s=0\] = 1 is an infeasible action"):
        mdpkit.evaluate(mdp, np.array([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match="feasible\\[h=0, s=1, :\\] is all False"):
        mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 2, 0,
                                     feasible=np.array([[True, False], [False, False]]))
    with pytest.raises(TypeError, match="feasible must be a bool array"):
        mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 2, 0, feasible=np.ones((2, 2)))
    with pytest.raises(ValueError, match="feasible must have shape"):
        mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 2, 0, feasible=np.ones(2, bool))


def test_models_without_the_new_fields_solve_bit_identically():
    """No mask, no transition rewards: the solver path is the one it always was."""
    mdp = mdpkit.envs.random_mdp(6, 3, 7, seed=3)
    same = mdpkit.TabularMDP.stationary(mdp.P_stages[0], mdp.R[0], 7, mdp.mu0)
    all_feasible = mdpkit.TabularMDP.stationary(mdp.P_stages[0], mdp.R[0], 7, mdp.mu0, feasible=np.ones((6, 3), bool))
    a, b, c = mdpkit.solve(mdp), mdpkit.solve(same), mdpkit.solve(all_feasible)
    np.testing.assert_array_equal(a.V, b.V)
    np.testing.assert_array_equal(a.V, c.V)  # an all-True mask changes nothing either
    np.testing.assert_array_equal(a.policy, c.policy)


# ----------------------------------------------------------------------------- gymnasium
def test_from_gymnasium_table_errors():
    table = {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, False)]}}
    mdp = table_to_mdp(table, 2, 1, 3, 0)
    np.testing.assert_array_equal(mdp.P[0, 1, 0], [0.0, 1.0])  # the terminal state absorbs ...
    assert mdp.transition_rewards[0, 1, 0, 1] == 0.0  # ... with reward 0
    assert mdpkit.solve(mdp).value == 1.0
    twice = {0: {0: [(0.5, 0, 1.0, False), (0.5, 0, 2.0, False)]}}
    with pytest.raises(ValueError, match="lists next state 0 with two rewards, 1.0 and 2.0"):
        table_to_mdp(twice, 1, 1, 3, 0)
    mixed = {0: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 2, 1.0, True)]},
             1: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 2, 0.0, False)]},
             2: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 2, 0.0, False)]}}
    with pytest.raises(ValueError, match="state 2 ends the episode when entered by some transitions but not by 1 -> 2"):
        table_to_mdp(mixed, 3, 2, 3, 0)
    with pytest.raises(ValueError, match=r"P\[0\]\[1\] is missing or empty"):
        table_to_mdp({0: {0: [(1.0, 0, 0.0, False)]}}, 1, 2, 3, 0)
    with pytest.raises(ValueError, match="not in \\[0, 1\\)"):
        table_to_mdp({0: {0: [(1.0, 3, 0.0, False)]}}, 1, 1, 3, 0)
    with pytest.raises(ValueError, match=r"P\[s=0, a=0\] sums to"):
        table_to_mdp({0: {0: [(0.5, 0, 0.0, False)]}}, 1, 1, 3, 0)
    with pytest.raises(TypeError, match="env must be a gymnasium environment"):
        from_gymnasium(object(), 3)


def test_from_gymnasium_refuses_what_it_cannot_express():
    gym = pytest.importorskip("gymnasium")
    with pytest.raises(ValueError, match="with two rewards, -1.0 and -100.0"):
        from_gymnasium(gym.make("CliffWalking-v1", is_slippery=True), 100)
    with pytest.raises(ValueError, match="fickle_passenger"):
        from_gymnasium(gym.make("Taxi-v4", fickle_passenger=True), 200)
    rainy = from_gymnasium(gym.make("Taxi-v4", is_rainy=True), 200)  # stochastic moves convert fine
    assert rainy.S == 500 and mdpkit.solve(rainy).value < mdpkit.solve(from_gymnasium(gym.make("Taxi-v4"), 200)).value


# ----------------------------------------------------------------------------- pymdptoolbox
def test_forest_published_values():
    mdp = from_mdptoolbox(FOREST_P, FOREST_R, 3, 0)
    assert (mdp.S, mdp.A, mdp.reward_range) == (3, 2, (0.0, 4.0))
    fh = solve_finite_horizon(mdp, 0.9)
    np.testing.assert_allclose(fh.V.T, FOREST_FH_V, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fh.policy.T, FOREST_FH_POLICY)
    np.testing.assert_allclose(policy_iteration(mdp, None, 0.9).V, FOREST_PI_V, rtol=0, atol=1e-9)
    vi = value_iteration(mdp, None, 0.9, tol=1e-10)
    np.testing.assert_allclose(vi.V, FOREST_PI_V, atol=1e-9)
    # undiscounted, the same recursion with gamma = 1 is mdpkit.solve
    np.testing.assert_allclose(solve_finite_horizon(mdp, 1.0).V, mdpkit.solve(mdp).V, rtol=0, atol=1e-12)


def test_forest_against_pymdptoolbox_itself():
    pytest.importorskip("mdptoolbox")
    import mdptoolbox.example
    import mdptoolbox.mdp
    P, R = mdptoolbox.example.forest()
    np.testing.assert_array_equal(P, FOREST_P)
    np.testing.assert_array_equal(R, FOREST_R)
    P, R = mdptoolbox.example.forest(S=10, r1=3, r2=5, p=0.2)
    mdp = from_mdptoolbox(P, R, 7, 0)
    theirs = mdptoolbox.mdp.FiniteHorizon(P, R, 0.95, 7)
    theirs.run()
    np.testing.assert_allclose(solve_finite_horizon(mdp, 0.95).V.T, theirs.V, rtol=1e-12, atol=1e-12)
    pi = mdptoolbox.mdp.PolicyIteration(P, R, 0.95)
    pi.run()
    np.testing.assert_allclose(policy_iteration(mdp, None, 0.95).V, pi.V, rtol=1e-10)
    # rand(): random transitions and (A, S, S) transition rewards
    np.random.seed(0)
    P, R = mdptoolbox.example.rand(5, 3)
    mdp = from_mdptoolbox(P, R, 4, 0)
    assert mdp.transition_rewards is not None
    theirs = mdptoolbox.mdp.FiniteHorizon(P, R, 0.9, 4)
    theirs.run()
    np.testing.assert_allclose(solve_finite_horizon(mdp, 0.9).V.T, theirs.V, rtol=1e-12, atol=1e-12)


def test_from_mdptoolbox_forms_and_errors():
    by_transition = np.broadcast_to(FOREST_R.T[:, :, None], (2, 3, 3))  # R[a, s, s'] = R[s, a]
    a = from_mdptoolbox(FOREST_P, by_transition, 5, 0)
    b = from_mdptoolbox(list(FOREST_P), FOREST_R, 5, 0)
    np.testing.assert_allclose(a.R, b.R, atol=1e-15)
    by_state = from_mdptoolbox(FOREST_P, np.array([0.0, 1.0, 2.0]), 5, 0)
    np.testing.assert_array_equal(by_state.R[0], [[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="R must have shape"):
        from_mdptoolbox(FOREST_P, np.zeros((2, 3)), 5, 0)
    with pytest.raises(ValueError, match="P must have pymdptoolbox's shape"):
        from_mdptoolbox(np.zeros((2, 3, 4)), FOREST_R, 5, 0)


# ----------------------------------------------------------------------------- QuantEcon
# QuantEcon's DiscreteDP docstring example (Puterman-style two states, one infeasible action).
QE_R = [[5.0, 10.0], [-1.0, -np.inf]]
QE_Q = [[(0.5, 0.5), (0.0, 1.0)], [(0.0, 1.0), (0.5, 0.5)]]
QE_V = np.array([-8.57142857142857, -20.0])  # beta = 0.95: v1 = -1 / 0.05, v0 = (5 - 0.475 * 20) / 0.525


def test_quantecon_example_both_forms():
    qm = pytest.importorskip("quantecon.markov")
    product = qm.DiscreteDP(QE_R, QE_Q, 0.95)
    pairs = qm.DiscreteDP([5.0, 10.0, -1.0], [(0.5, 0.5), (0.0, 1.0), (0.0, 1.0)], 0.95, [0, 0, 1], [0, 1, 0])
    import scipy.sparse as sp
    sparse = qm.DiscreteDP([5.0, 10.0, -1.0], sp.csr_matrix(np.array([(0.5, 0.5), (0.0, 1.0), (0.0, 1.0)])), 0.95,
                           [0, 0, 1], [0, 1, 0])
    theirs = product.solve(method="policy_iteration")
    np.testing.assert_allclose(theirs.v, QE_V, rtol=1e-12)
    for ddp in (product, pairs, sparse):
        mdp = from_quantecon(ddp, 30, 0)
        np.testing.assert_array_equal(mdp.feasible[0], [[True, True], [True, False]])
        pi = policy_iteration(mdp, None, ddp.beta)
        np.testing.assert_allclose(pi.V, theirs.v, rtol=1e-12)
        np.testing.assert_array_equal(pi.policy, theirs.sigma)
        assert np.isneginf(pi.Q[1, 1])
        np.testing.assert_allclose(value_iteration(mdp, None, ddp.beta, tol=1e-10).V, theirs.v, atol=1e-9)
        sol = mdpkit.solve(mdp)
        assert np.all(sol.policy[:, 1] == 0)  # never the infeasible action
        np.testing.assert_allclose(solve_finite_horizon(mdp, ddp.beta).V[0],
                                   _masked_discounted(mdp, ddp.beta), rtol=1e-12)


def _masked_discounted(mdp, gamma):
    V = np.zeros(mdp.S)
    R = np.where(mdp.feasible[0], mdp.R[0], -np.inf)
    for _ in range(mdp.H):
        V = (R + gamma * mdp.P[0] @ V).max(axis=1)
    return V


def test_quantecon_random_instances_against_its_solver():
    qm = pytest.importorskip("quantecon.markov")
    rng = np.random.default_rng(5)
    for S, A in ((6, 3), (12, 4)):
        R = rng.normal(size=(S, A))
        R[rng.random((S, A)) < 0.3] = -np.inf
        R[np.arange(S), rng.integers(0, A, S)] = rng.normal(size=S)  # each state keeps a feasible action
        Q = rng.dirichlet(np.ones(S), size=(S, A))
        ddp = qm.DiscreteDP(R, Q, 0.9)
        theirs = ddp.solve(method="policy_iteration")
        mdp = from_quantecon(ddp, 10, 0)
        pi = policy_iteration(mdp, None, 0.9)
        np.testing.assert_allclose(pi.V, theirs.v, rtol=1e-10, atol=1e-10)
        assert np.all(mdp.feasible[0, np.arange(S), pi.policy])


def test_from_quantecon_errors():
    qm = pytest.importorskip("quantecon.markov")
    with pytest.raises(TypeError, match="ddp must be a quantecon.markov.DiscreteDP"):
        from_quantecon(np.zeros(3), 5, 0)
    ddp = qm.DiscreteDP([[1.0, 2.0], [0.0, 1.0]], [[(1.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]], 0.9)
    mdp = from_quantecon(ddp, 5, 0)
    assert mdp.feasible is None and mdp.reward_range == (0.0, 2.0)


def test_masked_model_lp_and_residual():
    rng = np.random.default_rng(11)
    S, A, H = 5, 3, 6
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.random((S, A))
    feasible = rng.random((S, A)) < 0.5
    feasible[:, 0] = True
    feasible[:, 2] = False  # the best action everywhere, made infeasible
    R[:, 2] = 1.0
    mdp = mdpkit.TabularMDP.stationary(P, R, H, 0, feasible=feasible)
    sol = mdpkit.solve(mdp)
    assert mdpkit.bellman_residual(mdp, sol.V) < 1e-12
    unmasked = mdpkit.TabularMDP.stationary(P, R, H, 0)
    assert mdpkit.bellman_residual(unmasked, sol.V) > 0.1  # the residual sees the mask
    lp = mdpkit.solve_lp(mdp)
    assert lp.value == pytest.approx(sol.value, abs=1e-7)
    assert mdpkit.solve_lp(unmasked).value > sol.value + 0.1


def test_algorithms_refuse_feasibility_masks():
    from mdpkit.algorithms import ucbvi
    mdp = mdpkit.TabularMDP.stationary(np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), 3, 0,
                                       feasible=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match="ucbvi lets every action be taken, but mdp has infeasible actions"):
        ucbvi.run(mdp, K=2, seed=0)


def test_table_to_mdp_checks_mu0_first():
    table = {0: {0: [(1.0, 0, 0.0, False)]}}
    with pytest.raises(ValueError, match=r"mu0 = 3 is not a state in \[0, 1\)"):
        table_to_mdp(table, 1, 1, 2, 3)
    with pytest.raises(ValueError, match="mu0"):
        table_to_mdp(table, 1, 1, 2, [0.5])
