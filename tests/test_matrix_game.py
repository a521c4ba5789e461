"""mdpkit.solve_matrix_game: known games, closed forms and the minimax certificate."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdpkit.markov_game import MatrixGameSolution, solve_matrix_game


def test_known_games():
    value, x, y, gap = solve_matrix_game([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])  # rock-paper-scissors
    assert abs(value) < 1e-9 and gap < 1e-9
    np.testing.assert_allclose(x, 1 / 3, atol=1e-9)
    np.testing.assert_allclose(y, 1 / 3, atol=1e-9)
    sol = solve_matrix_game([[1, -1], [-1, 1]])  # matching pennies
    assert isinstance(sol, MatrixGameSolution)
    assert sol.value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(sol.row_strategy, 0.5, atol=1e-9)
    sol = solve_matrix_game([[4, 2, 3], [1, 0, 5]])  # saddle point at (0, 1): value 2
    assert sol.value == pytest.approx(2.0)
    np.testing.assert_allclose(sol.row_strategy, [1, 0], atol=1e-9)
    np.testing.assert_allclose(sol.column_strategy, [0, 1, 0], atol=1e-9)


@settings(max_examples=50)
@given(entries=st.lists(st.floats(-10, 10), min_size=4, max_size=4))
def test_two_by_two_closed_form(entries):
    a, b, c, d = entries
    M = np.array([[a, b], [c, d]])
    maximin = max(min(a, b), min(c, d))
    minimax = min(max(a, c), max(b, d))
    if maximin == minimax:
        want = maximin  # a saddle point in pure strategies
    else:
        want = (a * d - b * c) / (a + d - b - c)
    assert solve_matrix_game(M).value == pytest.approx(want, abs=1e-7)


@settings(max_examples=50)
@given(A=st.integers(1, 6), B=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 1e-4, 1e4]))
def test_certificate(A, B, seed, scale):
    M = scale * np.random.default_rng(seed).normal(size=(A, B))
    value, x, y, gap = solve_matrix_game(M)
    assert x.shape == (A,) and y.shape == (B,)
    assert np.all(x >= 0) and np.all(y >= 0) and x.sum() == pytest.approx(1) and y.sum() == pytest.approx(1)
    tol = 1e-7 * scale
    assert gap == pytest.approx(np.max(M @ y) - np.min(x @ M), abs=1e-12 * scale)
    assert -1e-12 * scale <= gap <= tol
    assert np.min(x @ M) - tol <= value <= np.max(M @ y) + tol


def test_bad_input():
    with pytest.raises(ValueError, match="M must"):
        solve_matrix_game(np.zeros(3))
    with pytest.raises(ValueError, match=r"M\[a=0, b=1\]"):
        solve_matrix_game([[0.0, np.nan]])
    with pytest.raises(ValueError, match="payoffs must be below"):
        solve_matrix_game([[0.0, 1e16]])
