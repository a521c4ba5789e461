"""Nash-MP: Mirror Prox for the KL-regularised preference game (Tiapkin et al., arXiv 2505.19731 v1).

Pseudocode (both proximal steps are centred at ``pi_k``; extragradient, not optimistic MD). The
update form is as quoted by a secondary review ([SECONDARY]; the paper's algorithm box was
unavailable)::

    pi_0 = init (default mu)
    for k = 0, 1, ..., iters - 1:
        pi_{k+1/2} = argmin_pi (1/beta) P(pi_k       > pi) + KL(pi||mu) + (1/eta) KL(pi||pi_k)
        pi_{k+1}   = argmin_pi (1/beta) P(pi_{k+1/2} > pi) + KL(pi||mu) + (1/eta) KL(pi||pi_k)

Closed form of each step, in log space. Reconstructed: derived from each step's first-order
conditions, not read from the paper (reconstructed, docs/papers/nash.md#nash-closed-form-steps)::

    log pi_next = (log pi_k + eta log mu + (eta/beta) P pi_opp) / (1 + eta) + const

Two preference-oracle calls per iteration (``P pi_k`` and ``P pi_{k+1/2}``), so after ``k``
iterations ``N = 2k`` queries. The abstract ([PAPER]) claims last-iterate linear convergence of
``KL(pi*_beta || pi)`` at rate ``(1 + 2 beta)^(-N/2)``. Reconstructed: the explicit bound
``KL(pi*_beta || pi_k) <= (1 + 2 beta)^(-N/2) KL(pi*_beta || pi_0)`` (with ``eta = 2 beta``) is
(T1) of docs/papers/nash.md#nash-reconstructed-rate-statements; the paper's theorem and constants were unavailable.

Step-size conventions: ``eta`` multiplies the KL-to-centre term as ``1/eta`` (Nash-MP form);
the NLHF/MMD-style step on the preference term is ``eta' = eta / beta`` (``eta = 2 beta``
<=> ``eta' = 2``).
"""

from __future__ import annotations

import numpy as np

from ..games import PreferenceGame
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
    prox_step,
)

__all__ = ["run", "step", "default_eta", "QUERIES_PER_ITERATION"]

QUERIES_PER_ITERATION = 2


def default_eta(beta: float) -> float:
    """``eta = 2 beta``.

    Reconstructed: Mirror Prox needs ``eta * L <= 1`` with ``L = 1/(2 beta)`` the
    l1->linf Lipschitz constant of ``pi -> P pi / beta`` on the simplex, and ``eta = 2 beta``
    reproduces the abstract's ``(1 + 2 beta)^(-N/2)`` rate; the paper's rule was not available.
    """
    return 2.0 * beta


def step(game: PreferenceGame | PreferenceOracle, log_pi: np.ndarray,
         eta: float) -> tuple[np.ndarray, np.ndarray]:
    """One Nash-MP iteration from ``log pi_k`` (two queries of the game's oracle).

    Parameters
    ----------
    game : PreferenceGame or PreferenceOracle
        ``beta > 0``.
    log_pi : ndarray, shape (n,)
        ``log pi_k`` (normalised).
    eta : float

    Returns
    -------
    log_half, log_next : ndarray, shape (n,)
        ``log pi_{k+1/2}`` and ``log pi_{k+1}``.
    """
    oracle = as_oracle(game)
    pi = np.exp(log_pi)
    log_half = prox_step(oracle, log_pi, pi, eta)             # extrapolation, opponent pi_k
    log_next = prox_step(oracle, log_pi, np.exp(log_half), eta)  # update, opponent pi_{k+1/2}
    return log_half, log_next


def run(game: PreferenceGame, *, iters: int, seed=None, eta: float | None = None,
        init=None, record: bool = False) -> PreferenceRunResult:
    """Run exact (tabular) Nash-MP.

    The loop sees the game only through its :class:`PreferenceOracle` (``mu``, ``beta`` and
    counted win-rate queries).

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0``.
    iters : int
        Number of Mirror-Prox iterations ``K`` (``2K`` preference queries).
    seed : ignored
        The exact method is deterministic; accepted for a uniform ``run`` signature (a
        malformed one is still rejected).
    eta : float, optional
        KL step size; default ``2 * beta``.
        Reconstructed: ``eta = 2 beta`` from the Mirror-Prox condition ``eta L <= 1`` with
        ``L = 1/(2 beta)``; it matches the abstract's rate, but the paper's rule was unavailable.
    init : array_like, shape (n,), optional
        Full-support initial policy; default ``game.mu``.
    record : bool
        Also return ``diagnostics``: the oracle's ``"oracle_queries"`` and ``"opponents"``
        (``pi_0, pi_{1/2}, pi_1, pi_{3/2}, ...``) and ``"log_half_policies"`` (``log pi_{k+1/2}``,
        shape ``(iters, n)``). The iterates are the same either way.

    Returns
    -------
    PreferenceRunResult
        ``policies`` shape ``(iters + 1, n)``; ``queries[k] = 2k``; ``hyper = {"eta": eta}``.
    """
    game = check_game(game)
    if game.beta == 0:
        raise ValueError("nash_mp needs game.beta > 0 (the regularised game); for beta = 0 use mwu")
    iters = check_iters(iters, game)
    check_seed_argument(seed)
    record = check_record(record)
    eta = default_eta(game.beta) if eta is None else check_step("eta", eta)
    with np.errstate(over="ignore"):
        check_logits_finite("eta", eta, eta * float(np.max(np.abs(game.log_mu))) + eta / game.beta,
                            "eta |log mu| + eta / beta")
    log_pi = initial_log_policy(game, init)
    oracle = PreferenceOracle(game, record=record)
    logs, halves = [log_pi], []
    for _ in range(iters):
        log_half, log_pi = step(oracle, log_pi, eta)
        logs.append(log_pi)
        halves.append(log_half)
    queries = QUERIES_PER_ITERATION * np.arange(iters + 1)
    diagnostics = None
    if record:
        diagnostics = oracle_diagnostics(oracle, log_half_policies=np.reshape(halves, (iters, game.n)))
    return pack(logs, list(queries), "nash_mp", {"eta": eta}, diagnostics=diagnostics)
