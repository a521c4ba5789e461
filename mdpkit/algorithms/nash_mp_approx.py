"""Approximate Nash-MP: each proximal step solved by stochastic policy-gradient steps.

The outer loop is Nash-MP (see :mod:`mdpkit.algorithms.nash_mp`); the exact closed-form
proximal step is replaced by ``inner_steps`` stochastic natural-policy-gradient (NPG) steps
on softmax logits ``theta``, using only sampled pairwise comparisons::

    pi_0 = init (default mu)
    for k = 0, 1, ..., iters - 1:
        pi_{k+1/2} = ApproxProx(center=pi_k, opponent=pi_k)
        pi_{k+1}   = ApproxProx(center=pi_k, opponent=pi_{k+1/2})

    ApproxProx(center, opponent):      # maximise (1/beta) P(pi > opp) - KL(pi||mu) - KL(pi||center)/eta
        theta = log center
        for s = 0, ..., inner_steps - 1:
            draw y_i ~ pi_theta, y'_i ~ opponent, o_i ~ Bernoulli(P[y_i, y'_i])   (i < batch_size)
            r_hat(y) = sum_i 1[y_i = y] (o_i - 1/2) / (batch_size * pi_theta(y))  # unbiased for P(y > opp) - 1/2
            A_hat = r_hat / beta - log(pi_theta/mu) - log(pi_theta/center) / eta   # advantage
            theta += gamma_s * eta/(1+eta) * A_hat,   gamma_s = 1/(s+2)            # NPG step

For tabular softmax, the NPG step is mirror ascent in policy space: with step
``gamma_s * eta / (1 + eta)`` on the advantage it reads
``theta <- (1 - gamma_s) theta + gamma_s target_hat`` where ``target_hat`` is an unbiased
estimate of the exact prox target ``(log center + eta log mu + (eta/beta) P opp) / (1 + eta)``.
With ``gamma_s = 1/(s+2)`` the inner iterate is the mean of the warm start and the
``inner_steps`` estimates: bias ``O(eta / inner_steps)``, variance
``O(1 / (inner_steps * batch_size))``, so the outer error floor falls as ``inner_steps`` grows.
(``gamma_0 = 1`` would replace the warm start by one single-sample estimate, whose
importance weights ``1/pi(y)`` make it wild; keeping the warm start as a pseudo-sample avoids it.)

Reconstructed: the paper ([SECONDARY] summaries only) approximates each prox step by
(stochastic) policy gradient but its inner loop was unavailable; the estimator (on-policy
importance-weighted win rate with baseline 1/2) and the harmonic NPG step are our choice.
"""

from __future__ import annotations

import numpy as np

from ..games import PreferenceGame, log_normalize
from .._validation import INT64_MAX, check_optional_seed, check_output_size, check_positive_int
from ._preference_common import (
    PreferenceOracle,
    PreferenceRunResult,
    as_oracle,
    check_game,
    check_iters,
    check_logits_finite,
    check_record,
    check_step,
    initial_log_policy,
    oracle_diagnostics,
    pack,
)
from .nash_mp import default_eta

__all__ = ["run", "approx_prox_step"]


def _sample(p: np.ndarray, cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    # Inverse-CDF sampling; min() guards against u >= cdf[-1] = 1 - 1e-16 by falling back to the
    # last bin with non-zero probability (the last bin, unless its probability underflowed to an
    # exact 0 -- sampling it would then divide by 0 in the importance weight and give NaN).
    last_with_mass = int(np.flatnonzero(p > 0)[-1])
    return np.minimum(np.searchsorted(cdf, u, side="right"), last_with_mass)


def approx_prox_step(game: PreferenceGame | PreferenceOracle, log_center: np.ndarray,
                     opponent: np.ndarray, eta: float, inner_steps: int, batch_size: int,
                     rng: np.random.Generator, sampled_from: list | None = None) -> np.ndarray:
    """Approximate the Nash-MP prox step by ``inner_steps`` stochastic NPG steps.

    Only sampled comparisons of the game's oracle (:meth:`PreferenceOracle.compare`) inform it.

    Parameters
    ----------
    game : PreferenceGame or PreferenceOracle
        ``beta > 0``.
    log_center : ndarray, shape (n,)
        ``log pi_k`` (KL centre and warm start).
    opponent : ndarray, shape (n,)
        Policy the sampled opponents ``y'`` are drawn from.
    eta : float
        KL step (Nash-MP convention).
    inner_steps, batch_size : int
        Number of NPG steps and comparisons per step (``inner_steps * batch_size`` queries).
    rng : numpy.random.Generator
    sampled_from : list, optional
        If given, each inner step appends the policy ``pi_theta`` its responses are drawn from.

    Returns
    -------
    ndarray, shape (n,)
        Log-probabilities of the approximate prox point.
    """
    oracle = as_oracle(game)
    n, beta = oracle.n, oracle.beta
    fixed_part = (log_center + eta * oracle.log_mu) / (1.0 + eta)
    pref_coef = eta / (beta * (1.0 + eta))
    opp_cdf = np.cumsum(opponent)
    theta = log_center.copy()
    for s in range(inner_steps):
        pi_theta = np.exp(theta)
        if sampled_from is not None:
            sampled_from.append(pi_theta)
        y = _sample(pi_theta, np.cumsum(pi_theta), rng.random(batch_size))
        y_opp = _sample(opponent, opp_cdf, rng.random(batch_size))
        outcome = oracle.compare(y, y_opp, rng.random(batch_size))
        r_hat = np.zeros(n)
        np.add.at(r_hat, y, (outcome - 0.5) / pi_theta[y])
        r_hat /= batch_size
        target_hat = fixed_part + pref_coef * r_hat     # theta + eta/(1+eta) * A_hat
        gamma = 1.0 / (s + 2)
        theta = log_normalize((1.0 - gamma) * theta + gamma * target_hat)
    return theta


def run(game: PreferenceGame, *, iters: int, seed=None, eta: float | None = None,
        init=None, inner_steps: int = 100, batch_size: int = 10,
        record: bool = False) -> PreferenceRunResult:
    """Run approximate Nash-MP from sampled comparisons.

    The loop sees the game only through its :class:`PreferenceOracle`, and uses only its sampled
    comparisons (no exact win rate).

    Parameters
    ----------
    game : PreferenceGame
        ``beta > 0``.
    iters : int
        Outer Mirror-Prox iterations.
    seed : int, SeedSequence or None
        Seeds the comparisons (``numpy.random.default_rng(seed)``).
    eta : float, optional
        KL step, default ``2 * beta``.
        Reconstructed: as in exact Nash-MP (Mirror-Prox condition ``eta L <= 1``, ``L = 1/(2 beta)``).
    init : array_like, shape (n,), optional
        Full-support initial policy; default ``game.mu``.
    inner_steps : int
        ``T_in``, NPG steps per proximal step (no theory value; a practical knob).
    batch_size : int
        Comparisons per NPG step.
    record : bool
        Also return ``diagnostics``: ``"oracle_comparisons"`` (comparisons the oracle answered),
        ``"compared"`` (rows ``(y, y', u)``, shape ``(comparisons, 3)``), ``"sampled_from"``
        (the policy each inner step drew its responses from, shape ``(2 iters inner_steps, n)``)
        and ``"opponents_sampled"`` (the opponent of each prox step, shape ``(2 iters, n)``).
        The iterates are the same either way.

    Returns
    -------
    PreferenceRunResult
        ``queries[k] = 2 * inner_steps * batch_size * k`` sampled comparisons;
        ``hyper = {"eta", "inner_steps", "batch_size"}``.
    """
    game = check_game(game)
    if game.beta == 0:
        raise ValueError("nash_mp_approx needs game.beta > 0")
    iters = check_iters(iters, game)
    record = check_record(record)
    inner_steps = check_positive_int("inner_steps", inner_steps)
    batch_size = check_positive_int("batch_size", batch_size)
    # three batches of draws (responses, opponents, outcomes) live at once
    check_output_size("batch_size", batch_size, 24.0 * batch_size, "one step's sampled comparisons")
    if 2 * inner_steps * batch_size * iters > INT64_MAX:
        raise ValueError(f"iters * 2 * inner_steps * batch_size = {2 * inner_steps * batch_size * iters} "
                         f"comparisons exceed the int64 query counter (iters={iters}, "
                         f"inner_steps={inner_steps}, batch_size={batch_size})")
    eta = default_eta(game.beta) if eta is None else check_step("eta", eta)
    with np.errstate(over="ignore"):
        check_logits_finite("eta", eta, eta * float(np.max(np.abs(game.log_mu))) + eta / game.beta,
                            "eta |log mu| + eta / beta")
    rng = np.random.default_rng(check_optional_seed(seed))
    log_pi = initial_log_policy(game, init)
    oracle = PreferenceOracle(game, record=record)
    sampled_from = [] if record else None
    opponents = []
    logs = [log_pi]
    for _ in range(iters):
        opponent = np.exp(log_pi)
        log_half = approx_prox_step(oracle, log_pi, opponent, eta, inner_steps, batch_size, rng, sampled_from)
        opponents += [opponent, np.exp(log_half)] if record else []
        log_pi = approx_prox_step(oracle, log_pi, np.exp(log_half), eta, inner_steps, batch_size, rng,
                                  sampled_from)
        logs.append(log_pi)
    per_iter = 2 * inner_steps * batch_size
    diagnostics = None
    if record:
        diagnostics = oracle_diagnostics(
            oracle, sampled_from=np.reshape(sampled_from, (2 * iters * inner_steps, game.n)),
            opponents_sampled=np.reshape(opponents, (2 * iters, game.n)))
    return pack(logs, list(per_iter * np.arange(iters + 1)), "nash_mp_approx",
                {"eta": eta, "inner_steps": inner_steps, "batch_size": batch_size}, diagnostics=diagnostics)
