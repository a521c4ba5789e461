"""Shared pieces of the preference-game algorithms (Nash-MP, Nash-MD, MMD, MWU, approx. Nash-MP).

- :class:`PreferenceRunResult` -- the common result type;
- input checks for ``init``, ``eta`` and ``iters``;
- :func:`prox_step` -- the KL-proximal step with magnet ``mu`` that Nash-MP, MMD and the
  approximate Nash-MP target all share.

All updates are done on log-probabilities: for small ``beta`` the iterates' probabilities
underflow, their logits do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import (
    as_float_array,
    check_optional_seed,
    check_output_size,
    check_positive_int,
    check_real,
    check_stochastic,
    readonly,
)
from ..games import PreferenceGame, log_normalize
from ..games import check_game as _check_preference_game


@dataclass(frozen=True, eq=False)
class PreferenceRunResult:
    """Iterates of a preference-game algorithm.

    Attributes
    ----------
    policies : ndarray, shape (iters + 1, n)
        ``policies[k]`` is the k-th iterate (``policies[0]`` = ``init``): ``exp(log_policies)``.
        For small ``beta`` some probabilities are below the smallest float64 (``log pi`` spans
        up to ``1/beta``) and show as exact zeros here, so ``games.kl(star.policy, policies[k])``
        is ``inf`` although the exact KL is finite.
    log_policies : ndarray, shape (iters + 1, n)
        The iterates as computed: every update is done on logits and normalised with a
        log-sum-exp, so these are finite wherever the exact iterate is positive. Score them with
        ``games.kl(star.log_policy, log_policies[k], log=True)`` and
        ``games.exploitability(game, log_policies[k], log=True)``.
    queries : ndarray, shape (iters + 1,), int64
        Preference queries used to produce each iterate: a query is one evaluation of the
        preference oracle ``y -> P(y > pi)`` against one opponent policy (exact methods) or
        one sampled comparison (``nash_mp_approx``).
    average : ndarray, shape (iters + 1, n), or None
        Running average ``mean(policies[:k + 1])`` (MWU/SPO only).
    algorithm : str
    hyper : dict
        Hyper-parameters actually used (e.g. ``{"eta": 0.2}``).
    """

    policies: np.ndarray
    log_policies: np.ndarray
    queries: np.ndarray
    algorithm: str
    hyper: dict = field(default_factory=dict)
    average: np.ndarray | None = None

    @property
    def iters(self) -> int:
        return int(self.policies.shape[0] - 1)


def check_game(game) -> PreferenceGame:
    """``game`` must be a PreferenceGame (an :class:`~mdpkit._validation.ArgumentTypeError` otherwise)."""
    return _check_preference_game(game)


def check_iters(iters, game: PreferenceGame | None = None) -> int:
    """``iters >= 0``; with ``game``, the ``(iters + 1, n)`` outputs must fit in memory."""
    iters = check_positive_int("iters", iters, minimum=0)
    if game is not None:
        # policies and log_policies, float64 each (plus the queries)
        check_output_size("iters", iters, (iters + 1) * (16.0 * game.n + 8.0),
                          f"the (iters + 1, n = {game.n}) policies and log-policies")
    return iters


def check_seed_argument(seed):
    """``seed`` of a deterministic method: unused, but a malformed one is still reported."""
    return check_optional_seed(seed)


def check_step(name: str, value) -> float:
    """A positive finite step size."""
    return check_real(name, value, lo=0.0, lo_open=True)


def check_logits_finite(name: str, value: float, bound: float, what: str) -> None:
    """Raise unless ``bound`` -- a bound on the magnitude of the logits a step of size ``value``
    produces, e.g. ``eta |log mu| + eta / beta`` -- is finite: an overflowed logit turns into
    ``nan`` at the next normalisation (``inf - inf``)."""
    if not np.isfinite(bound):
        raise ValueError(f"{name} = {value!r} makes the logits ({what}) overflow float64")


def initial_log_policy(game: PreferenceGame, init) -> np.ndarray:
    """log of ``init`` (default: ``game.mu``); ``init`` must be a full-support distribution."""
    if init is None:
        return game.log_mu.copy()
    pi0 = as_float_array("init", init, shape=(game.n,), axis_names=("y",))
    check_stochastic("init", pi0, axis_names=("y",))
    if (pi0 <= 0).any():
        y = int(np.argmax(pi0 <= 0))
        raise ValueError(f"init[y={y}] = {float(pi0[y])!r}: the initial policy must have full support")
    return np.log(pi0)


def prox_step(game: PreferenceGame, log_center: np.ndarray, opponent: np.ndarray,
              eta: float) -> np.ndarray:
    """One KL-proximal step with magnet ``mu`` (Nash-MP convention).

    Returns the log of ``argmin_pi (1/beta) P(opponent > pi) + KL(pi||mu) + KL(pi||center)/eta``,
    i.e. ``log_normalize((log center + eta log mu + (eta/beta) P opponent) / (1 + eta))``.

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0``.
    log_center : ndarray, shape (n,)
    opponent : ndarray, shape (n,)
        Opponent policy (probabilities).
    eta : float
        Step on the KL term (the NLHF-style step on the preference term is ``eta / beta``).
    """
    logits = (log_center + eta * game.log_mu + (eta / game.beta) * (game.P @ opponent)) / (1.0 + eta)
    return log_normalize(logits)


def pack(log_policies: list[np.ndarray], queries: list[int], algorithm: str, hyper: dict,
         average: np.ndarray | None = None) -> PreferenceRunResult:
    logs = np.array(log_policies, dtype=np.float64)
    return PreferenceRunResult(
        policies=readonly(np.exp(logs)),
        log_policies=readonly(logs),
        queries=readonly(np.asarray(queries, dtype=np.int64)),
        algorithm=algorithm,
        hyper=dict(hyper),
        average=None if average is None else readonly(average),
    )
