"""Magnetic Mirror Descent in self-play (Sokota et al., ICLR 2023) on the preference game.

Pseudocode (MMD convention: ``eta`` is the step on the payoff ``q_t``, ``alpha = beta`` the
magnet strength, magnet ``rho = mu``)::

    pi_0 = init (default mu)
    for t = 0, 1, ..., iters - 1:
        q_t = P pi_t                                            # one preference query
        pi_{t+1}(y) ∝ [pi_t(y) * mu(y)^(eta beta) * exp(eta q_t(y))]^(1 / (1 + eta beta))

Reconstructed: this single-policy self-play instance (``q_t = P pi_t``, ``alpha = beta``,
``rho = mu``) is ours; the paper runs MMD for both players of a two-player game, and a symmetric
game lets one policy stand for both.

Sokota et al. Theorem 3.4 ([PAPER]): for ``eta <= alpha / L^2``,
``KL(pi* || pi_{t+1}) <= (1 + eta alpha)^(-t) KL(pi* || pi_1)``.
Reconstructed: with ``L = 1/2`` (``pi -> P pi`` is 1/2-Lipschitz l1->linf on the simplex)
the default is ``eta = 4 beta`` and the rate ``(1 + 4 beta^2)^(-t)``.
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

__all__ = ["run", "step", "default_eta"]

#: Lipschitz constant of pi -> P pi from l1 to linf on the simplex (after centring).
LIPSCHITZ = 0.5


def default_eta(beta: float) -> float:
    """``eta = alpha / L^2 = 4 beta``.

    Reconstructed: MMD's Theorem 3.4 condition with ``alpha = beta`` and ``L = 1/2``.
    """
    return beta / LIPSCHITZ**2


def step(game: PreferenceGame | PreferenceOracle, log_pi: np.ndarray, eta: float) -> np.ndarray:
    """One self-play MMD update (one query of the game's oracle); returns ``log pi_{t+1}``, shape ``(n,)``."""
    oracle = as_oracle(game)
    a = eta * oracle.beta
    return log_normalize((log_pi + a * oracle.log_mu + eta * oracle.win_rates(np.exp(log_pi))) / (1.0 + a))


def run(game: PreferenceGame, *, iters: int, seed=None, eta: float | None = None,
        init=None, record: bool = False) -> PreferenceRunResult:
    """Run self-play MMD.

    The loop sees the game only through its :class:`PreferenceOracle` (``mu``, ``beta`` and
    counted win-rate queries).

    Parameters
    ----------
    game : PreferenceGame
    iters : int
        Number of updates (one preference query each).
    seed : ignored
        Deterministic method (a malformed seed is still rejected).
    eta : float, optional
        Step on the payoff; default ``4 * beta``.
        Reconstructed: ``alpha / L^2`` with ``alpha = beta``, ``L = 1/2`` (Theorem 3.4's bound).
        Required when ``game.beta == 0`` (MMD then reduces to MWU).
    init : array_like, shape (n,), optional
        Full-support initial policy; default ``game.mu``.
    record : bool
        Also return ``diagnostics``: ``"oracle_queries"`` and ``"opponents"`` (the iterates
        ``pi_t`` sent to the oracle). The iterates are the same either way.

    Returns
    -------
    PreferenceRunResult
        ``queries[t] = t``; ``hyper = {"eta": eta}``.
    """
    game = check_game(game)
    iters = check_iters(iters, game)
    check_seed_argument(seed)
    record = check_record(record)
    if eta is None:
        if game.beta == 0:
            raise ValueError("mmd's default eta = 4*beta is 0 for beta = 0; pass eta explicitly")
        eta = default_eta(game.beta)
    else:
        eta = check_step("eta", eta)
    with np.errstate(over="ignore"):
        check_logits_finite("eta", eta, eta * game.beta * float(np.max(np.abs(game.log_mu))) + eta,
                            "eta beta |log mu| + eta")
    log_pi = initial_log_policy(game, init)
    oracle = PreferenceOracle(game, record=record)
    logs = [log_pi]
    for _ in range(iters):
        log_pi = step(oracle, log_pi, eta)
        logs.append(log_pi)
    diagnostics = oracle_diagnostics(oracle) if record else None
    return pack(logs, list(range(iters + 1)), "mmd", {"eta": eta}, diagnostics=diagnostics)
