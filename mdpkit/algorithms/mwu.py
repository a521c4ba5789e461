"""Self-play multiplicative weights (Hedge): a tabular instance of SPO (Swamy et al., ICML 2024).

Pseudocode (unregularised; ``game.beta`` is ignored -- the target is the minimax winner)::

    pi_0 = init (default mu)
    for t = 0, 1, ..., iters - 1:
        r_t(y) = P(y > pi_t)                  # win rate against the current self: one query
        pi_{t+1}(y) ∝ pi_t(y) exp(eta r_t(y))
    report the running average  avg_t = (pi_0 + ... + pi_t) / (t + 1)

Reconstructed: SPO ([SECONDARY]) runs any no-regret learner on win-rate rewards; Hedge on the
exact win rates ``P pi_t`` as its tabular instance is our choice.

Why the average: the learner's regret after ``t + 1`` rounds is
``max_y sum_s r_s(y) - sum_s pi_s^T P pi_s = (t + 1) (max_y P(y > avg_t) - 1/2)`` because
``pi^T P pi = 1/2``, so the average's unregularised exploitability *equals* the average regret,
``<= sqrt(log(n) / (2 (t + 1)))`` for Hedge with ``eta = sqrt(8 log(n) / (t + 1))`` and
rewards in ``[0, 1]``. The last iterate carries no guarantee (it cycles on intransitive games).
"""

from __future__ import annotations

import numpy as np

from ..games import PreferenceGame, log_normalize
from ._preference_common import (
    PreferenceRunResult,
    check_game,
    check_iters,
    check_seed_argument,
    check_step,
    initial_log_policy,
    pack,
)

__all__ = ["run", "step", "default_eta", "reference_iterates"]


def default_eta(n: int, horizon: int) -> float:
    """Hedge's tuned step ``sqrt(8 log(n) / horizon)`` for rewards in ``[0, 1]``.

    Reconstructed: SPO leaves the no-regret learner open; this is the textbook Hedge tuning
    for a known horizon. For ``n = 1`` (no choice) it returns 1.
    """
    if n <= 1:
        return 1.0
    return float(np.sqrt(8.0 * np.log(n) / max(horizon, 1)))


def step(game: PreferenceGame, log_pi: np.ndarray, eta: float) -> np.ndarray:
    """One Hedge update against the current self; returns ``log pi_{t+1}``, shape ``(n,)``."""
    return log_normalize(log_pi + eta * (game.P @ np.exp(log_pi)))


def reference_iterates(game: PreferenceGame, log_pi0: np.ndarray, eta: float,
                      iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain-numpy specification of :func:`run`'s recurrence (a Python loop over :func:`step`).

    Parameters
    ----------
    game : PreferenceGame
    log_pi0 : ndarray, shape (n,)
        ``log pi_0``.
    eta : float
    iters : int

    Returns
    -------
    log_policies : ndarray, shape (iters + 1, n)
    average : ndarray, shape (iters + 1, n)
        Running means of ``exp(log_policies)``.
    """
    logs = [np.asarray(log_pi0, dtype=np.float64)]
    for _ in range(iters):
        logs.append(step(game, logs[-1], eta))
    log_policies = np.array(logs)
    average = np.cumsum(np.exp(log_policies), axis=0) / np.arange(1, iters + 2)[:, None]
    return log_policies, average


def run(game: PreferenceGame, *, iters: int, seed=None, eta: float | None = None,
        init=None) -> PreferenceRunResult:
    """Run self-play MWU/Hedge with the running average iterate.

    Parameters
    ----------
    game : PreferenceGame
        ``game.beta`` is ignored.
    iters : int
        Number of updates (one preference query each).
    seed : ignored
        Deterministic method; accepted for a uniform ``run`` signature (a malformed one is
        still rejected).
    eta : float, optional
        Default ``sqrt(8 log(n) / (iters + 1))`` (Hedge tuned to the ``iters + 1`` rounds
        averaged in ``average[-1]``).
        Reconstructed: textbook Hedge tuning; SPO does not fix the no-regret learner.
    init : array_like, shape (n,), optional
        Full-support initial policy; default ``game.mu``.

    Returns
    -------
    PreferenceRunResult
        ``policies`` (last iterates) and ``average`` (running means), both
        ``(iters + 1, n)``; ``queries[t] = t``.

    Notes
    -----
    The loop runs in the numba kernel :func:`mdpkit.algorithms._mwu_kernels.hedge_self_play`
    (loaded on the first call); :func:`reference_iterates` is its plain-numpy specification.
    """
    game = check_game(game)
    iters = check_iters(iters, game)
    check_seed_argument(seed)
    eta = default_eta(game.n, iters + 1) if eta is None else check_step("eta", eta)
    log_pi0 = initial_log_policy(game, init)
    from ._mwu_kernels import hedge_self_play  # numba compiles/loads only when MWU is used

    log_policies = np.empty((iters + 1, game.n))
    log_policies[0] = log_pi0
    average = np.empty((iters + 1, game.n))
    hedge_self_play(np.ascontiguousarray(game.P, dtype=np.float64), eta, log_policies, average)
    return pack(log_policies, list(range(iters + 1)), "mwu", {"eta": eta}, average=average)
