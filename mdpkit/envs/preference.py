"""Preference-game generators (fixtures for Nash learning from human feedback).

Every generator returns a validated :class:`mdpkit.games.PreferenceGame`. The reference
policy is chosen with ``mu``: ``None`` (uniform), ``"random"`` (``softmax(N(0, 1))`` drawn
from ``seed``) or an explicit full-support distribution of shape ``(n,)``.

- :func:`random_preference_game` -- intransitive ``P = sigmoid(X - X^T)``.
- :func:`bradley_terry_game` -- transitive ``P[i, j] = sigmoid(r_i - r_j)``.
- :func:`cyclic_game` -- ``i`` beats ``i + 1 (mod n)`` with probability ``p``, other pairs tie;
  ``n = 3, p = 1`` is rock-paper-scissors.
- :func:`dice_game` / :func:`nontransitive_dice_game` -- dice duels; the NLHF three dice
  ``{2,4,9}, {1,6,8}, {3,5,7}`` beat each other cyclically with probability 5/9.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax

from .._validation import (
    ArgumentTypeError,
    as_float_array,
    check_model_size,
    check_positive_int,
    check_real,
    show,
)
from ..games import PreferenceGame
from .tabular import _rng

__all__ = [
    "random_preference_game",
    "bradley_terry_game",
    "cyclic_game",
    "dice_game",
    "nontransitive_dice_game",
    "NLHF_DICE",
]

#: The three non-transitive dice of the NLHF paper (each beats the next with probability 5/9).
NLHF_DICE = ((2, 4, 9), (1, 6, 8), (3, 5, 7))


def _reference(mu, n: int, rng: np.random.Generator | None) -> np.ndarray:
    if mu is None:
        return np.full(n, 1.0 / n)
    if isinstance(mu, str):
        if mu != "random":
            raise ValueError(f"mu must be None, 'random' or an array of shape ({n},), got {show(mu)}")
        rng = rng if rng is not None else np.random.default_rng()
        return np.exp(log_softmax(rng.standard_normal(n)))
    return mu  # validated by PreferenceGame


def random_preference_game(n: int, beta: float, *, scale: float = 3.0, mu=None,
                           seed=None) -> PreferenceGame:
    """Random (generally intransitive) game ``P = sigmoid(X - X^T)``, ``X_ij ~ N(0, scale^2)``.

    Parameters
    ----------
    n : int
        Number of responses, ``>= 1``.
    beta : float
        Regularisation strength, ``>= 0``.
    scale : float
        Standard deviation of ``X``; larger means sharper, more cyclic preferences.
    mu : None, "random" or array_like, shape (n,)
    seed : int, SeedSequence or None
        ``X`` is drawn first, then (for ``mu="random"``) the reference logits.

    Returns
    -------
    PreferenceGame
        ``P + P^T = 1`` exactly (``sigmoid(-t) = 1 - sigmoid(t)`` up to rounding, and the
        lower triangle is set to ``1 - upper`` to make it exact).
    """
    n = check_positive_int("n", n)
    check_model_size({"n": n}, 3 * 8.0 * n * n, "the preference matrix")
    scale = check_real("scale", scale, lo=0.0)
    rng = _rng(seed)
    X = rng.normal(0.0, scale, size=(n, n))
    with np.errstate(over="ignore"):  # a huge scale: X - X^T = +-inf, and expit(+-inf) is exact
        P = expit(X - X.T)
    lower = np.tril_indices(n, -1)
    P[lower] = 1.0 - P.T[lower]
    np.fill_diagonal(P, 0.5)
    return PreferenceGame(P, _reference(mu, n, rng), beta, name=f"random(n={n}, scale={scale:g})")


def bradley_terry_game(rewards, beta: float, *, mu=None, seed=None) -> PreferenceGame:
    """Transitive Bradley--Terry game ``P[i, j] = sigmoid(r_i - r_j)``.

    Parameters
    ----------
    rewards : int or array_like, shape (n,)
        Latent rewards; an int ``n`` draws ``r ~ N(0, 1)^n`` from ``seed``.
    beta : float
    mu : None, "random" or array_like, shape (n,)
    seed : int, SeedSequence or None

    Notes
    -----
    With ``beta = 0`` the equilibrium is the point mass on ``argmax r`` (a Condorcet winner).
    """
    rng = _rng(seed)
    if isinstance(rewards, (int, np.integer)) and not isinstance(rewards, (bool, np.bool_)):
        n = check_positive_int("rewards", rewards)
        check_model_size({"rewards": n}, 3 * 8.0 * n * n, "the preference matrix")
        r = rng.standard_normal(n)
    else:
        r = as_float_array("rewards", rewards, ndim=1, axis_names=("y",))
        n = r.shape[0]
        if n < 1:
            raise ValueError("rewards must hold at least one response, got an empty array")
    with np.errstate(over="ignore"):  # huge rewards: D = +-inf, and expit(+-inf) is exact
        D = r[:, None] - r[None, :]
    P = expit(D)
    lower = np.tril_indices(n, -1)
    P[lower] = 1.0 - P.T[lower]
    np.fill_diagonal(P, 0.5)
    return PreferenceGame(P, _reference(mu, n, rng), beta, name=f"bradley-terry(n={n})")


def cyclic_game(n: int = 3, beta: float = 0.1, *, p: float = 1.0, mu=None,
                seed=None) -> PreferenceGame:
    """Cyclic (intransitive) game: ``P(i > i+1 mod n) = p``, every other pair ties at 1/2.

    Parameters
    ----------
    n : int
        ``>= 3``. ``n = 3, p = 1`` is rock-paper-scissors (as a preference matrix).
    beta : float
    p : float
        Win probability along the cycle, in ``[0, 1]``.
    mu : None, "random" or array_like, shape (n,)
    seed : int, SeedSequence or None
        Only used for ``mu="random"``.

    Notes
    -----
    For ``n = 3`` and any ``p != 1/2`` the unregularised equilibrium is uniform (a 3-cycle
    with equal margins); for ``n = 3`` it is unique.
    """
    n = check_positive_int("n", n, minimum=3)
    check_model_size({"n": n}, 3 * 8.0 * n * n, "the preference matrix")
    p = check_real("p", p, lo=0.0, hi=1.0)
    P = np.full((n, n), 0.5)
    idx = np.arange(n)
    P[idx, (idx + 1) % n] = p
    P[(idx + 1) % n, idx] = 1.0 - p
    rng = _rng(seed)
    return PreferenceGame(P, _reference(mu, n, rng), beta, name=f"cyclic(n={n}, p={p:g})")


def dice_game(dice, beta: float, *, mu=None, seed=None) -> PreferenceGame:
    """Preference game between fair dice: ``P[i, j] = Pr(roll_i > roll_j) + Pr(tie) / 2``.

    Parameters
    ----------
    dice : sequence of sequences of numbers
        Face values of each die (faces equally likely; dice may have different sizes).
    beta : float
    mu : None, "random" or array_like, shape (n,)
    seed : int, SeedSequence or None
    """
    if isinstance(dice, (str, bytes)) or not isinstance(dice, (list, tuple, np.ndarray)) or np.ndim(dice) == 0:
        raise ArgumentTypeError(f"dice must be a sequence of dice (sequences of face values), got "
                                f"{type(dice).__name__} {show(dice)}")
    faces = [as_float_array(f"dice[{i}]", d, ndim=1) for i, d in enumerate(dice)]
    n = len(faces)
    if n < 1:
        raise ValueError("dice must contain at least one die")
    for i, f in enumerate(faces):
        if f.size == 0:
            raise ValueError(f"dice[{i}] has no faces")
    P = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            a, b = faces[i][:, None], faces[j][None, :]
            P[i, j] = np.mean((a > b) + 0.5 * (a == b))
    return PreferenceGame(P, _reference(mu, n, _rng(seed)), beta,
                          name=f"dice({n})")


def nontransitive_dice_game(beta: float, *, mu=None, seed=None) -> PreferenceGame:
    """The NLHF three dice ``{2,4,9}, {1,6,8}, {3,5,7}``: a 3-cycle with margin 5/9.

    The unregularised equilibrium is uniform; with a uniform ``mu`` so is ``pi*_beta`` for
    every ``beta`` (the game is invariant under the cyclic relabelling).
    """
    game = dice_game(NLHF_DICE, beta, mu=mu, seed=seed)
    return PreferenceGame(game.P, game.mu, beta, name="nlhf-dice")
