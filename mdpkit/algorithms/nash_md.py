"""Nash-MD: mirror descent against a geometric mixture (Munos et al., NLHF, ICML 2024, eqs. 3-5).

Pseudocode (``tau`` = ``beta``; NLHF step convention: ``eta_t`` multiplies the preference)::

    pi_0 = init (default mu)
    for t = 0, 1, ..., iters - 1:
        eta_t = 2 / (beta (t + 2))                          # NLHF Theorem 1 schedule
        pi_t^mu(y)  ∝ pi_t(y)^(1 - eta_t beta) * mu(y)^(eta_t beta)   # geometric mixture
        pi_{t+1}(y) ∝ pi_t^mu(y) * exp(eta_t * P(y > pi_t^mu))        # mirror step vs mixture

One preference query per iteration (``P pi_t^mu``). NLHF Theorem 1 ([SECONDARY]):
``KL(pi*_beta || pi_T) <= 8 / (beta^2 (T + 1))`` with the schedule above.
Reconstructed: with a constant ``eta <= 1/beta`` the theorem's one-step inequality gives
``KL_T <= (1 - eta beta)^T KL_0 + 2 eta / beta``, linear convergence to an ``O(eta/beta)`` ball.
"""

from __future__ import annotations

import numpy as np

from ..games import PreferenceGame, log_normalize
from ._preference_common import (
    PreferenceOracle,
    PreferenceRunResult,
    as_oracle,
    check_game,
    check_iters,
    check_logits_finite,
    check_record,
    check_seed_argument,
    check_step,
    initial_log_policy,
    oracle_diagnostics,
    pack,
)

__all__ = ["run", "step", "mixture_and_step", "schedule"]


def schedule(beta: float, t: int) -> float:
    """The NLHF Theorem 1 step ``eta_t = 2 / (beta (t + 2))`` (so ``eta_0 beta = 1``)."""
    return 2.0 / (beta * (t + 2))


def step(game: PreferenceGame | PreferenceOracle, log_pi: np.ndarray, eta: float) -> np.ndarray:
    """One Nash-MD update from ``log pi_t`` with step ``eta`` (requires ``eta * beta <= 1``).

    Returns ``log pi_{t+1}``, shape ``(n,)``.
    """
    return mixture_and_step(game, log_pi, eta)[1]


def mixture_and_step(game: PreferenceGame | PreferenceOracle, log_pi: np.ndarray,
                     eta: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`step` returning also the mixture: ``(log pi_t^mu, log pi_{t+1})``, shapes ``(n,)``.

    One query of the game's oracle, against the mixture ``pi_t^mu``.
    """
    oracle = as_oracle(game)
    mix = eta * oracle.beta
    log_mixture = log_normalize((1.0 - mix) * log_pi + mix * oracle.log_mu)
    return log_mixture, log_normalize(log_mixture + eta * oracle.win_rates(np.exp(log_mixture)))


def run(game: PreferenceGame, *, iters: int, seed=None, eta: float | None = None,
        init=None, record: bool = False) -> PreferenceRunResult:
    """Run exact (tabular) Nash-MD.

    The loop sees the game only through its :class:`PreferenceOracle` (``mu``, ``beta`` and
    counted win-rate queries).

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0`` for the default schedule.
    iters : int
        Number of updates ``T`` (one preference query each).
    seed : ignored
        Deterministic method; accepted for a uniform ``run`` signature (a malformed one is
        still rejected).
    eta : float, optional
        Constant step (NLHF convention, on the preference term) with ``eta * beta <= 1``;
        default: the paper's decaying schedule ``eta_t = 2 / (beta (t + 2))``.
    init : array_like, shape (n,), optional
        Full-support initial policy; default ``game.mu``.
    record : bool
        Also return ``diagnostics``: ``"oracle_queries"``, ``"opponents"`` (the mixtures
        ``pi_t^mu`` sent to the oracle) and ``"log_mixtures"`` (their logs, shape ``(iters, n)``).
        The iterates are the same either way.

    Returns
    -------
    PreferenceRunResult
        ``queries[t] = t``; ``hyper = {"eta": "2/(beta(t+2))"}`` or ``{"eta": eta}``.
    """
    game = check_game(game)
    iters = check_iters(iters, game)
    check_seed_argument(seed)
    record = check_record(record)
    if eta is None:
        if game.beta == 0:
            raise ValueError("nash_md's default schedule 2/(beta(t+2)) needs game.beta > 0; pass eta")
        with np.errstate(over="ignore"):
            check_logits_finite("game.beta", game.beta, 1.0 / game.beta, "the first step 1/beta")
        steps = [schedule(game.beta, t) for t in range(iters)]
        hyper = {"eta": "2/(beta(t+2))"}
    else:
        eta = check_step("eta", eta)
        with np.errstate(over="ignore"):
            check_logits_finite("eta", eta, eta + float(np.max(np.abs(game.log_mu))), "eta + |log mu|")
        if eta * game.beta > 1.0:
            raise ValueError(f"eta * beta must be <= 1 (mixture weight), got eta={eta!r}, "
                             f"beta={game.beta!r}")
        steps = [eta] * iters
        hyper = {"eta": eta}
    log_pi = initial_log_policy(game, init)
    oracle = PreferenceOracle(game, record=record)
    logs, mixtures = [log_pi], []
    for eta_t in steps:
        log_mixture, log_pi = mixture_and_step(oracle, log_pi, eta_t)
        logs.append(log_pi)
        mixtures.append(log_mixture)
    diagnostics = None
    if record:
        diagnostics = oracle_diagnostics(oracle, log_mixtures=np.reshape(mixtures, (iters, game.n)))
    return pack(logs, list(range(iters + 1)), "nash_md", hyper, diagnostics=diagnostics)
