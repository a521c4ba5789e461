"""MarkovGame: matrix-game and CCE LPs, exact equilibrium, best responses, Nash gap."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit.envs.lowrank import random_lowrank_game
from mdpkit.markov_game import (
    MarkovGame,
    best_response_to_max,
    best_response_to_min,
    coarse_correlated_equilibrium,
    game_value,
    matrix_game,
    nash_gap,
    solve_game,
)


def _brute_force_value(M: np.ndarray) -> float:
    """Matrix-game value by support enumeration (Shapley-Snow): some equilibrium has square
    supports I, J on which both players are indifferent; try them all and keep one that is an
    equilibrium of the whole game."""
    A, B = M.shape
    for k in range(1, min(A, B) + 1):
        for I in itertools.combinations(range(A), k):
            for J in itertools.combinations(range(B), k):
                sub = M[np.ix_(I, J)]
                # x on I with x @ sub = v 1 and sum x = 1; y on J with sub @ y = v 1 and sum y = 1
                lhs_x = np.block([[sub.T, -np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
                lhs_y = np.block([[sub, -np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
                rhs = np.r_[np.zeros(k), 1.0]
                try:
                    sol_x, sol_y = np.linalg.solve(lhs_x, rhs), np.linalg.solve(lhs_y, rhs)
                except np.linalg.LinAlgError:
                    continue
                x, y = np.zeros(A), np.zeros(B)
                x[list(I)], y[list(J)] = sol_x[:k], sol_y[:k]
                if x.min() < -1e-12 or y.min() < -1e-12:
                    continue
                if (x @ M).min() >= (M @ y).max() - 1e-9:  # no profitable deviation for either
                    return float(x @ M @ y)
    raise AssertionError("no equilibrium found")  # pragma: no cover


# ----------------------------------------------------------------------------- matrix games
def test_matching_pennies():
    value, x, y = matrix_game([[1.0, -1.0], [-1.0, 1.0]])
    assert value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(x, [0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(y, [0.5, 0.5], atol=1e-9)


def test_rock_paper_scissors():
    value, x, y = matrix_game([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])
    assert value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(x, np.full(3, 1 / 3), atol=1e-9)
    np.testing.assert_allclose(y, np.full(3, 1 / 3), atol=1e-9)


def test_known_2x2_value():
    # no saddle point: value = (ad - bc) / (a + d - b - c) = (3 - 2) / 7
    value, x, _ = matrix_game([[3.0, -1.0], [-2.0, 1.0]])
    assert value == pytest.approx(1 / 7, abs=1e-12)
    np.testing.assert_allclose(x, [3 / 7, 4 / 7], atol=1e-9)


@given(A=st.integers(1, 3), B=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_matrix_game_equals_brute_force(A, B, seed):
    M = np.random.default_rng(seed).random((A, B))
    value, x, y = matrix_game(M)
    assert value == pytest.approx(_brute_force_value(M), abs=1e-8)
    # the strategies certify the value: x guarantees >= value, y concedes <= value
    assert (x @ M).min() >= value - 1e-8
    assert (M @ y).max() <= value + 1e-8


@given(A=st.integers(1, 4), B=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_cce_constraints_hold(A, B, seed):
    rng = np.random.default_rng(seed)
    Q_max, Q_min = rng.random((A, B)), rng.random((A, B))
    sigma = coarse_correlated_equilibrium(Q_max, Q_min)
    assert sigma.min() >= 0 and sigma.sum() == pytest.approx(1.0, abs=1e-12)
    col, row = sigma.sum(axis=0), sigma.sum(axis=1)
    assert np.all(np.sum(sigma * Q_max) >= Q_max @ col - 1e-8)   # max player: no fixed a' is better
    assert np.all(np.sum(sigma * Q_min) <= row @ Q_min + 1e-8)   # min player: no fixed b' is better


@given(A=st.integers(1, 4), B=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_cce_of_zero_sum_game_gives_nash(A, B, seed):
    M = np.random.default_rng(seed).random((A, B))
    sigma = coarse_correlated_equilibrium(M, M)
    value = matrix_game(M)[0]
    assert np.sum(sigma * M) == pytest.approx(value, abs=1e-8)
    x, y = sigma.sum(axis=1), sigma.sum(axis=0)
    assert (x @ M).min() >= value - 1e-8 and (M @ y).max() <= value + 1e-8


# ----------------------------------------------------------------------------- Markov games
def _random_game(H, S, A, B, seed):
    rng = np.random.default_rng(seed)
    return MarkovGame(rng.dirichlet(np.ones(S), size=(H, S, A, B)), rng.random((H, S, A, B)),
                      rng.dirichlet(np.ones(S)))


def test_one_stage_game_is_a_matrix_game():
    rps = (np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) + 1) / 2  # RPS shifted into [0, 1]
    game = MarkovGame(np.ones((1, 1, 3, 3, 1)), rps[None, None], 0)
    sol = solve_game(game)
    assert sol.value == pytest.approx(0.5, abs=1e-12)


@given(H=st.integers(1, 3), S=st.integers(1, 3), A=st.integers(1, 3), B=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_equilibrium_has_zero_gap_and_random_policies_positive_gap(H, S, A, B, seed):
    game = _random_game(H, S, A, B, seed)
    sol = solve_game(game)
    assert abs(nash_gap(game, sol.mu, sol.nu)) < 1e-8
    assert game_value(game, sol.mu, sol.nu) == pytest.approx(sol.value, abs=1e-8)
    rng = np.random.default_rng(seed + 1)
    mu, nu = rng.dirichlet(np.ones(A), size=(H, S)), rng.dirichlet(np.ones(B), size=(H, S))
    gap = nash_gap(game, mu, nu)
    assert gap >= -1e-12
    # the gap brackets the game value: V^{mu,dagger} <= V* <= V^{dagger,nu}
    assert best_response_to_max(game, mu).value <= sol.value + 1e-8
    assert best_response_to_min(game, nu).value >= sol.value - 1e-8


def test_best_responses_equal_brute_force_over_deterministic_policies():
    H, S, A, B = 2, 2, 2, 2
    game = _random_game(H, S, A, B, seed=5)
    rng = np.random.default_rng(6)
    mu, nu = rng.dirichlet(np.ones(A), size=(H, S)), rng.dirichlet(np.ones(B), size=(H, S))
    all_det = [np.array(c).reshape(H, S) for c in itertools.product(range(A), repeat=H * S)]
    best_max = max(game_value(game, pi, nu) for pi in all_det)
    best_min = min(game_value(game, mu, pi) for pi in all_det)
    assert best_response_to_min(game, nu).value == pytest.approx(best_max, abs=1e-12)
    assert best_response_to_max(game, mu).value == pytest.approx(best_min, abs=1e-12)
    # and the returned policies achieve those values
    assert game_value(game, best_response_to_min(game, nu).policy, nu) == pytest.approx(best_max, abs=1e-12)
    assert game_value(game, mu, best_response_to_max(game, mu).policy) == pytest.approx(best_min, abs=1e-12)


def test_lowrank_game_solution():
    game = random_lowrank_game(8, 3, 3, 3, 2, seed=0).to_game()
    sol = solve_game(game)
    assert abs(nash_gap(game, sol.mu, sol.nu)) < 1e-8


@pytest.mark.parametrize("args, pattern", [
    ((np.ones((1, 2, 2, 2, 3)) / 3, np.zeros((1, 2, 2, 2)), 0), r"last axis 3 != S = 2"),
    ((np.full((1, 1, 2, 2, 1), 0.9), np.zeros((1, 1, 2, 2)), 0), r"P\[h=0, s=0, a=0, b=0\] sums to"),
    ((np.ones((1, 1, 2, 2, 1)), np.full((1, 1, 2, 2), 2.0), 0), r"R\[h=0, s=0, a=0, b=0\] = 2.0 is outside"),
    ((np.ones((1, 1, 2, 2, 1)), np.zeros((1, 1, 2, 3)), 0), r"R must have shape \(1, 1, 2, 2\)"),
])
def test_game_validation(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        MarkovGame(*args)


def test_policy_validation():
    game = _random_game(1, 2, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"nu\[h=0, s=1\] sums to"):
        nash_gap(game, np.full((1, 2, 2), 0.5), np.array([[[0.5, 0.5], [0.5, 0.6]]]))
