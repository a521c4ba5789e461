"""The exact-audit harness (mdpkit.learners.harness): kernels vs numpy, exact values and regret,
the random streams, what a learner receives (nothing of the model), the constraint audit, the
reward-free harness, and argument validation."""

from __future__ import annotations

import gc
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit import _kernels, envs, learners
from mdpkit.learners import _harness_kernels as hk
from mdpkit.learners.environment import child_seed
from mdpkit.solvers import reference
from mdpkit.testing import deterministic_policies, stochastic_policies, tabular_mdps


# ============================================================================ helpers
class FixedPolicies:
    """Deploys a given sequence of policies (cycled) and records everything it receives."""

    name = "fixed"

    def __init__(self, policies):
        self.policies = policies
        self.received = []

    def start(self, setting, seed):
        self.received.append(("start", setting, seed))
        self.k = 0

    def policy(self):
        self.received.append(("policy",))
        pol = self.policies[self.k % len(self.policies)]
        self.k += 1
        return pol

    def observe(self, states, actions, rewards):
        self.received.append(("observe", states, actions, rewards))


class Recorder:
    """Wraps a learner; keeps a copy of every deployed policy and of every argument it received."""

    def __init__(self, inner):
        self.inner = inner
        self.name = getattr(inner, "name", "recorder")
        self.deployed = []
        self.received = []

    def start(self, setting, seed):
        self.received.append((setting, seed))
        self.inner.start(setting, seed)
        self.hyper = getattr(self.inner, "hyper", {})

    def policy(self):
        pol = self.inner.policy()
        self.deployed.append(np.array(pol, copy=True))
        return pol

    def observe(self, states, actions, rewards):
        self.received.append((states, actions, rewards))
        self.inner.observe(states, actions, rewards)


def as_full(mdp):
    return np.asarray(mdp.P, dtype=float)


def reachable_from_everywhere_values(mdp, policy):
    _, V = reference.policy_evaluation(as_full(mdp), np.asarray(mdp.R), np.asarray(policy))
    return float(mdp.mu0 @ V[0])


# ============================================================================ kernels vs numpy
@given(data=st.data(), mdp=tabular_mdps())
@settings(max_examples=40)
def test_value_kernels_match_numpy_reference(data, mdp):
    det = np.stack([data.draw(deterministic_policies(mdp)) for _ in range(3)])
    sto = np.stack([data.draw(stochastic_policies(mdp)) for _ in range(3)])
    P_stages, R, mu0 = np.ascontiguousarray(mdp.P_stages), np.ascontiguousarray(mdp.R), np.asarray(mdp.mu0)
    V = np.zeros((mdp.H + 1, mdp.S))
    out_det, out_sto = np.empty(3), np.empty(3)
    hk.values_deterministic(P_stages, R, mu0, det, V, out_det)
    hk.values_stochastic(P_stages, R, mu0, sto, V, out_sto)
    for b in range(3):
        assert out_det[b] == pytest.approx(reachable_from_everywhere_values(mdp, det[b]), rel=1e-12, abs=1e-12)
        assert out_sto[b] == pytest.approx(reachable_from_everywhere_values(mdp, sto[b]), rel=1e-12, abs=1e-12)


@given(data=st.data(), mdp=tabular_mdps())
@settings(max_examples=40)
def test_deploy_kernel_is_the_simulator_plus_a_change_test(data, mdp):
    H, S, A = mdp.H, mdp.S, mdp.A
    policy = data.draw(deterministic_policies(mdp))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    uniforms = rng.random((3, 1 + 3 * H))
    P_cdf = _kernels.cumulative_rows(np.ascontiguousarray(mdp.P_stages))
    mu0_cdf = _kernels.cumulative_rows(np.asarray(mdp.mu0))
    R = np.ascontiguousarray(mdp.R)
    bern = mdp.reward_noise == "bernoulli"
    out = [np.full((3, H + 1), -7, dtype=np.int64), np.full((3, H), -7, dtype=np.int64), np.full((3, H), -7.0)]
    ref = [np.empty((3, H + 1), dtype=np.int64), np.empty((3, H), dtype=np.int64), np.empty((3, H))]
    _kernels.simulate_episodes(P_cdf, mu0_cdf, policy, np.zeros((0, 0, 0)), R, bern, uniforms, *ref)
    rows = np.full((3, H, S), -1, dtype=np.int64)  # row 0: nothing deployed yet
    assert hk.deploy_deterministic(policy, rows, 0, A, P_cdf, mu0_cdf, R, bern, uniforms, 1, *out) == hk.CHANGED
    np.testing.assert_array_equal(rows[1], policy)  # the new policy lands in the next audit row
    assert np.all(rows[2] == -1)
    assert hk.deploy_deterministic(policy, rows, 1, A, P_cdf, mu0_cdf, R, bern, uniforms, 2, *out) == hk.UNCHANGED
    assert np.all(rows[2] == -1)  # unchanged: nothing written
    for got, want in zip(out, ref):
        np.testing.assert_array_equal(got[1:], want[1:])  # bit-identical to the simulator
        assert np.all(got[0] == -7)                       # row 0 untouched
    bad = policy.copy()
    bad[H - 1, S - 1] = A
    assert hk.deploy_deterministic(bad, rows, 1, A, P_cdf, mu0_cdf, R, bern, uniforms, 0, *out) == hk.INVALID
    assert np.all(out[0][0] == -7)  # nothing rolled out
    np.testing.assert_array_equal(rows[1], policy)
    assert np.all(rows[2] == -1)


# ============================================================================ exact values, regret, timing
@given(data=st.data(), mdp=tabular_mdps())
@settings(max_examples=25)
def test_values_are_exact_values_of_deployed_policies(data, mdp):
    pols = [data.draw(deterministic_policies(mdp)), data.draw(stochastic_policies(mdp)),
            data.draw(deterministic_policies(mdp))]
    schedule = [pols[i] for i in data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=12))]
    learner = FixedPolicies(schedule)
    K = 2 * len(schedule) + 1
    res = learners.run(learner, mdp, K=K, seed=data.draw(st.integers(0, 1000)))
    expected = [reachable_from_everywhere_values(mdp, schedule[k % len(schedule)]) for k in range(K)]
    np.testing.assert_allclose(res.values, expected, rtol=1e-12, atol=1e-12)
    opt = float(mdp.mu0 @ reference.backward_induction(as_full(mdp), np.asarray(mdp.R))[1][0])
    assert res.optimal_value == pytest.approx(opt, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(res.regret, np.cumsum(res.optimal_value - res.values), rtol=0, atol=0)
    # evaluated only where the deployed policy changed
    seq = [schedule[k % len(schedule)] for k in range(K)]
    want_changed = [True] + [not (a.shape == b.shape and np.array_equal(a, b)) for a, b in zip(seq, seq[1:])]
    np.testing.assert_array_equal(res.extras["policy_changed"], want_changed)
    assert np.all(res.extras["audit_time"][~res.extras["policy_changed"]] == 0.0)
    for key in ("episode_time", "learner_time"):
        assert res.extras[key].shape == (K,) and np.all(res.extras[key] >= 0)
    assert np.all(res.extras["learner_time"] <= res.extras["episode_time"])


def test_many_distinct_policies_cross_audit_batches():
    """More distinct policies than one audit batch (256), deterministic and stochastic mixed."""
    mdp = envs.random_mdp(3, 2, 3, seed=5, mu0=np.full(3, 1 / 3))
    rng = np.random.default_rng(0)
    pols = []
    for i in range(600):
        if i % 3 == 0:
            pols.append(rng.dirichlet(np.ones(2), size=(3, 3)))
        else:
            pols.append(rng.integers(0, 2, size=(3, 3)))
    res = learners.run(FixedPolicies(pols), mdp, K=600, seed=1)
    want = [mdpkit.evaluate(mdp, p).value for p in pols]
    np.testing.assert_allclose(res.values, want, rtol=1e-12, atol=1e-13)



def test_deterministic_batches_carry_the_last_policy_and_any_array_layout_works():
    """> 256 distinct deterministic policies, each deployed twice (the repeat after a batch flush
    must count as unchanged), some as read-only or Fortran-ordered arrays (the dispatcher path)."""
    mdp = envs.random_mdp(3, 2, 3, seed=6, mu0=np.full(3, 1 / 3))
    rng = np.random.default_rng(1)
    distinct = [rng.integers(0, 2, size=(3, 3)) for _ in range(300)]
    schedule = []
    for j, pol in enumerate(distinct):
        if j % 7 == 3:
            pol = np.asfortranarray(pol)
        elif j % 7 == 5:
            pol = pol.copy()
            pol.flags.writeable = False
        schedule += [pol, pol.copy()]
    res = learners.run(FixedPolicies(schedule), mdp, K=len(schedule), seed=2)
    np.testing.assert_allclose(res.values, [mdpkit.evaluate(mdp, p).value for p in schedule], rtol=1e-12, atol=1e-13)
    want_changed = [True] + [not np.array_equal(a, b) for a, b in zip(schedule, schedule[1:])]
    np.testing.assert_array_equal(res.extras["policy_changed"], want_changed)

# ============================================================================ random streams
def test_episodes_follow_the_documented_streams_and_are_reproducible():
    """K > one chunk (1024): the concatenated streams do not depend on chunking."""
    mdp = envs.random_mdp(4, 3, 3, seed=2, mu0=np.full(4, 0.25), reward_noise="bernoulli")
    rng = np.random.default_rng(9)
    stoch = rng.dirichlet(np.ones(3), size=(3, 4))
    K, seed = 1100, 123
    runs = []
    for _ in range(2):
        rec = FixedPolicies([stoch])
        res = learners.run(rec, mdp, K=K, seed=seed)
        runs.append((res, [r[1:] for r in rec.received if r[0] == "observe"]))
    root = np.random.SeedSequence(seed)
    state_draws = np.random.default_rng(root).random((K, 1 + mdp.H))
    noise_draws = np.random.default_rng(child_seed(root, 0)).random((K, 2 * mdp.H))
    uniforms = np.empty((K, 1 + 3 * mdp.H))
    uniforms[:, 0] = state_draws[:, 0]
    uniforms[:, 1::3] = noise_draws[:, :mdp.H]
    uniforms[:, 2::3] = state_draws[:, 1:]
    uniforms[:, 3::3] = noise_draws[:, mdp.H:]
    want = [np.empty((K, mdp.H + 1), dtype=np.int64), np.empty((K, mdp.H), dtype=np.int64), np.empty((K, mdp.H))]
    _kernels.simulate_episodes(_kernels.cumulative_rows(np.asarray(mdp.P_stages)),
                               _kernels.cumulative_rows(np.asarray(mdp.mu0)), np.zeros((0, 0), dtype=np.int64),
                               _kernels.cumulative_rows(stoch), np.asarray(mdp.R), True, uniforms, *want)
    for j in range(3):
        np.testing.assert_array_equal(np.stack([ep[j] for ep in runs[0][1]]), want[j])
        np.testing.assert_array_equal(np.stack([ep[j] for ep in runs[1][1]]), want[j])
    np.testing.assert_array_equal(runs[0][0].values, runs[1][0].values)
    # the observed returns are Monte Carlo draws of the exact value (loose 6-sigma check: not a tuned test)
    returns = want[2].sum(axis=1)
    exact = runs[0][0].values[0]
    assert abs(returns.mean() - exact) < 6 * returns.std() / np.sqrt(K) + 1e-12


def test_seed_sequence_argument_is_not_consumed():
    mdp = envs.riverswim(S=4, H=6)
    ss = np.random.SeedSequence(42)
    a = learners.run(learners.PSRL(), mdp, K=30, seed=ss)
    b = learners.run(learners.PSRL(), mdp, K=30, seed=ss)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.hyper["learner_seed"] == b.hyper["learner_seed"]
    c = learners.run(learners.PSRL(), mdp, K=30, seed=43)
    assert c.hyper["learner_seed"] != a.hyper["learner_seed"]


# ============================================================================ isolation
_MODEL_TYPES = (mdpkit.TabularMDP, mdpkit.LinearMixtureMDP, mdpkit.LowRankMDP, mdpkit.PreferenceGame)


def reaches_a_model(obj, _seen=None, _depth=0) -> bool:
    """Whether a model object is reachable from ``obj`` through containers, attributes, array
    bases, bound methods and closures (module globals and classes are not followed: they are
    reachable from anything)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen or _depth > 50:
        return False
    seen.add(id(obj))
    if isinstance(obj, _MODEL_TYPES):
        return True
    if isinstance(obj, (types.ModuleType, type)):
        return False
    if isinstance(obj, np.ndarray):
        if obj.dtype == object and any(reaches_a_model(x, seen, _depth + 1) for x in obj.ravel()):
            return True
        return obj.base is not None and reaches_a_model(obj.base, seen, _depth + 1)
    if isinstance(obj, types.MethodType):
        return reaches_a_model(obj.__self__, seen, _depth + 1) or reaches_a_model(obj.__func__, seen, _depth + 1)
    if isinstance(obj, types.FunctionType):
        cells = [c.cell_contents for c in (obj.__closure__ or ())]
        return any(reaches_a_model(x, seen, _depth + 1) for x in cells + list(obj.__defaults__ or ()))
    children = list(gc.get_referents(obj))
    for name in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, name):
            children.append(getattr(obj, name))
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        children.extend(vars(obj).values())
    return any(reaches_a_model(x, seen, _depth + 1) for x in children)


def test_introspection_detects_a_model_where_there_is_one():
    """The search below can fail: it finds a model hidden in a closure, an array base, a dict."""
    mdp = envs.riverswim(S=3, H=2)
    assert reaches_a_model({"x": [1, (2, mdp)]})
    assert reaches_a_model(lambda: mdp)
    assert reaches_a_model(np.array([None, mdp], dtype=object)[1:])  # an object array's items, via a view
    holder = types.SimpleNamespace(model=mdp)
    assert reaches_a_model(holder)
    assert reaches_a_model(FixedPolicies([mdp]).policy)  # bound method -> self -> list -> model


@given(mdp=tabular_mdps(), reward_info=st.sampled_from(["known", "observed"]))
@settings(max_examples=20)
def test_learner_receives_no_model(mdp, reward_info):
    rec = Recorder(learners.UCBVI() if reward_info == "known" else learners.QLearningUCB())
    learners.run(rec, mdp, K=4, seed=0, reward_info=reward_info)
    assert not reaches_a_model(rec.received)
    setting, seed = rec.received[0]
    assert type(seed) is int and 0 <= seed < 2 ** 63
    assert isinstance(setting, learners.Setting)
    for field in ("S", "A", "H", "K"):
        assert type(getattr(setting, field)) is int
    assert type(setting.stationary) is bool and type(setting.reward_info) is str
    assert all(type(x) is float for x in setting.reward_range)
    assert (setting.rewards is not None) == (reward_info == "known")
    if setting.rewards is not None:
        np.testing.assert_array_equal(setting.rewards, mdp.R)
        assert not np.shares_memory(setting.rewards, mdp.R) and not setting.rewards.flags.writeable
    for states, actions, rewards in rec.received[1:]:
        assert isinstance(states, np.ndarray) and states.dtype == np.int64 and states.shape == (mdp.H + 1,)
        assert actions.dtype == np.int64 and actions.shape == (mdp.H,)
        assert rewards.dtype == np.float64 and rewards.shape == (mdp.H,)


def twin_models(seed: int, stationary: bool):
    """Two models that differ only where no learner can look: the transitions and rewards of a
    state that cannot be reached (``mu0`` gives it 0 and no transition enters it)."""
    S, A, H = 5, 3, 4
    rng = np.random.default_rng(seed)
    shape = (S, A, S) if stationary else (H, S, A, S)
    models = []
    base_P = rng.dirichlet(np.ones(S - 1), size=shape[:-1])
    base_R = rng.random(shape[:-1])
    for variant in range(2):
        P = np.zeros(shape)
        P[..., :S - 1] = base_P
        R = base_R.copy()
        hidden = np.random.default_rng(100 + variant)
        # the hidden state's own rows and rewards differ between the twins
        P[..., S - 1, :, :] = hidden.dirichlet(np.ones(S), size=P[..., S - 1, :, :].shape[:-1])
        R[..., S - 1, :] = hidden.random(R[..., S - 1, :].shape)
        mu0 = np.r_[np.full(S - 1, 1.0 / (S - 1)), 0.0]
        if stationary:
            models.append(mdpkit.TabularMDP.stationary(P, R, H=H, mu0=mu0))
        else:
            models.append(mdpkit.TabularMDP(P, R, mu0))
    return models


class Peeker:
    """A cheating learner built with a handle on the model: its actions are read off the hidden
    state's transition row. Used to show the invariance test can fail."""

    name = "peeker"

    def __init__(self, mdp):
        self._mdp = mdp

    def start(self, setting, seed):
        self.H, self.S, self.A = setting.H, setting.S, setting.A

    def policy(self):
        hidden_row = np.asarray(self._mdp.P)[0, self.S - 1, 0, :]  # (S,)
        actions = (hidden_row * 1e6).astype(np.int64) % self.A
        return np.broadcast_to(actions, (self.H, self.S)).copy()

    def observe(self, states, actions, rewards):
        pass


@pytest.mark.parametrize("stationary", [True, False])
@pytest.mark.parametrize("make", [
    lambda: learners.UCBVI(bonus_scale=0.05), lambda: learners.NumbaUCBVI(bonus_scale=0.05),
    lambda: learners.QLearningUCB(c=0.1), lambda: learners.PSRL(), lambda: learners.EpsilonGreedy(epsilon=0.2)],
    ids=["ucbvi", "numba_ucbvi", "qlearning", "psrl", "eps_greedy"])
def test_hidden_content_does_not_change_deployed_policies(make, stationary):
    m1, m2 = twin_models(7, stationary)
    assert not np.array_equal(np.asarray(m1.P_stages), np.asarray(m2.P_stages))
    # the known-reward setting reveals R, so the twins' R must not differ there: only P
    reward_info = "known" if isinstance(make(), (learners.UCBVI, learners.NumbaUCBVI)) else "observed"
    if reward_info == "known":
        m2 = mdpkit.TabularMDP(np.asarray(m2.P), np.asarray(m1.R), np.asarray(m1.mu0))
        m1 = mdpkit.TabularMDP(np.asarray(m1.P), np.asarray(m1.R), np.asarray(m1.mu0))
    r1, r2 = Recorder(make()), Recorder(make())
    learners.run(r1, m1, K=60, seed=11, reward_info=reward_info)
    learners.run(r2, m2, K=60, seed=11, reward_info=reward_info)
    assert len(r1.deployed) == 60
    for p, q in zip(r1.deployed, r2.deployed):
        np.testing.assert_array_equal(p, q)
    # the same comparison catches a learner that can see the model
    p1, p2 = Recorder(Peeker(m1)), Recorder(Peeker(m2))
    learners.run(p1, m1, K=2, seed=11, reward_info=reward_info)
    learners.run(p2, m2, K=2, seed=11, reward_info=reward_info)
    assert not np.array_equal(p1.deployed[0], p2.deployed[0])


# ============================================================================ constraint audit
def test_baseline_constraint_audit_is_exact_per_episode():
    mdp = envs.riverswim(S=5, H=8)
    baseline = mdpkit.solve(mdp).policy
    worst = mdpkit.solve(mdp, rewards=-np.asarray(mdp.R)).policy
    A = mdp.A
    mixture = 0.99 * np.eye(A)[baseline] + 0.01 * np.eye(A)[worst]  # (H, S, A): 95% of the baseline value
    schedule = [baseline, worst, mixture, baseline, worst]
    res = learners.run(FixedPolicies(schedule), mdp, K=10, seed=3, baseline=baseline, alpha=0.1)
    vb = mdpkit.evaluate(mdp, baseline).value
    assert res.baseline_value == vb
    assert res.threshold == pytest.approx(0.9 * vb, rel=1e-15)
    want = [mdpkit.evaluate(mdp, schedule[k % 5]).value < 0.9 * vb for k in range(10)]
    np.testing.assert_array_equal(res.extras["violation"], want)
    np.testing.assert_array_equal(res.extras["violation"], res.values < res.threshold)
    assert res.violations == int(np.sum(want))
    assert want == [False, True, False, False, True] * 2  # the audit separates the three


# ============================================================================ reward-free
class UniformExplorer:
    """Reward-free test learner: uniform actions, then plug-in planning on the empirical model."""

    name = "uniform explorer"

    def start(self, setting, seed):
        assert setting.rewards is None and setting.reward_info == "none"
        self.H, self.S, self.A = setting.H, setting.S, setting.A
        self.counts = np.zeros((self.H, self.S, self.A, self.S))

    def policy(self):
        return np.full((self.H, self.S, self.A), 1.0 / self.A)

    def observe(self, states, actions):
        for h in range(self.H):
            self.counts[h, states[h], actions[h], states[h + 1]] += 1

    def plan(self, rewards):
        n = self.counts.sum(axis=-1, keepdims=True)
        P_hat = np.where(n > 0, self.counts / np.maximum(n, 1), 1.0 / self.S)
        return np.stack([reference.backward_induction(P_hat, R)[2] for R in rewards])


def test_reward_free_audit_is_exact_and_shrinks_with_exploration():
    mdp = envs.random_mdp(4, 2, 3, seed=4, mu0=np.full(4, 0.25))
    rewards = np.random.default_rng(0).random((8, mdp.H, mdp.S, mdp.A))
    short = learners.run_reward_free(UniformExplorer(), mdp, K=3, seed=0, rewards=rewards)
    long = learners.run_reward_free(UniformExplorer(), mdp, K=3000, seed=0, rewards=rewards)
    for audit in (short, long):
        assert np.all(audit.gaps >= -1e-12)
        np.testing.assert_allclose(audit.optimal_values, mdpkit.solve(mdp, rewards=rewards).value, rtol=1e-12)
    assert long.gaps.max() < 0.05 and long.gaps.max() < short.gaps.max()


# ============================================================================ dueling (preference games)
class PlugInDueler:
    """Test dueling learner: uniform opponents, a smoothed empirical preference matrix, and the
    regularised equilibrium of that estimate as its policy."""

    name = "plug-in dueler"

    def start(self, setting, seed):
        self.setting, n = setting, setting.n
        self.wins, self.duels = np.zeros((n, n)), np.zeros((n, n))
        self.received = [(setting, seed)]

    def propose(self):
        P_hat = (self.wins + 1.0) / (self.duels + 2.0)  # P_hat + P_hat^T = 1 by construction
        np.fill_diagonal(P_hat, 0.5)
        estimate = mdpkit.PreferenceGame(P_hat, self.setting.mu, self.setting.beta)
        n = self.setting.n
        return mdpkit.regularized_nash(estimate).policy, np.full(n, 1.0 / n)

    def observe(self, y, y_prime, outcome):
        self.received.append((y, y_prime, outcome))
        if y != y_prime:
            winner, loser = (y, y_prime) if outcome else (y_prime, y)
            self.wins[winner, loser] += 1
            self.duels[y, y_prime] += 1
            self.duels[y_prime, y] += 1


def test_dueling_audit_is_exact_and_sees_only_comparisons():
    game = envs.random_preference_game(n=4, beta=0.1, seed=0)
    star = mdpkit.regularized_nash(game)
    short = learners.run_dueling(PlugInDueler(), game, rounds=5, seed=0)
    learner = PlugInDueler()
    long = learners.run_dueling(learner, game, rounds=400, seed=0)
    for audit in (short, long):
        for k in (0, audit.policies.shape[0] - 1):
            assert audit.kl_to_equilibrium[k] == pytest.approx(mdpkit.games.kl(star.policy, audit.policies[k]),
                                                               rel=1e-9, abs=1e-15)
            assert audit.exploitability[k] == mdpkit.games.exploitability(game, audit.policies[k])
    assert long.kl_to_equilibrium[-1] < 0.01 * short.kl_to_equilibrium[-1]
    # the documented stream: y ~ pi_k, y' ~ uniform, o ~ Bernoulli(P[y, y']) from default_rng(seed), 3 per round
    u = np.random.default_rng(0).random((400, 3))
    for k in (0, 1, 399):
        y, y_prime, outcome = learner.received[1 + k]
        assert y == int(np.searchsorted(_kernels.cumulative_rows(long.policies[k]), u[k, 0], side="right"))
        assert y_prime == int(np.searchsorted(_kernels.cumulative_rows(np.full(4, 0.25)), u[k, 1], side="right"))
        assert outcome == int(u[k, 2] < game.P[y, y_prime])
    setting, seed = learner.received[0]
    assert isinstance(setting, learners.PreferenceSetting) and type(seed) is int
    assert all(type(x) is int for r in learner.received[1:] for x in r)
    assert not reaches_a_model(learner.received)
    with pytest.raises(ValueError, match="round 0"):
        learners.run_dueling(types.SimpleNamespace(start=lambda s, z: None, observe=lambda *a: None,
                                                   propose=lambda: (np.ones(4), np.ones(4) / 4)),
                             game, rounds=2, seed=0)


# ============================================================================ validation
def test_bad_arguments_are_named():
    mdp = envs.riverswim(S=3, H=4)
    good = learners.EpsilonGreedy()
    with pytest.raises(TypeError, match="lacks observe"):
        learners.run(types.SimpleNamespace(start=lambda s, z: None, policy=lambda: None), mdp, K=2, seed=0)
    with pytest.raises(ValueError, match="mdp must be"):
        learners.run(good, mdp.P, K=2, seed=0)
    with pytest.raises(ValueError, match="K must be"):
        learners.run(good, mdp, K=0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        learners.run(good, mdp, K=2, seed=-1)
    with pytest.raises(ValueError, match="reward_info"):
        learners.run(good, mdp, K=2, seed=0, reward_info="none")
    with pytest.raises(ValueError, match="baseline and alpha"):
        learners.run(good, mdp, K=2, seed=0, baseline=np.zeros((4, 3), dtype=int))
    with pytest.raises(ValueError, match="alpha"):
        learners.run(good, mdp, K=2, seed=0, baseline=np.zeros((4, 3), dtype=int), alpha=1.5)
    with pytest.raises(ValueError, match="baseline"):
        learners.run(good, mdp, K=2, seed=0, baseline=np.zeros((3, 3), dtype=int), alpha=0.1)
    with pytest.raises(ValueError, match="needs the mean reward table"):
        learners.run(learners.UCBVI(), mdp, K=2, seed=0, reward_info="observed")


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 2), dtype=np.int64), r"episode 1.*shape"),
    (np.full((4, 3), 2, dtype=np.int64), r"episode 1"),
    (np.full((4, 3), -1, dtype=np.int64), r"episode 1"),
    (np.full((4, 3, 2), 0.7), r"episode 1"),
])
def test_bad_policy_names_the_episode(bad, match):
    mdp = envs.riverswim(S=3, H=4)
    with pytest.raises(ValueError, match=match):
        learners.run(FixedPolicies([np.zeros((4, 3), dtype=np.int64), bad]), mdp, K=3, seed=0)


def test_other_integer_dtypes_and_lists_are_accepted():
    mdp = envs.riverswim(S=3, H=4)
    pol = np.ones((4, 3), dtype=np.int32)
    view = np.broadcast_to(np.ones(3, dtype=np.int64), (4, 3))  # read-only, not contiguous
    a = learners.run(FixedPolicies([pol, pol.tolist(), view]), mdp, K=4, seed=0)
    b = learners.run(FixedPolicies([pol.astype(np.int64)]), mdp, K=4, seed=0)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.extras["policy_changed"].tolist() == [True, False, False, False]


def test_progress_bar_writes_to_stderr(capsys):
    mdp = envs.riverswim(S=3, H=4)
    learners.run(learners.EpsilonGreedy(), mdp, K=300, seed=0, progress=True)
    assert "300/300" in capsys.readouterr().err
    learners.run(learners.EpsilonGreedy(), mdp, K=300, seed=0)
    assert capsys.readouterr().err == ""
