"""Two-player zero-sum finite-horizon Markov games and their exact solution.

The max player chooses ``a`` in ``A`` actions, the min player ``b`` in ``B``; the max player
receives ``R[h, s, a, b]`` and the state moves by ``P[h, s, a, b, :]``. Policies are Markov:
``mu`` of shape (H, S, A) for the max player and ``nu`` of shape (H, S, B) for the min player
(deterministic (H, S) int arrays are accepted too).

Contents
--------
- :class:`MarkovGame` -- the validated, immutable model.
- :func:`solve_matrix_game` (``mdpkit.solve_matrix_game``) -- value and optimal mixed strategies
  of a zero-sum matrix game (HiGHS LP), with its certificate; :func:`matrix_game` is the same as
  a plain tuple.
- :func:`coarse_correlated_equilibrium` -- a CCE of a two-payoff matrix game (HiGHS LP), the
  per-state step of optimistic Markov-game algorithms (Xie, Chen, Wang, Yang 2020).
- :func:`solve_game` -- Nash equilibrium by backward induction with one matrix-game LP per state.
- :func:`best_response_to_min`, :func:`best_response_to_max` -- exact best responses (the other
  player fixed, the game is an MDP solved by :func:`mdpkit.solve`).
- :func:`game_value`, :func:`nash_gap` -- exact values of a policy pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validation import (
    as_float_array,
    check_in_range,
    check_instance,
    check_stochastic,
    readonly,
    show_float,
)
from .mdp import TabularMDP, _validate_mu0, validate_policy
from .solvers import Solution, evaluate, solve

__all__ = [
    "MarkovGame",
    "GameSolution",
    "matrix_game",
    "MatrixGameSolution",
    "solve_matrix_game",
    "coarse_correlated_equilibrium",
    "solve_game",
    "best_response_to_min",
    "best_response_to_max",
    "game_value",
    "nash_gap",
]

#: Tolerance on the equality of an LP solution's marginals to a distribution.
_LP_ATOL = 1e-7

#: HiGHS refuses constraint coefficients of this magnitude or more ("Model error"), so payoffs
#: (and, for a CCE, payoff differences) must stay below it.
LP_MAX_COEFFICIENT = 1e15


def check_game(game, name: str = "game") -> "MarkovGame":
    """Return ``game``, raising :class:`~mdpkit._validation.ArgumentTypeError` unless it is a MarkovGame."""
    return check_instance(name, game, MarkovGame, "mdpkit.MarkovGame")


def _check_payoffs(name: str, M: np.ndarray, limit: float) -> None:
    """Non-empty payoffs strictly below ``limit`` in magnitude (what the LP solver accepts)."""
    if M.shape[0] < 1 or M.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {M.shape}")
    big = np.abs(M) >= limit
    if big.any():
        a, b = np.unravel_index(int(np.argmax(big)), M.shape)
        raise ValueError(f"{name}[a={a}, b={b}] = {show_float(M[a, b])}: payoffs must be below {limit:g} in "
                         "magnitude (the LP solver HiGHS rejects larger coefficients)")


class MarkovGame:
    """Finite-horizon two-player zero-sum Markov game.

    Parameters
    ----------
    P : array_like, shape (H, S, A, B, S)
        ``P[h, s, a, b, s']``; every row over ``s'`` a distribution (within 1e-9).
    R : array_like, shape (H, S, A, B)
        Max player's mean rewards in ``[0, 1]`` (the min player pays them).
    mu0 : array_like, shape (S,), or int
        Initial-state distribution or a fixed initial state.
    name : str, optional

    Raises
    ------
    ValueError
        Naming the argument and the first offending index for wrong shapes, NaN/inf,
        transition rows that are not distributions, rewards outside ``[0, 1]`` or a bad ``mu0``.
    """

    __slots__ = ("_P", "_R", "_mu0", "_name")

    def __init__(self, P, R, mu0, *, name: str | None = None):
        P = as_float_array("P", P, ndim=5, axis_names=("h", "s", "a", "b", "s'"))
        H, S, A, B, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P must have shape (H, S, A, B, S), got {P.shape}: last axis {S2} != S = {S}")
        if min(H, S, A, B) < 1:
            raise ValueError(f"P must have at least one stage, state and action per player, got {P.shape}")
        check_stochastic("P", P, ("h", "s", "a", "b", "s'"))
        R = as_float_array("R", R, shape=(H, S, A, B), axis_names=("h", "s", "a", "b"))
        check_in_range("R", R, 0.0, 1.0, ("h", "s", "a", "b"))
        object.__setattr__(self, "_P", readonly(P))
        object.__setattr__(self, "_R", readonly(R))
        object.__setattr__(self, "_mu0", readonly(_validate_mu0(mu0, S)))
        object.__setattr__(self, "_name", name)

    def __setattr__(self, key, value):
        raise AttributeError(f"MarkovGame is immutable; cannot set {key!r}")

    H = property(lambda self: self._P.shape[0], doc="Horizon.")
    S = property(lambda self: self._P.shape[1], doc="Number of states.")
    A = property(lambda self: self._P.shape[2], doc="Actions of the max player.")
    B = property(lambda self: self._P.shape[3], doc="Actions of the min player.")
    P = property(lambda self: self._P, doc="Transitions, shape (H, S, A, B, S).")
    R = property(lambda self: self._R, doc="Max player's mean rewards, shape (H, S, A, B).")
    mu0 = property(lambda self: self._mu0, doc="Initial-state distribution, shape (S,).")
    name = property(lambda self: self._name)

    def __repr__(self) -> str:
        label = f"{self._name!r}, " if self._name else ""
        return f"MarkovGame({label}H={self.H}, S={self.S}, A={self.A}, B={self.B})"


@dataclass(frozen=True)
class GameSolution:
    """Nash equilibrium of a zero-sum Markov game, from :func:`solve_game`.

    Attributes
    ----------
    Q : ndarray, shape (H, S, A, B)
        Equilibrium Q-values ``R + P V[h+1]``.
    V : ndarray, shape (H + 1, S)
        Equilibrium (minimax) values, ``V[H] = 0``.
    mu : ndarray, shape (H, S, A)
        Max player's equilibrium policy.
    nu : ndarray, shape (H, S, B)
        Min player's equilibrium policy.
    value : float
        ``mu0 @ V[0]``.
    """

    Q: np.ndarray
    V: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    value: float


# --------------------------------------------------------------------------- matrix games
def matrix_game(M) -> tuple[float, np.ndarray, np.ndarray]:
    """Value and optimal mixed strategies of the zero-sum matrix game ``M`` (row player maximises).

    Solves ``max_x min_b (x @ M)[b]`` as an LP with HiGHS; the column player's strategy is the
    dual of the row player's constraints (LP duality is the minimax theorem).

    Parameters
    ----------
    M : array_like, shape (A, B)
        Row player's payoffs.

    Returns
    -------
    value : float
    x : ndarray, shape (A,)
        Row player's maximin strategy.
    y : ndarray, shape (B,)
        Column player's minimax strategy.
    """
    M = as_float_array("M", M, ndim=2, axis_names=("a", "b"))
    _check_payoffs("M", M, LP_MAX_COEFFICIENT)
    A, B = M.shape
    # variables (x_1..x_A, v); minimise -v s.t. v - (x @ M)[b] <= 0 for every b, sum x = 1.
    c = np.zeros(A + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-M.T, np.ones((B, 1))])
    A_eq = np.zeros((1, A + 1))
    A_eq[0, :A] = 1.0
    from scipy.optimize import linprog  # ~0.3 s: only when a game is solved

    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(B), A_eq=A_eq, b_eq=[1.0],
                  bounds=[(0, None)] * A + [(None, None)], method="highs")
    if res.status != 0:  # pragma: no cover - a matrix game LP is always feasible and bounded
        raise RuntimeError(f"matrix-game LP failed: {res.message}")
    x = _as_distribution("row strategy", res.x[:A])
    y = _as_distribution("column strategy", -res.ineqlin.marginals)
    return float(res.x[-1]), x, y


class MatrixGameSolution(NamedTuple):
    """Solution of a zero-sum matrix game, from :func:`solve_matrix_game`; unpacks as
    ``value, row_strategy, column_strategy``.

    Attributes
    ----------
    value : float
        The game's value ``max_x min_y x @ M @ y``.
    row_strategy : ndarray, shape (A,)
        Maximin strategy of the row (maximising) player.
    column_strategy : ndarray, shape (B,)
        Minimax strategy of the column (minimising) player.
    gap : float
        Certificate ``max_a (M @ y)[a] - min_b (x @ M)[b]`` (>= 0 up to rounding), recomputed from the returned
        strategies: each is optimal up to ``gap`` (exploitability), whatever the LP tolerance.
    """

    value: float
    row_strategy: np.ndarray
    column_strategy: np.ndarray
    gap: float


def solve_matrix_game(M) -> MatrixGameSolution:
    """Value and optimal mixed strategies of the zero-sum matrix game ``M`` (row player maximises).

    Parameters
    ----------
    M : array_like, shape (A, B)
        Row player's payoffs, finite and below :data:`LP_MAX_COEFFICIENT` in magnitude.

    Returns
    -------
    MatrixGameSolution
        ``value, x, y`` from one HiGHS LP (:func:`matrix_game`), and ``gap``: by the minimax
        theorem ``min_b (x @ M)[b] <= value <= max_a (M @ y)[a]`` with equality for exact
        optimal strategies, so ``gap`` measures how far the returned pair is from optimal
        (of the order of the LP tolerance ``1e-9`` times ``max|M|``).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpkit.markov_game import solve_matrix_game
    >>> value, x, y, gap = solve_matrix_game([[0, -1, 1], [1, 0, -1], [-1, 1, 0]])  # rock-paper-scissors
    >>> abs(value) < 1e-9, np.round(x, 9).tolist(), gap < 1e-9
    (True, [0.333333333, 0.333333333, 0.333333333], True)
    """
    value, x, y = matrix_game(M)
    M = np.asarray(M, dtype=float)
    gap = float(np.max(M @ y) - np.min(x @ M))
    return MatrixGameSolution(value, readonly(x), readonly(y), gap)


def _as_distribution(what: str, p: np.ndarray) -> np.ndarray:
    """Clean LP round-off (|entries| below the tolerance) from a vector that must be a distribution."""
    if p.min() < -_LP_ATOL or abs(p.sum() - 1.0) > _LP_ATOL:  # pragma: no cover - solver failure
        raise RuntimeError(f"LP {what} is not a distribution: {p}")
    p = np.maximum(p, 0.0)
    return p / p.sum()


def coarse_correlated_equilibrium(Q_max, Q_min) -> np.ndarray:
    """A coarse correlated equilibrium of the two-payoff matrix game ``(Q_max, Q_min)``.

    The max player receives ``Q_max[a, b]``, the min player pays ``Q_min[a, b]``. ``sigma`` is a CCE
    when no player gains by committing to a fixed action before the draw::

        sum_ab sigma[a, b] Q_max[a, b] >= sum_ab sigma[a, b] Q_max[a', b]   for every a',
        sum_ab sigma[a, b] Q_min[a, b] <= sum_ab sigma[a, b] Q_min[a, b']   for every b'.

    Found as an LP feasibility problem (zero objective, HiGHS): ``A * B`` variables and
    ``A + B`` inequalities plus the simplex constraint. A CCE always exists. When
    ``Q_max == Q_min`` the marginals of any CCE are a Nash equilibrium of the zero-sum game and
    ``sum sigma * Q`` is its value.

    Parameters
    ----------
    Q_max, Q_min : array_like, shape (A, B)

    Returns
    -------
    sigma : ndarray, shape (A, B)
        Joint distribution over action pairs.
    """
    # The deviation constraints hold differences of payoffs: half the limit keeps them below it.
    Q_max = as_float_array("Q_max", Q_max, ndim=2, axis_names=("a", "b"))
    _check_payoffs("Q_max", Q_max, LP_MAX_COEFFICIENT / 2)
    Q_min = as_float_array("Q_min", Q_min, shape=Q_max.shape, axis_names=("a", "b"))
    _check_payoffs("Q_min", Q_min, LP_MAX_COEFFICIENT / 2)
    A, B = Q_max.shape
    # Row a' of the max player's deviation constraints: sum_ab sigma[a,b] (Q_max[a',b] - Q_max[a,b]) <= 0.
    dev_max = (Q_max[:, None, :] - Q_max[None, :, :]).reshape(A, A * B)
    # Row b' of the min player's: sum_ab sigma[a,b] (Q_min[a,b] - Q_min[a,b']) <= 0.
    dev_min = (Q_min[None, :, :] - Q_min.T[:, :, None]).reshape(B, A * B)
    from scipy.optimize import linprog

    res = linprog(np.zeros(A * B), A_ub=np.vstack([dev_max, dev_min]), b_ub=np.zeros(A + B),
                  A_eq=np.ones((1, A * B)), b_eq=[1.0], bounds=(0, None), method="highs")
    if res.status != 0:  # pragma: no cover - a CCE always exists
        raise RuntimeError(f"CCE LP failed: {res.message}")
    return _as_distribution("CCE", res.x).reshape(A, B)


# --------------------------------------------------------------------------- exact solution
def solve_game(game: MarkovGame) -> GameSolution:
    """Nash equilibrium by backward induction, one matrix-game LP per (stage, state).

    Parameters
    ----------
    game : MarkovGame

    Returns
    -------
    GameSolution
        Exact up to the LP tolerance of HiGHS (about 1e-9 on the value).
    """
    game = check_game(game)
    H, S, A, B = game.H, game.S, game.A, game.B
    Q = np.empty((H, S, A, B))
    V = np.zeros((H + 1, S))
    mu = np.empty((H, S, A))
    nu = np.empty((H, S, B))
    for h in range(H - 1, -1, -1):
        Q[h] = game.R[h] + game.P[h] @ V[h + 1]
        for s in range(S):
            V[h, s], mu[h, s], nu[h, s] = matrix_game(Q[h, s])
    return GameSolution(Q, V, mu, nu, float(game.mu0 @ V[0]))


def _stochastic(name: str, policy, H: int, S: int, n_actions: int) -> np.ndarray:
    """Validate a policy and return it as action distributions, shape (H, S, n_actions)."""
    pol = validate_policy(policy, H, S, n_actions, name=name)
    if pol.ndim == 2:
        pol = np.eye(n_actions)[pol]
    return pol


def _mdp_against_min(game: MarkovGame, nu: np.ndarray) -> TabularMDP:
    """The max player's MDP when the min player plays ``nu`` (H, S, B)."""
    P = np.einsum("hsabt,hsb->hsat", game.P, nu)
    R = np.einsum("hsab,hsb->hsa", game.R, nu)
    return TabularMDP(P, np.clip(R, 0.0, 1.0), game.mu0)  # clip: averaging round-off only


def _mdp_against_max(game: MarkovGame, mu: np.ndarray) -> TabularMDP:
    """The min player's MDP (rewards = the max player's) when the max player plays ``mu`` (H, S, A)."""
    P = np.einsum("hsabt,hsa->hsbt", game.P, mu)
    R = np.einsum("hsab,hsa->hsb", game.R, mu)
    return TabularMDP(P, np.clip(R, 0.0, 1.0), game.mu0)  # clip: averaging round-off only


def best_response_to_min(game: MarkovGame, nu) -> Solution:
    """Exact best response of the max player to the min player's policy ``nu``.

    Parameters
    ----------
    game : MarkovGame
    nu : array_like, shape (H, S, B) or (H, S) int

    Returns
    -------
    Solution
        Of the induced MDP: ``value`` is ``V^{dagger, nu}``, ``policy`` (H, S) the best response.
    """
    game = check_game(game)
    nu = _stochastic("nu", nu, game.H, game.S, game.B)
    return solve(_mdp_against_min(game, nu))


def best_response_to_max(game: MarkovGame, mu) -> Solution:
    """Exact best response of the min player to the max player's policy ``mu``.

    Parameters
    ----------
    game : MarkovGame
    mu : array_like, shape (H, S, A) or (H, S) int

    Returns
    -------
    Solution
        In the max player's reward units: ``value`` is ``V^{mu, dagger} = min_nu V^{mu, nu}``,
        ``Q``/``V`` the min player's optimal values, ``policy`` (H, S) the minimising actions.
    """
    game = check_game(game)
    mu = _stochastic("mu", mu, game.H, game.S, game.A)
    mdp = _mdp_against_max(game, mu)
    sol = solve(mdp, rewards=-mdp.R)  # minimising R = maximising -R
    return Solution(-sol.Q, -sol.V, sol.policy, -sol.value, sol.method)


def game_value(game: MarkovGame, mu, nu) -> float:
    """Exact expected return ``V^{mu, nu}`` of the max player.

    Parameters
    ----------
    game : MarkovGame
    mu : array_like, shape (H, S, A) or (H, S) int
    nu : array_like, shape (H, S, B) or (H, S) int
    """
    game = check_game(game)
    mu = _stochastic("mu", mu, game.H, game.S, game.A)
    nu = _stochastic("nu", nu, game.H, game.S, game.B)
    return evaluate(_mdp_against_min(game, nu), mu).value


def nash_gap(game: MarkovGame, mu, nu) -> float:
    """Exact Nash gap ``V^{dagger, nu} - V^{mu, dagger} >= 0`` (zero iff ``(mu, nu)`` is a Nash equilibrium).

    Parameters
    ----------
    game : MarkovGame
    mu : array_like, shape (H, S, A) or (H, S) int
    nu : array_like, shape (H, S, B) or (H, S) int

    Returns
    -------
    float
    """
    game = check_game(game)
    return best_response_to_min(game, nu).value - best_response_to_max(game, mu).value
