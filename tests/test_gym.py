"""Tests of the gymnasium adapter mdpkit.gym.TabularEnv."""
import importlib
import sys
import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

import mdpkit  # noqa: E402
from mdpkit import envs  # noqa: E402
from mdpkit.gym import TabularEnv  # noqa: E402

INSTANCES = {
    "riverswim": lambda: envs.riverswim(6, 12, reward_noise="bernoulli"),
    "deep_sea_random_actions": lambda: envs.deep_sea(5, stochastic=True, randomize_actions=True, seed=1),
    "gridworld_slip": lambda: envs.gridworld(["S..", ".#G"], 6, slip=0.3),
    "random_nonstationary": lambda: envs.random_mdp(6, 3, 5, stationary=False, mu0=np.full(6, 1 / 6),
                                                    reward_noise="bernoulli", seed=3),
}


def _run_episode(env, policy, rng):
    obs, info = env.reset()
    total, steps = 0.0, 0
    while True:
        h = info["h"]
        if policy.ndim == 2:
            action = int(policy[h, obs])
        else:
            action = int(rng.choice(policy.shape[-1], p=policy[h, obs]))
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        steps += 1
        assert not terminated
        if truncated:
            return total, steps


@pytest.mark.parametrize("name", sorted(INSTANCES))
@pytest.mark.parametrize("seed", [None, 0])
def test_passes_gymnasium_env_checker(name, seed):
    env = TabularEnv(INSTANCES[name](), seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)  # no render modes to check
    assert [str(w.message) for w in caught] == []


def test_spaces_and_episode_protocol():
    mdp = envs.gridworld(["S.G"], 4)
    env = TabularEnv(mdp, seed=1)
    assert env.observation_space == gymnasium.spaces.Discrete(3)
    assert env.action_space == gymnasium.spaces.Discrete(4)
    assert env.h is None
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    obs, info = env.reset()
    assert obs == 0 and info == {"h": 0} and env.state == 0
    for h in range(1, 5):
        obs, reward, terminated, truncated, info = env.step(1)  # right
        assert info == {"h": h} and terminated is False and truncated is (h == 4)
        assert isinstance(obs, int) and isinstance(reward, float)
    assert obs == 2 and reward == 1.0
    with pytest.raises(RuntimeError, match="H = 4"):
        env.step(0)
    with pytest.raises(ValueError, match="action"):
        env.reset()
        env.step(4)
    with pytest.raises(ValueError, match="mdp"):
        TabularEnv("riverswim")


def test_one_step_bandit_truncates_immediately():
    # check_env itself assumes episodes longer than one step, so H = 1 models are tested here.
    env = TabularEnv(envs.bandit([0.0, 1.0]), seed=0)
    env.reset()
    _, r0, term, trunc, info = env.step(0)
    assert (r0, term, trunc, info) == (0.0, False, True, {"h": 1})
    env.reset()
    assert env.step(1)[1] == 1.0


def test_seeding_is_reproducible():
    mdp = INSTANCES["random_nonstationary"]()
    policy = np.zeros((mdp.H, mdp.S), dtype=np.int64)

    def episodes(env, n=20):
        out = []
        for _ in range(n):
            obs, _ = env.reset()
            traj = [obs]
            for h in range(mdp.H):
                obs, r, *_ = env.step(int(policy[h, obs]))
                traj += [r, obs]
            out.append(traj)
        return out

    assert episodes(TabularEnv(mdp, seed=5)) == episodes(TabularEnv(mdp, seed=5))
    assert episodes(TabularEnv(mdp, seed=5)) != episodes(TabularEnv(mdp, seed=6))
    a, b = TabularEnv(mdp), TabularEnv(mdp)
    a.reset(seed=9)
    b.reset(seed=9)
    assert episodes(a) == episodes(b)


@pytest.mark.parametrize("name", sorted(INSTANCES))
@pytest.mark.parametrize("kind", ["optimal", "uniform"])
def test_empirical_return_matches_exact_evaluation(name, kind):
    """Mean return over many episodes is within 4 standard errors of evaluate(mdp, policy).value."""
    mdp = INSTANCES[name]()
    policy = (mdpkit.solve(mdp).policy if kind == "optimal"
              else np.full((mdp.H, mdp.S, mdp.A), 1.0 / mdp.A))
    exact = mdpkit.evaluate(mdp, policy).value
    env = TabularEnv(mdp, seed=2024)
    rng = np.random.default_rng(7)
    n = 4000
    returns = np.empty(n)
    for i in range(n):
        returns[i], steps = _run_episode(env, policy, rng)
        assert steps == mdp.H
    se = returns.std(ddof=1) / np.sqrt(n)
    assert abs(returns.mean() - exact) <= 4 * se + 1e-12, (returns.mean(), exact, se)


def test_return_check_has_power():
    """The 4-standard-error check above rejects a wrong value: the same episodes are far from
    the value of a different policy (a mutant of the expected value)."""
    mdp = INSTANCES["riverswim"]()
    right = np.ones((mdp.H, mdp.S), dtype=np.int64)
    left = np.zeros((mdp.H, mdp.S), dtype=np.int64)
    env = TabularEnv(mdp, seed=11)
    returns = np.array([_run_episode(env, right, None)[0] for _ in range(4000)])
    se = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(returns.mean() - mdpkit.evaluate(mdp, right).value) <= 4 * se
    assert abs(returns.mean() - mdpkit.evaluate(mdp, left).value) > 4 * se


def test_missing_gymnasium_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    monkeypatch.delitem(sys.modules, "mdpkit.gym")
    with pytest.raises(ImportError, match=r"pip install mdpkit\[gym\]"):
        importlib.import_module("mdpkit.gym")


def test_module_docstring_example_runs():
    import doctest

    import mdpkit.gym as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_transition_rewards_and_reward_range():
    """A model with next-state rewards pays the reward of the realised transition; the declared
    reward_range is the env's; two-point rewards on a range other than [0, 1]."""
    from mdpkit.envs.toy_text import frozen_lake
    mdp = frozen_lake(H=20)
    env = TabularEnv(mdp, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    assert env.reward_range == (0.0, 1.0)
    policy = mdpkit.solve(mdp).policy
    TR = mdp.transition_rewards[0]
    returns = []
    for _ in range(2000):
        obs, info = env.reset()
        total = 0.0
        for h in range(mdp.H):
            a = int(policy[h, obs])
            nxt, reward, _, _, _ = env.step(a)
            assert reward == TR[obs, a, nxt]  # 0 or 1, never the mean
            total, obs = total + reward, nxt
        returns.append(total)
    returns = np.array(returns)
    se = returns.std(ddof=1) / np.sqrt(returns.size)
    assert abs(returns.mean() - mdpkit.solve(mdp).value) <= 4 * se

    wide = mdpkit.TabularMDP.stationary(np.full((2, 1, 2), 0.5), [[-2.0], [3.0]], 4, 0,
                                        reward_range=(-5.0, 5.0), reward_noise="bernoulli")
    env = TabularEnv(wide, seed=1)
    assert env.reward_range == (-5.0, 5.0)
    rewards = np.empty((3000, 4))
    for i in range(3000):
        env.reset()
        rewards[i] = [env.step(0)[1] for _ in range(4)]
    assert set(np.unique(rewards)) == {-5.0, 5.0}
    # stage 0 starts in state 0 (mean -2); later stages see both states equally (mean 1/2)
    for column, mean in ((rewards[:, 0], -2.0), (rewards[:, 1:].sum(axis=1), 1.5)):
        se = column.std(ddof=1) / np.sqrt(column.size)
        assert abs(column.mean() - mean) <= 4 * se
