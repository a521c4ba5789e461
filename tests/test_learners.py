"""Reference learners (mdpkit.learners): the Python UCBVI against the numba UCBVI (adapter and native
loop), Q-learning's update, PSRL's posterior, epsilon-greedy's policy, a jitclass learner, and
that each one learns a bandit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import float64, int64
from numba.experimental import jitclass

import mdpkit
from mdpkit import envs, learners
from mdpkit.algorithms import ucbvi
from mdpkit.learners.harness import make_setting


class Snapshots:
    """Wraps a learner; after every ``policy()`` keeps copies of the policy and of ``inner.Q`` / ``V``."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.policies, self.Qs, self.Vs = [], [], []

    def start(self, setting, seed):
        self.inner.start(setting, seed)
        self.hyper = self.inner.hyper

    def policy(self):
        pol = self.inner.policy()
        self.policies.append(np.array(pol, copy=True))
        self.Qs.append(self.inner.Q.copy())
        self.Vs.append(self.inner.V.copy())
        return pol

    def observe(self, states, actions, rewards):
        self.inner.observe(states, actions, rewards)


ucbvi_options = st.fixed_dictionaries({
    "bonus": st.sampled_from(["bernstein", "hoeffding"]),
    "bonus_scale": st.sampled_from([0.0, 0.02, 0.2, 1.0]),
    "optimistic_init": st.booleans(),
    "delta": st.sampled_from([0.05, 0.5]),
})


def instance(S, A, H, stationary, seed):
    return envs.random_mdp(S, A, H, stationary=stationary, seed=seed, mu0=np.full(S, 1.0 / S))


# ============================================================================ UCBVI: python vs numba
@given(S=st.integers(1, 5), A=st.integers(1, 4), H=st.integers(1, 5), stationary=st.booleans(),
       seed=st.integers(0, 10 ** 6), options=ucbvi_options)
@settings(max_examples=30)
def test_numba_adapter_reproduces_native_ucbvi_bit_for_bit(S, A, H, stationary, seed, options):
    mdp = instance(S, A, H, stationary, seed)
    native = ucbvi.run(mdp, K=40, seed=seed, **options)
    rec = Snapshots(learners.NumbaUCBVI(**options))
    through = learners.run(rec, mdp, K=40, seed=seed)
    np.testing.assert_array_equal(through.values, native.values)
    assert through.optimal_value == native.optimal_value
    np.testing.assert_array_equal(through.regret, native.regret)
    optimistic = np.array([mdp.mu0 @ V[0] for V in rec.Vs])
    np.testing.assert_allclose(optimistic, native.extras["optimistic_values"], rtol=1e-14, atol=1e-14)
    assert through.hyper["log_term"] == native.hyper["log_term"]


#: Bound on |Q_python - Q_numba| / (1 + |Q|): summation order of an S-term dot product and of the
#: one-pass variance (see mdpkit/learners/ucbvi.py).
Q_ROUNDING = 1e-12


@given(S=st.integers(1, 5), A=st.integers(1, 4), H=st.integers(1, 5), stationary=st.booleans(),
       seed=st.integers(0, 10 ** 6), options=ucbvi_options)
@settings(max_examples=30)
def test_python_ucbvi_reproduces_numba_ucbvi(S, A, H, stationary, seed, options):
    """Same deployed policy every episode, hence the same transitions and bit-identical exact values;
    optimistic Q within summation-order rounding."""
    mdp = instance(S, A, H, stationary, seed)
    py, nb = Snapshots(learners.UCBVI(**options)), Snapshots(learners.NumbaUCBVI(**options))
    res_py = learners.run(py, mdp, K=40, seed=seed)
    res_nb = learners.run(nb, mdp, K=40, seed=seed)
    for k in range(40):
        np.testing.assert_array_equal(py.policies[k], nb.policies[k], err_msg=f"episode {k}")
        np.testing.assert_allclose(py.Qs[k], nb.Qs[k], rtol=Q_ROUNDING, atol=Q_ROUNDING, err_msg=f"episode {k}")
    np.testing.assert_array_equal(res_py.values, res_nb.values)
    np.testing.assert_array_equal(res_py.values, ucbvi.run(mdp, K=40, seed=seed, **options).values)
    assert res_py.hyper["log_term"] == res_nb.hyper["log_term"]


@pytest.mark.parametrize("make_mdp", [lambda: envs.riverswim(S=6, H=12), lambda: envs.chain(5),
                                      lambda: envs.deep_sea(5), lambda: instance(10, 3, 8, False, 1)],
                         ids=["riverswim", "chain", "deep_sea", "random_stage_dependent"])
def test_python_ucbvi_matches_native_on_library_instances(make_mdp):
    """Longer runs (600 episodes, policies changing along the run) on structured instances."""
    mdp = make_mdp()
    for scale in (0.01, 1.0):
        native = ucbvi.run(mdp, K=600, seed=5, bonus_scale=scale)
        res = learners.run(learners.UCBVI(bonus_scale=scale), mdp, K=600, seed=5)
        np.testing.assert_array_equal(res.values, native.values)
        if scale == 0.01:
            assert res.extras["policy_changed"].sum() > 5  # the comparison covers replanning


# ============================================================================ Q-learning (Jin et al.)
def test_q_learning_update_by_hand():
    setting = learners.Setting(S=2, A=2, H=2, K=10, stationary=True, reward_info="observed")
    q = learners.QLearningUCB(c=0.5, delta=0.1)
    q.start(setting, 0)
    iota = math.log(2 * 2 * 10 * 2 / 0.1)
    assert q.iota == pytest.approx(iota, rel=1e-15)
    np.testing.assert_array_equal(q.policy(), np.zeros((2, 2), dtype=np.int64))
    q.observe(np.array([0, 1, 1]), np.array([1, 0]), np.array([0.25, 1.0]))
    b1 = 0.5 * math.sqrt(2 ** 3 * iota / 1)
    # t = 1: alpha_1 = 1, so Q = r + V_{h+1}(s') + b_1 (V_1 still H = 2 when step 0 is updated)
    assert q.Q[0, 0, 1] == pytest.approx(0.25 + 2.0 + b1, rel=1e-15)
    assert q.Q[1, 1, 0] == pytest.approx(1.0 + 0.0 + b1, rel=1e-15)
    assert q.V[0, 0] == 2.0 and q.V[1, 1] == 2.0  # min(H, max Q)
    assert q.policy()[0, 0] == 1  # the tried action now has Q > H
    q.observe(np.array([0, 0, 0]), np.array([1, 0]), np.array([0.0, 0.5]))
    alpha2, b2 = 3 / 4, 0.5 * math.sqrt(8 * iota / 2)
    assert q.Q[0, 0, 1] == pytest.approx((1 - alpha2) * (0.25 + 2 + b1) + alpha2 * (0.0 + 2.0 + b2), rel=1e-14)


# ============================================================================ PSRL
def test_psrl_posterior_mean_and_reward_modes():
    setting = learners.Setting(S=3, A=2, H=2, K=10, stationary=True, reward_info="observed")
    p = learners.PSRL(prior=0.5)
    p.start(setting, 123)
    for _ in range(4):
        p.observe(np.array([0, 2, 1]), np.array([1, 1]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(p.transition_counts[0, 0, 1], [0, 0, 4])
    assert p.beta_a[0, 0, 1] == 5.0 and p.beta_b[0, 0, 1] == 1.0 and p.beta_b[1, 2, 1] == 5.0
    draws = [p.sample_model() for _ in range(4000)]
    P_mean = np.mean([d[0] for d in draws], axis=0)
    R_mean = np.mean([d[1] for d in draws], axis=0)
    # Dirichlet(0.5, 0.5, 4.5) mean (0.0909, 0.0909, 0.818), sd <= 0.12: 6 sd / sqrt(4000) < 0.012
    np.testing.assert_allclose(P_mean[0, 0, 1], np.array([0.5, 0.5, 4.5]) / 5.5, atol=0.012)
    np.testing.assert_allclose(P_mean[0, 1, 0], np.full(3, 1 / 3), atol=0.02)
    assert R_mean[0, 0, 1] == pytest.approx(5 / 6, abs=0.012)  # Beta(5, 1)
    assert R_mean[1, 2, 1] == pytest.approx(1 / 6, abs=0.012)
    known = learners.Setting(S=3, A=2, H=2, K=10, stationary=False, reward_info="known",
                             rewards=np.full((2, 3, 2), 0.3))
    p.start(known, 1)
    assert p.transition_counts.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(p.sample_model()[1], np.full((2, 3, 2), 0.3))


# ============================================================================ epsilon-greedy
def test_epsilon_greedy_deploys_the_mixture_of_the_certainty_equivalent_greedy_policy():
    mdp = envs.riverswim(S=4, H=5)
    eg = learners.EpsilonGreedy(epsilon=0.2)
    eg.start(make_setting(mdp, 10, "known"), 0)
    pi = eg.policy()
    P_hat, R_hat = eg.empirical_model()
    np.testing.assert_array_equal(P_hat, np.full((1, 4, 2, 4), 0.25))  # nothing observed: uniform
    greedy = mdpkit.solve(mdpkit.TabularMDP.stationary(P_hat[0], R_hat, H=5, mu0=0)).policy
    np.testing.assert_allclose(pi, 0.8 * np.eye(2)[greedy] + 0.1, rtol=0, atol=1e-15)
    eg0 = learners.EpsilonGreedy(epsilon=0.0)
    eg0.start(make_setting(mdp, 10, "observed"), 0)
    eg0.observe(np.array([0, 1, 1, 2, 2, 3]), np.array([1, 1, 1, 1, 1]), np.array([0.0, 0.0, 0.0, 0.5, 1.0]))
    P_hat, R_hat = eg0.empirical_model()
    assert P_hat[0, 1, 1, 1] == 0.5 and P_hat[0, 1, 1, 2] == 0.5
    assert R_hat[4, 2, 1] == 1.0 and R_hat[0, 0, 0] == 0.0
    assert set(np.unique(eg0.policy())) <= {0.0, 1.0}


# ============================================================================ jitclass learners
@jitclass([("H", int64), ("S", int64), ("A", int64), ("k", int64), ("visits", float64[:, :])])
class RoundRobin:
    """Plays action ``k mod A`` everywhere in episode ``k``; counts state visits."""

    def __init__(self, S, A, H):
        self.S, self.A, self.H, self.k = S, A, H, 0
        self.visits = np.zeros((H + 1, S))

    def policy(self):
        out = np.full((self.H, self.S), self.k % self.A, dtype=np.int64)
        self.k += 1
        return out

    def observe(self, states, actions, rewards):
        for h in range(self.H + 1):
            self.visits[h, states[h]] += 1.0


def round_robin(S, A, H, K, stationary, rewards, seed):
    return RoundRobin(S, A, H)


def test_jitclass_learner_runs_through_the_harness():
    mdp = envs.random_mdp(4, 3, 5, seed=2, mu0=np.full(4, 0.25))
    wrapped = learners.JitclassLearner(round_robin)
    res = learners.run(wrapped, mdp, K=9, seed=0)
    want = [mdpkit.evaluate(mdp, np.full((5, 4), k % 3)).value for k in range(9)]
    np.testing.assert_allclose(res.values, want, rtol=1e-12)
    assert wrapped.inner.visits.sum() == 9 * 6 and res.algorithm == "round_robin"


# ============================================================================ every learner learns
@pytest.mark.parametrize("make, reward_info", [
    (lambda: learners.UCBVI(bonus_scale=0.1), "known"),
    (lambda: learners.NumbaUCBVI(bonus_scale=0.1), "known"),
    (lambda: learners.QLearningUCB(c=0.1), "observed"),
    (lambda: learners.PSRL(), "observed"),
    (lambda: learners.EpsilonGreedy(epsilon=0.1), "observed"),
], ids=["ucbvi", "numba_ucbvi", "qlearning", "psrl", "eps_greedy"])
def test_each_learner_learns_a_bandit(make, reward_info):
    """Three Bernoulli arms (0.2, 0.5, 0.8): the last 100 of 600 episodes are far better than
    uniform play (per-episode regret 0.3); a learner stuck on a bad arm would fail."""
    mdp = envs.bandit([0.2, 0.5, 0.8])
    learner = make()
    assert isinstance(learner, learners.EpisodicLearner)
    res = learners.run(learner, mdp, K=600, seed=1, reward_info=reward_info)
    assert res.per_episode_regret[-100:].mean() < 0.1


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="bonus"):
        learners.UCBVI(bonus="ucb")
    with pytest.raises(ValueError, match="delta"):
        learners.NumbaUCBVI(delta=1.0)
    with pytest.raises(ValueError, match="c must be"):
        learners.QLearningUCB(c=-1)
    with pytest.raises(ValueError, match="prior"):
        learners.PSRL(prior=0)
    with pytest.raises(ValueError, match="epsilon"):
        learners.EpsilonGreedy(epsilon=1.5)
    with pytest.raises(TypeError, match="factory"):
        learners.JitclassLearner(3)
    with pytest.raises(ValueError, match="rewards must be given exactly"):
        learners.Setting(S=1, A=1, H=1, K=1, stationary=True, reward_info="known")
