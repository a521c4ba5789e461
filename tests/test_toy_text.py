"""Ready toy-text instances: equal to gymnasium's own tables, exact values, sampled returns."""

from collections import deque

import numpy as np
import pytest
from scipy.stats import ks_2samp

import mdpkit
from mdpkit.convert import from_gymnasium
from mdpkit.envs.toy_text import FROZEN_LAKE_MAPS, TAXI_LOCATIONS, TAXI_MAP, cliff_walking, frozen_lake, taxi

# (our builder, gymnasium id, make kwargs, H)
INSTANCES = [
    (lambda: frozen_lake(), "FrozenLake-v1", {}, 100),
    (lambda: frozen_lake("8x8"), "FrozenLake8x8-v1", {}, 200),
    (lambda: frozen_lake(is_slippery=False), "FrozenLake-v1", {"is_slippery": False}, 100),
    (lambda: frozen_lake(success_rate=0.6), "FrozenLake-v1", {"success_rate": 0.6}, 100),
    (lambda: cliff_walking(), "CliffWalking-v1", {}, 100),
    (lambda: taxi(), "Taxi-v4", {}, 200),
]


@pytest.mark.parametrize("build, env_id, kwargs, H", INSTANCES)
def test_equal_to_the_gymnasium_conversion(build, env_id, kwargs, H):
    gym = pytest.importorskip("gymnasium")
    ours, theirs = build(), from_gymnasium(gym.make(env_id, **kwargs), H)
    assert (ours.H, ours.S, ours.A) == (theirs.H, theirs.S, theirs.A)
    np.testing.assert_array_equal(ours.P_stages, theirs.P_stages)  # both stationary
    assert ours.is_stationary and theirs.is_stationary
    np.testing.assert_array_equal(ours.transition_rewards, theirs.transition_rewards)
    np.testing.assert_array_equal(ours.mu0, theirs.mu0)
    assert ours.reward_range == theirs.reward_range
    assert mdpkit.solve(ours).value == mdpkit.solve(theirs).value


def _independent_value(table, S, A, H, mu0):
    """Backward induction over a gymnasium table in plain Python: after a terminating transition
    the episode is over (value 0), which is what gymnasium's step/terminated protocol means."""
    V = np.zeros(S)
    for _ in range(H):
        Q = np.array([[sum(p * (r + (0.0 if done else V[t])) for p, t, r, done in table[s][a]) for a in range(A)]
                      for s in range(S)])
        V = Q.max(axis=1)
    return float(mu0 @ V)


def test_frozen_lake_4x4_value_agrees_with_an_independent_solver():
    """The issue's acceptance value, and a solver that shares no code with mdpkit's."""
    mdp = frozen_lake()
    assert mdp.H == 100
    assert mdpkit.solve(mdp).value == pytest.approx(0.7441903, abs=5e-8)
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake-v1").unwrapped
    independent = _independent_value(env.P, 16, 4, 100, env.initial_state_distrib)
    assert mdpkit.solve(mdp).value == pytest.approx(independent, abs=1e-12)


def test_frozen_lake_8x8_value():
    mdp = frozen_lake("8x8")
    assert mdp.H == 200 and mdp.S == 64
    assert mdpkit.solve(mdp).value == pytest.approx(0.9132202, abs=5e-8)
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake8x8-v1").unwrapped
    assert mdpkit.solve(mdp).value == pytest.approx(_independent_value(env.P, 64, 4, 200, env.initial_state_distrib),
                                                    abs=1e-12)


def test_frozen_lake_not_slippery_and_short_horizons():
    # the shortest path from S to G on the 4x4 map takes 6 steps
    assert mdpkit.solve(frozen_lake(is_slippery=False, H=6)).value == 1.0
    assert mdpkit.solve(frozen_lake(is_slippery=False, H=5)).value == 0.0


def test_cliff_walking_value_is_the_13_step_path():
    for H, value in ((100, -13.0), (13, -13.0), (12, -12.0)):  # H = 12 cannot reach the goal
        assert mdpkit.solve(cliff_walking(H=H)).value == value
    mdp = cliff_walking()
    assert mdp.reward_range == (-100.0, 0.0)
    sol = mdpkit.solve(mdp)
    tr = mdpkit.simulate(mdp, sol.policy, 3, seed=0)
    np.testing.assert_array_equal(tr.returns, -13.0)  # deterministic: every episode is the optimum
    assert tr.states[0, 13] == 47


def _taxi_shortest_moves(start, goal):
    """Breadth-first search on Taxi's grid, walls read from the map."""
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        nxt = [(min(r + 1, 4), c), (max(r - 1, 0), c)]
        if TAXI_MAP[1 + r][2 * c + 2] == ":":
            nxt.append((r, min(c + 1, 4)))
        if TAXI_MAP[1 + r][2 * c] == ":":
            nxt.append((r, max(c - 1, 0)))
        for cell in nxt:
            if cell not in dist:
                dist[cell] = dist[(r, c)] + 1
                queue.append(cell)
    return dist[goal]


def test_taxi_value_is_twenty_minus_the_shortest_route():
    returns = []
    for r in range(5):
        for c in range(5):
            for p in range(4):
                for d in range(4):
                    if p != d:  # a start: -1 per move, -1 for the pick-up, +20 for the drop-off
                        moves = _taxi_shortest_moves((r, c), TAXI_LOCATIONS[p]) + \
                            _taxi_shortest_moves(TAXI_LOCATIONS[p], TAXI_LOCATIONS[d])
                        returns.append(20 - moves - 1)
    assert len(returns) == 300
    mdp = taxi()
    assert mdpkit.solve(mdp).value == pytest.approx(np.mean(returns), abs=1e-12)
    assert mdpkit.solve(mdp).value == pytest.approx(7.93, abs=1e-12)


def _gymnasium_returns(policy, n, seed):
    """Episodes of gymnasium's own FrozenLake-v1 (its step, its TimeLimit of 100)."""
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake-v1")
    returns = np.empty(n)
    s, _ = env.reset(seed=seed)
    for i in range(n):
        if i:
            s, _ = env.reset()
        h, total, over = 0, 0.0, False
        while not over:
            s, r, terminated, truncated, _ = env.step(int(policy[h, s]))
            total, h, over = total + r, h + 1, terminated or truncated
        returns[i] = total
    return returns


def test_frozen_lake_sampled_returns_match_gymnasium_rollouts():
    """The measured problem: returns of simulate had std 0.71 against gymnasium's 0.44 when the
    reward of the goal transition was replaced by its expectation. Two-sample KS at 10^4 episodes."""
    mdp = frozen_lake()
    policy = mdpkit.solve(mdp).policy
    theirs = _gymnasium_returns(policy, 10_000, seed=2024)
    ours = mdpkit.simulate(mdp, policy, 10_000, seed=2024).returns
    assert set(np.unique(ours)) <= {0.0, 1.0}
    assert ks_2samp(ours, theirs).pvalue > 0.01
    assert abs(ours.std() - theirs.std()) < 0.02
    # The check has power: the expected-reward model (same means, rewards paid as means) fails it.
    averaged = mdpkit.TabularMDP.stationary(mdp.P_stages[0], mdp.R[0], mdp.H, mdp.mu0)
    assert mdpkit.evaluate(averaged, policy).value == pytest.approx(mdpkit.solve(mdp).value, abs=1e-12)
    wrong = mdpkit.simulate(averaged, policy, 10_000, seed=2024).returns
    assert ks_2samp(wrong, theirs).pvalue < 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match="map_name must be one of"):
        frozen_lake("5x5")
    with pytest.raises(ValueError, match="H is required for a custom FrozenLake map"):
        frozen_lake(["SFG"])
    with pytest.raises(ValueError, match="map letters must be S, F, H or G, got 'X'"):
        frozen_lake(["SXG"], H=3)
    with pytest.raises(ValueError, match="success_rate"):
        frozen_lake(success_rate=1.5)
    with pytest.raises(ValueError, match="H must be >= 1"):
        taxi(H=0)
    assert mdpkit.solve(frozen_lake(["SFG"], H=2, is_slippery=False)).value == 1.0
    assert set(FROZEN_LAKE_MAPS) == {"4x4", "8x8"}
