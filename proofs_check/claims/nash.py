"""Nash-MP paper claims (Tiapkin et al., arXiv 2505.19731 v1) and its comparators on preference games.

Claims (ids ``nash.*``):

- ``mp_kl_bound`` -- ``KL(pi*_beta || pi_k) <= (1 + 2 beta)^(-N_k/2) KL(pi*_beta || pi_0)``;
- ``mp_kl_contraction`` -- the fitted per-iteration factor of that KL is at most ``1/(1 + 2 beta)``;
- ``mp_exploitability_linear``, ``mp_span_linear`` -- linear convergence of the regularised
  exploitability and of the log-ratio span;
- ``mp_action_count`` -- the fitted rate does not depend on ``n = |Y|`` (4 to 1024);
- ``md_kl_bound`` -- Nash-MD: ``KL(pi*_beta || pi_T) <= 8 / (beta^2 (T + 1))``;
- ``mp_fewer_queries_than_md`` -- Nash-MP reaches ``KL <= 1e-6`` with fewer queries than Nash-MD;
- ``mp_approx_floor`` -- approximate Nash-MP's error floor falls as the inner budget ``T_in`` grows;
- ``mwu_average_rate``, ``mwu_last_iterate`` -- SPO/MWU: the average iterate's unregularised
  exploitability decays like ``T^(-1/2)``, the last iterate's does not decay.

Every instance is drawn from the run's seed; every observed quantity is exact: ``pi*_beta`` from
:func:`mdpkit.games.regularized_nash` (Newton, residual certified), ``KL`` from
:func:`mdpkit.games.kl_log` (accurate to ~1e-16 near 0), all iterates in log space.

Query counting: Nash-MP queries the preference oracle twice per iteration (``N_k = 2k``), Nash-MD
and MWU once. Series indexed by ``k`` below are at ``N = 2k`` queries for every variant (a
one-query-per-step mutant is sampled every second step), so the claimed per-index factor is the
same for the claim and its mutants.
"""

from __future__ import annotations

import importlib

import numpy as np

from ..claim import Claim, Finding, Grid, Mutant, Paper, Provenance, Sweep
from ..claim import Pin
from ..rules import BoundHolds, Contraction, Envelope, EnvelopeTable, Rate


# Loading the claims (``list``, ``report``) must not import the algorithms, numba or scipy
# (mdpkit.games imports scipy): every mdpkit name below is resolved on first use.
class _LazyModule:
    """Attribute access imports ``name`` on first use."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):          # introspection (inspect, pickle, doctest) must not import
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._name), attr)


def _lazy(module: str, attr: str):
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attr
    call.__doc__ = f"``{module}.{attr}``, imported on first call."
    return call


mwu = _LazyModule("mdpkit.algorithms.mwu")
mmd = _LazyModule("mdpkit.algorithms.mmd")
nash_md = _LazyModule("mdpkit.algorithms.nash_md")
nash_mp = _LazyModule("mdpkit.algorithms.nash_mp")
nash_mp_approx = _LazyModule("mdpkit.algorithms.nash_mp_approx")
prox_step = _lazy("mdpkit.algorithms._preference_common", "prox_step")
bradley_terry_game = _lazy("mdpkit.envs.preference", "bradley_terry_game")
cyclic_game = _lazy("mdpkit.envs.preference", "cyclic_game")
nontransitive_dice_game = _lazy("mdpkit.envs.preference", "nontransitive_dice_game")
random_preference_game = _lazy("mdpkit.envs.preference", "random_preference_game")
PreferenceGame = _lazy("mdpkit.games", "PreferenceGame")
kl_log = _lazy("mdpkit.games", "kl_log")
log_normalize = _lazy("mdpkit.games", "log_normalize")
regularized_nash = _lazy("mdpkit.games", "regularized_nash")

NASH_MP = Paper("Accelerating Nash Learning from Human Feedback via Mirror Prox (Tiapkin et al.), v1",
                arxiv="2505.19731", where="abstract (v1; theorem constants not available)")
NLHF = Paper("Nash Learning from Human Feedback (Munos et al., ICML 2024)", arxiv="2312.00886",
             where="Theorem 1 (as quoted by secondary notes)")
SPO = Paper("A Minimaximalist Approach to Reinforcement Learning from Human Feedback (SPO; Swamy et al., "
            "ICML 2024)", arxiv="2401.04056", where="average-iterate guarantee")

#: Families of preference games swept by the Nash-MP KL claims.
FAMILIES = ("random", "bradley_terry", "cyclic", "dice")
#: Number of actions of the random-size families, log-uniform integer in [N_MIN, N_MAX].
N_MIN, N_MAX = 2, 200
#: Iterations of the KL claims: enough for the claimed bound to fall by this factor.
BOUND_DECAY = 1e6
#: The KL-bound check uses only iterations whose bound is >= this: there kl_log's absolute error
#: (~1e-16, plus ~1e-18 from pi*'s certified residual) is < 1e-5 of the bound, so rounding cannot
#: move a ratio across 1 unless the true ratio is within 1e-5 of it (measured max: 0.98).
KL_CHECK_MIN = 1e-11
#: Floors of the Contraction fits (errors at or below are rounding, not the algorithm).
KL_FLOOR = 1e-14          # kl_log's floating-point noise appears near 1e-16
EXPLOIT_FLOOR = 1e-18     # beta * KL(pi || BR(pi)) with log-ratios accurate to ~1e-13: noise << 1e-20
SPAN_FLOOR = 1e-9         # log pi carries ~|log pi| eps <= 1e3 x 2e-16 rounding; pi* residual <= ~1e-11


def _binomial_pin(count: int, n: int, band: tuple, why: str) -> Pin:
    """``Pin.binomial(count, n, why)`` with its band written out: that constructor imports
    scipy.stats, which loading the claims must not (tests/test_claims_nash.py checks the two agree)."""
    return Pin(float(count), band, f"{why} (binomial 99.9% range at rate {count}/{n})")


# ============================================================================ instances
def _log_uniform_int(rng, lo: int, hi: int) -> int:
    return int(np.clip(np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))), lo, hi))


def _softmax_logs(rng, n: int, spread: float) -> np.ndarray:
    return log_normalize(rng.normal(0.0, spread, n))


def draw_game(family: str, beta: float, rng: np.random.Generator, n: int | None = None) -> PreferenceGame:
    """A preference game of ``family`` with random reference ``mu = softmax(N(0, 1))``.

    Parameters
    ----------
    family : {"random", "bradley_terry", "cyclic", "dice"}
        ``random``: ``P = sigmoid(X - X^T)``, ``X ~ N(0, 9)``; ``bradley_terry``: ``r ~ N(0, 1)``;
        ``cyclic``: win probability along the cycle ``p ~ U(0, 1)``; ``dice``: the NLHF dice (n = 3).
    beta : float
    rng : numpy.random.Generator
    n : int, optional
        Number of actions; default log-uniform in ``[N_MIN, N_MAX]`` (``cyclic``: at least 3).
    """
    if family == "dice":
        return nontransitive_dice_game(beta, mu="random", seed=rng)
    if n is None:
        n = _log_uniform_int(rng, 3 if family == "cyclic" else N_MIN, N_MAX)
    if family == "random":
        return random_preference_game(n, beta, mu="random", seed=rng)
    if family == "bradley_terry":
        return bradley_terry_game(n, beta, mu="random", seed=rng)
    if family == "cyclic":
        return cyclic_game(n, beta, p=float(rng.uniform()), mu="random", seed=rng)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def _iterations(beta: float, decay: float = BOUND_DECAY) -> int:
    """Iterations ``K`` after which the claimed factor ``(1 + 2 beta)^(-K)`` is below ``1/decay``."""
    return int(np.ceil(np.log(decay) / np.log1p(2.0 * beta)))


# ============================================================================ Nash-MP and its mutants
def _mp_logs(game, log_init, iters, eta):
    return nash_mp.run(game, iters=iters, eta=eta, init=np.exp(log_init)).log_policies


def _no_extrapolation_logs(game, log_init, iters, eta):
    """Mutant: plain (single-call) mirror descent, ``pi_{k+1} = prox(pi_k; opponent pi_k)``.

    One query per step, so ``2 iters`` steps spend the ``2 iters`` queries of ``iters`` Nash-MP
    iterations; every second iterate is returned (index = N / 2, as for Nash-MP).
    """
    log_pi = log_init
    out = [log_pi]
    for t in range(2 * iters):
        log_pi = prox_step(game, log_pi, np.exp(log_pi), eta)
        if t % 2 == 1:
            out.append(log_pi)
    return np.array(out)


def _variant_logs(variant: str, game, log_init, iters):
    """Log-iterates at ``N = 0, 2, ..., 2 iters`` queries, shape ``(iters + 1, n)``.

    The claim's variant passes ``eta = 2 beta`` explicitly although it is ``nash_mp``'s default:
    these claims test the reconstructed rate *at that step*, so a change of the library default
    must not silently change what they test; the default itself is covered by
    ``nash.one_step_identity``, ``nash.oracle_use`` and ``nash.defaults_independent_audit``, which
    call ``run`` with defaults only.
    """
    beta = game.beta
    if variant == "claim":
        return _mp_logs(game, log_init, iters, 2.0 * beta)
    if variant == "eta_8beta":
        return _mp_logs(game, log_init, iters, 8.0 * beta)
    if variant == "no_extrapolation":
        return _no_extrapolation_logs(game, log_init, iters, 2.0 * beta)
    raise ValueError(f"unknown variant {variant!r}")


def _kl_series(log_star, logs) -> np.ndarray:
    return np.array([kl_log(log_star, lp) for lp in logs])


def _exploitability_series(game, logs) -> np.ndarray:
    """``e_beta(pi_k) = beta KL(pi_k || BR_beta(pi_k))`` (mdpkit.games.exploitability, unvalidated loop)."""
    out = np.empty(len(logs))
    for k, lp in enumerate(logs):
        log_br = log_normalize(game.log_mu + (game.P @ np.exp(lp)) / game.beta)
        out[k] = game.beta * kl_log(lp, log_br)
    return out


def _span_series(log_star, logs) -> np.ndarray:
    r = np.asarray(logs) - log_star[None, :]
    return r.max(axis=1) - r.min(axis=1)


def _mp_kl_bound(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = params["beta_lo"] * 10.0 ** rng.uniform(0.0, 1.0)       # log-uniform in the decade
    game = draw_game(params["family"], beta, rng)
    log_init = _softmax_logs(rng, game.n, rng.uniform(0.0, 3.0))   # arbitrary full-support pi_0
    log_star = regularized_nash(game).log_policy
    iters = _iterations(beta)
    kl = _kl_series(log_star, _variant_logs(variant, game, log_init, iters))
    kl0 = kl_log(log_star, log_init)                     # identical for every variant
    bound = (1.0 + 2.0 * beta) ** -np.arange(iters + 1.0) * kl0
    keep = np.arange(iters + 1) >= 1                     # k = 0 is equality by definition
    keep &= bound >= KL_CHECK_MIN
    return {"kl_ratio": kl[keep] / bound[keep]}


def observe_mp_kl_bound(params, seed):
    """``KL(pi* || pi_k) / ((1 + 2 beta)^(-k) KL(pi* || pi_0))`` for ``k >= 1`` with bound >= 1e-11.

    ``beta`` log-uniform in ``[beta_lo, 10 beta_lo]``, ``n`` log-uniform in [2, 200] (family
    permitting), ``pi_0 = softmax(N(0, s^2))`` with ``s ~ U(0, 3)``, all drawn from ``seed``.
    """
    return _mp_kl_bound(params, seed, "claim")


def observe_mp_kl_bound_eta8(params, seed):
    """Mutant: Nash-MP with step ``eta = 8 beta`` (four times the Mirror-Prox limit)."""
    return _mp_kl_bound(params, seed, "eta_8beta")


def observe_mp_kl_bound_no_extrapolation(params, seed):
    """Mutant: extrapolation step removed (plain mirror descent, same queries)."""
    return _mp_kl_bound(params, seed, "no_extrapolation")


def _mp_series(params, seed, variant):
    """Random game at the grid's ``beta``; KL, exploitability and span series at N = 0, 2, 4, ..."""
    rng = np.random.default_rng(seed)
    beta = params["beta"]
    game = draw_game(params["family"], beta, rng)
    log_init = _softmax_logs(rng, game.n, rng.uniform(0.0, 3.0))
    log_star = regularized_nash(game).log_policy
    logs = _variant_logs(variant, game, log_init, _iterations(beta))
    return {"kl": _kl_series(log_star, logs), "exploitability": _exploitability_series(game, logs),
            "span": _span_series(log_star, logs)}


def observe_mp_series(params, seed):
    """Nash-MP (``eta = 2 beta``): ``kl``, ``exploitability``, ``span`` arrays of shape (K + 1,)."""
    return _mp_series(params, seed, "claim")


def observe_mp_series_eta8(params, seed):
    """Mutant: ``eta = 8 beta``."""
    return _mp_series(params, seed, "eta_8beta")


def observe_mp_series_no_extrapolation(params, seed):
    """Mutant: extrapolation removed (index k = after 2k single-call steps)."""
    return _mp_series(params, seed, "no_extrapolation")


# ============================================================================ action-count independence
def _fitted_factor(err: np.ndarray, floor: float) -> float:
    """Least-squares ``exp(slope)`` of ``log err[k]`` vs ``k`` over ``err > floor`` (as Contraction)."""
    k = np.arange(err.shape[0])
    keep = (err > floor) & np.isfinite(err)
    if keep.sum() < 2:
        return np.nan
    from scipy import stats

    return float(np.exp(stats.linregress(k[keep], np.log(err[keep])).slope))


def _time_constant(params, seed, eta_rule):
    """Iterations per e-fold of the KL, in units of the reconstructed bound's ``1 / log(1 + 2 beta)``.

    ``<= 1`` means at least the claimed rate; ~0.5 is the measured asymptotic rate (KL is quadratic
    in the log-ratio, which contracts by ``1/(1 + 2 beta)``).
    """
    rng = np.random.default_rng(seed)
    beta, n = params["beta"], params["n"]
    game = random_preference_game(n, beta, mu="random", seed=rng)
    log_star = regularized_nash(game).log_policy
    eta = eta_rule(game)
    # The claimed factor falls by 1e8 over the run: the KL (decaying ~ twice as fast) reaches the
    # floor, so the fit covers the whole transient-plus-asymptotic curve.
    logs = nash_mp.run(game, iters=_iterations(beta, 1e8), eta=eta).log_policies
    rho = _fitted_factor(_kl_series(log_star, logs), KL_FLOOR)
    return {"time_constant": np.float64(np.log1p(2.0 * beta) / -np.log(rho))}


def observe_mp_time_constant(params, seed):
    """Nash-MP with ``eta = 2 beta`` on a random game with ``n`` actions."""
    return _time_constant(params, seed, lambda g: 2.0 * g.beta)


def observe_mp_time_constant_spectral_step(params, seed):
    """Mutant: step ``eta = beta / ||P||_2`` (Lipschitz constant from the l2 operator norm)."""
    return _time_constant(params, seed, lambda g: g.beta / np.linalg.norm(g.P, 2))


def observe_mp_time_constant_log_n_step(params, seed):
    """Mutant: step ``eta = 2 beta / log(n)`` (a Hedge-style entropy-tuned step)."""
    return _time_constant(params, seed, lambda g: 2.0 * g.beta / np.log(g.n))


# ============================================================================ Nash-MD
def _md_swapped_mixture_logs(game, iters):
    """Mutant: geometric mixture with swapped exponents, ``pi^(eta beta) mu^(1 - eta beta)``."""
    log_pi = game.log_mu.copy()
    out = [log_pi]
    for t in range(iters):
        eta = nash_md.schedule(game.beta, t)
        mix = eta * game.beta
        log_mixture = log_normalize(mix * log_pi + (1.0 - mix) * game.log_mu)   # bug: weights swapped
        log_pi = log_normalize(log_mixture + eta * (game.P @ np.exp(log_mixture)))
        out.append(log_pi)
    return np.array(out)


def _md_kl_bound(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = params["beta"]
    game = draw_game("random", beta, rng)
    log_star = regularized_nash(game).log_policy
    T = params["T"]
    if variant == "claim":
        logs = nash_md.run(game, iters=T).log_policies
    else:
        logs = _md_swapped_mixture_logs(game, T)
    kl = _kl_series(log_star, logs)
    bound = 8.0 / (beta ** 2 * (np.arange(T + 1.0) + 1.0))
    return {"kl_ratio": kl / bound}


def observe_md_kl_bound(params, seed):
    """``KL(pi* || pi_t) / (8 / (beta^2 (t + 1)))`` for t = 0..T, Nash-MD with ``eta_t = 2/(beta(t+2))``."""
    return _md_kl_bound(params, seed, "claim")


def observe_md_kl_bound_swapped_mixture(params, seed):
    """Mutant: mixture exponents swapped (``pi_t^(eta beta) mu^(1 - eta beta)``)."""
    return _md_kl_bound(params, seed, "swapped_mixture")


# ============================================================================ Nash-MP vs Nash-MD queries
#: Target accuracy and the Nash-MD query cap of the comparison.
TARGET_KL = 1e-6
MD_QUERY_CAP = 20000


def _first_query_below(log_star, logs, queries_per_step: int, target: float) -> int | None:
    for k, lp in enumerate(logs):
        if kl_log(log_star, lp) <= target:
            return queries_per_step * k
    return None


def _query_ratio(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = params["beta"]
    game = draw_game("random", beta, rng)
    log_star = regularized_nash(game).log_policy
    if variant == "uniform_magnet":
        return _query_ratio_uniform_magnet(game, log_star)
    # Enough Nash-MP iterations for the claimed bound to reach 1e-12 KL_0.
    mp_logs = nash_mp.run(game, iters=_iterations(beta, 1e12), eta=2.0 * beta).log_policies
    n_mp = _first_query_below(log_star, mp_logs, nash_mp.QUERIES_PER_ITERATION, TARGET_KL)
    if n_mp is None:
        n_mp = nash_mp.QUERIES_PER_ITERATION * (mp_logs.shape[0] - 1) + 1   # censored: a lower bound
    md_logs = nash_md.run(game, iters=MD_QUERY_CAP).log_policies
    n_md = _first_query_below(log_star, md_logs, 1, TARGET_KL)
    if n_md is None:
        # Censored: Nash-MD needs more than the cap, so the ratio below over-estimates the true one
        # (conservative for the claim).
        n_md = MD_QUERY_CAP + 1
    return {"query_ratio": np.float64(n_mp / n_md), "queries_mp": np.float64(n_mp),
            "queries_md": np.float64(n_md), "n": np.float64(game.n)}


def _query_ratio_uniform_magnet(game, log_star):
    """Mutant run: Nash-MP whose magnet is uniform instead of mu (same start pi_0 = mu).

    Both methods are stepped only as far as the comparison needs: Nash-MD (the library's steps, its
    schedule) until it reaches the target or the cap, then the mutant until it reaches the target
    or has spent more queries than Nash-MD. In the second case the ratio is censored: it is at
    least the reported (2 k + ...) / N_MD > 1, marked ``query_ratio:censored = +1``.
    """
    n_md, log_pi = None, game.log_mu.copy()
    for t in range(MD_QUERY_CAP):
        log_pi = nash_md.step(game, log_pi, nash_md.schedule(game.beta, t))
        if kl_log(log_star, log_pi) <= TARGET_KL:
            n_md = t + 1
            break
    md_censored = n_md is None
    if md_censored:
        n_md = MD_QUERY_CAP + 1
    uniform = PreferenceGame(game.P, np.full(game.n, 1.0 / game.n), game.beta)
    eta, per_iteration = 2.0 * game.beta, nash_mp.QUERIES_PER_ITERATION
    n_mp, log_pi = None, game.log_mu.copy()
    # At most as many queries as Nash-MD spent (and never beyond Nash-MD's cap), plus one iteration.
    for k in range(1, min(n_md, MD_QUERY_CAP) // per_iteration + 2):
        _, log_pi = nash_mp.step(uniform, log_pi, eta)
        if kl_log(log_star, log_pi) <= TARGET_KL:
            n_mp = per_iteration * k
            break
    censored = 0.0
    if n_mp is None:
        n_mp = per_iteration * k + 1          # a lower bound: the target was not reached
        censored = 1.0
    elif md_censored:
        censored = -1.0                       # N_MD is a lower bound, so the ratio is an upper bound
    return {"query_ratio": np.float64(n_mp / n_md), "query_ratio:censored": np.float64(censored),
            "queries_mp": np.float64(n_mp), "queries_md": np.float64(n_md), "n": np.float64(game.n)}


def observe_query_ratio(params, seed):
    """``N_MP / N_MD``: queries to reach ``KL(pi* || pi) <= 1e-6`` (Nash-MP eta = 2 beta; NLHF schedule)."""
    return _query_ratio(params, seed, "claim")


def observe_query_ratio_uniform_magnet(params, seed):
    """Mutant: Nash-MP with a uniform magnet instead of ``mu`` (stepped until it reaches the
    target or has spent more queries than Nash-MD: then the ratio is censored, > 1)."""
    return _query_ratio(params, seed, "uniform_magnet")


# ============================================================================ approximate Nash-MP
APPROX = {"n": 10, "beta": 0.3, "iters": 40, "tail_from": 20, "batch_size": 10}


def _approx_prox_constant_step(game, log_center, opponent, eta, inner_steps, batch_size, rng):
    """Mutant of :func:`mdpkit.algorithms.nash_mp_approx.approx_prox_step`: constant step 1/2.

    Same estimator and sampling order; only ``gamma_s = 1/(s + 2)`` is replaced by ``1/2``, so the
    inner iterate is an exponential average of the last few noisy targets instead of the mean of all.
    """
    n = game.n
    fixed_part = (log_center + eta * game.log_mu) / (1.0 + eta)
    pref_coef = eta / (game.beta * (1.0 + eta))
    opp_cdf = np.cumsum(opponent)
    theta = log_center.copy()
    for _ in range(inner_steps):
        pi_theta = np.exp(theta)
        y = np.minimum(np.searchsorted(np.cumsum(pi_theta), rng.random(batch_size), side="right"), n - 1)
        y_opp = np.minimum(np.searchsorted(opp_cdf, rng.random(batch_size), side="right"), n - 1)
        outcome = (rng.random(batch_size) < game.P[y, y_opp]).astype(np.float64)
        r_hat = np.zeros(n)
        np.add.at(r_hat, y, (outcome - 0.5) / pi_theta[y])
        r_hat /= batch_size
        theta = log_normalize(0.5 * theta + 0.5 * (fixed_part + pref_coef * r_hat))   # bug: constant step
    return theta


def _approx_floor(params, seed, variant):
    game_seed, run_seed = seed.spawn(2)
    game = random_preference_game(APPROX["n"], APPROX["beta"], mu="random", seed=game_seed)
    log_star = regularized_nash(game).log_policy
    T_in = params["T_in"]
    if variant == "claim":
        logs = nash_mp_approx.run(game, iters=APPROX["iters"], inner_steps=T_in,
                                  batch_size=APPROX["batch_size"], seed=run_seed).log_policies
    else:
        rng = np.random.default_rng(run_seed)
        eta = 2.0 * game.beta
        log_pi = game.log_mu.copy()
        logs = [log_pi]
        for _ in range(APPROX["iters"]):
            half = _approx_prox_constant_step(game, log_pi, np.exp(log_pi), eta, T_in, APPROX["batch_size"], rng)
            log_pi = _approx_prox_constant_step(game, log_pi, np.exp(half), eta, T_in, APPROX["batch_size"], rng)
            logs.append(log_pi)
    kl = _kl_series(log_star, logs)
    return {"kl_floor": np.float64(kl[APPROX["tail_from"]:].mean())}


def observe_approx_floor(params, seed):
    """Mean ``KL(pi* || pi_k)`` over outer iterations 20..40 of approximate Nash-MP (n = 10, beta = 0.3)."""
    return _approx_floor(params, seed, "claim")


def observe_approx_floor_constant_step(params, seed):
    """Mutant: inner NPG step constant 1/2 instead of ``1/(s + 2)``."""
    return _approx_floor(params, seed, "constant_step")


# ============================================================================ SPO / MWU
def _intransitive_game(family: str, rng) -> PreferenceGame:
    if family == "random":
        n = _log_uniform_int(rng, 3, 50)
        while True:
            # Redraw games with a Condorcet winner (a pure equilibrium): they are not intransitive, and
            # Hedge's last iterate converges on them.
            game = random_preference_game(n, 0.0, mu="random", seed=rng)
            off_diagonal = game.P + np.eye(n)            # diagonal 1/2 -> 3/2, never the minimum
            if not np.any(np.all(off_diagonal >= 0.5, axis=1)):
                return game
    if family == "cyclic":
        # n = 3 (generalised rock-paper-scissors): a unique, interior equilibrium. Longer cycles with
        # ties have equilibrium sets that Hedge's last iterate can land in.
        return cyclic_game(3, 0.0, p=float(rng.uniform(0.6, 1.0)), mu="random", seed=rng)
    if family == "dice":
        return nontransitive_dice_game(0.0, mu="random", seed=rng)
    raise ValueError(f"family must be 'random', 'cyclic' or 'dice', got {family!r}")


def _unregularized_exploitability(game, pi) -> float:
    return float(max(np.max(game.P @ pi) - 0.5, 0.0))


def _mwu(params, seed):
    rng = np.random.default_rng(seed)
    game = _intransitive_game(params["family"], rng)
    init = np.exp(_softmax_logs(rng, game.n, 1.0))     # off-equilibrium start (the dice NE is uniform)
    res = mwu.run(game, iters=params["T"], init=init)  # Hedge tuned to the horizon
    e_avg = _unregularized_exploitability(game, res.average[-1])
    e_last = _unregularized_exploitability(game, res.policies[-1])
    # Hedge's regret bound over the T + 1 averaged rounds, with prior pi_0 instead of uniform:
    # regret <= max_y log(1 / pi_0(y)) / eta + eta (T + 1) / 8, and e(avg) = regret / (T + 1).
    eta, rounds = res.hyper["eta"], params["T"] + 1
    envelope = (np.max(-np.log(init)) / eta + eta * rounds / 8.0) / rounds
    return _mwu_observed(e_avg, e_last, envelope)


def _mwu_observed(e_avg, e_last, envelope) -> dict:
    return {"avg_exploitability": np.float64(e_avg), "avg_over_envelope": np.float64(e_avg / envelope),
            "last_exploitability": np.float64(e_last),
            "inverse_last_exploitability": np.float64(1.0 / e_last) if e_last > 0 else np.float64(np.inf),
            "regret_envelope": np.float64(envelope)}


def observe_mwu(params, seed):
    """Self-play Hedge (``eta = sqrt(8 log n / (T + 1))``): exploitability of the average and last iterate."""
    return _mwu(params, seed)


def derive_mwu_swapped(observed):
    """Mutant (derived from the claim's runs): average and last iterate swapped (reporting the wrong
    array of the result) -- the same Hedge run, so nothing is recomputed."""
    return _mwu_observed(observed["last_exploitability"], observed["avg_exploitability"],
                         observed["regret_envelope"])


# ============================================================================ claims
_MP_MUTANTS_WHY = {
    "eta_8beta": "eta = 8 beta breaks the Mirror-Prox step condition eta L <= 1 (L = 1/(2 beta)); for "
                 "beta <~ 0.03 the iterates oscillate or diverge (for beta >= 0.1 it still converges, so "
                 "the small-beta points are the ones that must catch it)",
    "no_extrapolation": "extrapolation removed (single-call mirror descent with eta = 2 beta, as many "
                        "queries): its contraction needs eta <= 4 beta^2 (MMD), so for small beta it "
                        "cycles away from pi*",
}

MP_KL_BOUND = Claim(
    id="nash.mp_kl_bound",
    paper=NASH_MP,
    statement=("Nash-MP (eta = 2 beta) satisfies KL(pi*_beta || pi_k) <= (1 + 2 beta)^(-N_k/2) "
               "KL(pi*_beta || pi_0), N_k = 2k preference queries, on every preference game, for every "
               "full-support pi_0 and beta in [1e-3, 1]: random games (n in [2, 200]), Bradley-Terry, cyclic "
               "and the NLHF non-transitive dice."),
    provenance=Provenance("reconstructed",
                          "The abstract gives the rate (1+2beta)^(-N/2) in queries N; the form with constant "
                          "KL(pi*||pi_0), eta = 2 beta and N = 2k (two oracle calls per iteration, so "
                          "N_k/2 = k iterations) is reconstructed from the Mirror-Prox analysis."),
    observe=observe_mp_kl_bound,
    sweep=Sweep(quick=Grid(beta_lo=[1e-3, 1e-2, 1e-1], family=list(FAMILIES)),
                full=Grid(beta_lo=[1e-3, 1e-2, 1e-1], family=list(FAMILIES)),
                seeds_quick=2, seeds_full=20),
    rule=BoundHolds("kl_ratio", x="beta_lo"),
    bound=lambda p: 1.0,
    mutants=[Mutant("eta_8beta", observe_mp_kl_bound_eta8, why=_MP_MUTANTS_WHY["eta_8beta"]),
             Mutant("no_extrapolation", observe_mp_kl_bound_no_extrapolation,
                    why=_MP_MUTANTS_WHY["no_extrapolation"])],
    observed="KL_k / ((1+2beta)^(-k) KL_0), beta ~ logU[beta_lo, 10 beta_lo]",
)

_BETA_GRID_QUICK = [3e-3, 3e-2, 0.3, 1.0]
_BETA_GRID_FULL = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]


def _series_claim(cid, key, statement, provenance, factor, tolerance, floor, justification, observed,
                  seeds_quick, families_quick, betas_quick=None):
    return Claim(
        id=cid, paper=NASH_MP, statement=statement, provenance=provenance,
        observe=observe_mp_series,
        sweep=Sweep(quick=Grid(beta=betas_quick or _BETA_GRID_QUICK, family=families_quick),
                    full=Grid(beta=_BETA_GRID_FULL, family=list(FAMILIES)),
                    seeds_quick=seeds_quick, seeds_full=8),
        rule=Contraction(key, tolerance=tolerance, floor=floor, justification=justification),
        bound=factor,
        mutants=[Mutant("eta_8beta", observe_mp_series_eta8, why=_MP_MUTANTS_WHY["eta_8beta"]),
                 Mutant("no_extrapolation", observe_mp_series_no_extrapolation,
                        why=_MP_MUTANTS_WHY["no_extrapolation"])],
        observed=observed,
    )


MP_KL_CONTRACTION = _series_claim(
    "nash.mp_kl_contraction", "kl",
    ("The least-squares per-iteration contraction factor of KL(pi*_beta || pi_k) under Nash-MP (eta = 2 beta) "
     "is at most the claimed (1 + 2 beta)^(-1) per iteration (= per 2 queries), beta in [1e-3, 1]."),
    Provenance("reconstructed", "Per-iteration form of the abstract's (1+2beta)^(-N/2) rate with N = 2k; "
                                "eta = 2 beta reconstructed from the Mirror-Prox step condition."),
    factor=lambda p: 1.0 / (1.0 + 2.0 * p["beta"]), tolerance=0.0, floor=KL_FLOOR,
    justification=("no slack: KL values below 1e-14 (100x kl_log's ~1e-16 noise) are excluded from the "
                   "fit, above it rounding moves log KL by < 1e-2 at the last points only"),
    observed="KL(pi*_beta || pi_k)", seeds_quick=1, families_quick=["random", "cyclic"])

_SPAN_EXPLOIT_PROVENANCE = Provenance(
    "reconstructed",
    "The abstract claims linear convergence of the exploitability and, uniformly, of the log-ratio span "
    "without a rate; the factor (1+2beta)^(-1/2) per iteration is what the reconstructed KL bound gives "
    "through Pinsker (||pi_k - pi*||_1 <= sqrt(2 KL_k)), span_{k+1} <= span_k/(1+eta) + "
    "eta ||pi_{k+1/2} - pi*||_1 / (beta (1+eta)) and e_beta <= beta span + ||pi - pi*||_1.")

MP_EXPLOITABILITY_LINEAR = _series_claim(
    "nash.mp_exploitability_linear", "exploitability",
    ("The regularised exploitability e_beta(pi_k) = max_pi' J_beta(pi', pi_k) - 1/2 of Nash-MP (eta = 2 beta) "
     "converges linearly: fitted per-iteration factor <= (1 + 2 beta)^(-1/2), beta in [1e-3, 1]."),
    _SPAN_EXPLOIT_PROVENANCE,
    factor=lambda p: (1.0 + 2.0 * p["beta"]) ** -0.5, tolerance=0.0, floor=EXPLOIT_FLOOR,
    justification=("no slack: values <= 1e-18 are excluded, and e_beta is computed as beta KL(pi || BR(pi)) "
                   "with log-ratios accurate to ~1e-13, i.e. noise < 1e-20"),
    observed="e_beta(pi_k)", seeds_quick=1, families_quick=["random", "cyclic"],
    betas_quick=[1e-3, 1e-2, 1e-1, 1.0])

MP_SPAN_LINEAR = _series_claim(
    "nash.mp_span_linear", "span",
    ("The span semi-norm max_y - min_y of log pi_k - log pi*_beta under Nash-MP (eta = 2 beta) converges "
     "linearly: fitted per-iteration factor <= (1 + 2 beta)^(-1/2), beta in [1e-3, 1]. (Measured: it "
     "contracts at almost exactly (1 + 2 beta)^(-1), the factor of the low-probability actions.)"),
    _SPAN_EXPLOIT_PROVENANCE,
    factor=lambda p: (1.0 + 2.0 * p["beta"]) ** -0.5, tolerance=0.0, floor=SPAN_FLOOR,
    justification=("no slack: spans <= 1e-9 are excluded (log pi carries up to |log pi| eps ~ 1e3 x 2e-16 "
                   "rounding, pi* a certified residual <= ~1e-11 at beta = 1e-3)"),
    observed="span(log pi_k - log pi*_beta)", seeds_quick=1, families_quick=["random", "dice"])

MP_ACTION_COUNT = Claim(
    id="nash.mp_action_count",
    paper=NASH_MP,
    statement=("Nash-MP's convergence rate does not depend on the number of actions: the fitted KL time "
               "constant (iterations per e-fold, in units of 1/log(1+2beta)) is flat in n from 4 to 1024 "
               "on random games, beta in {0.03, 0.1, 1} (quick budget: n from 4 to 256, beta = 0.1)."),
    provenance=Provenance("reconstructed",
                          "|Y|-independence is the abstract's; what is measured is the reconstructed Nash-MP "
                          "(closed-form steps, eta = 2 beta), timed in units of 1/log(1+2beta), the per-iteration "
                          "form (N = 2k, reconstructed) of the abstract's rate; the time-constant statistic is ours."),
    observe=observe_mp_time_constant,
    sweep=Sweep(quick=Grid(n=[4, 16, 64, 256], beta=[0.1]),
                full=Grid(n=[4, 16, 64, 256, 1024], beta=[0.03, 0.1, 1.0]),
                seeds_quick=4, seeds_full=5),
    rule=Rate("time_constant", param="n", exponent=0.0, tolerance=0.05,
              justification=("0.05 lets the mean time constant change by at most 256^0.05 = 1.32x over "
                             "n = 4..1024; instance-to-instance spread (small games occasionally converge "
                             "up to 1.5x faster at beta >= 0.03) moves seed means by ~10%, while a step "
                             "tuned to log(n) changes the time constant 5x (slope ~0.29) and an "
                             "l2-operator-norm step ~n-fold (slope ~1)")),
    bound=lambda p: 1.0,
    mutants=[Mutant("spectral_norm_step", observe_mp_time_constant_spectral_step,
                    why="step eta = beta / ||P||_2 from the l2 operator norm (~n/2) instead of the l1->linf "
                        "Lipschitz constant 1/2: the step and hence the rate shrink like 1/n"),
             Mutant("log_n_step", observe_mp_time_constant_log_n_step,
                    why="eta = 2 beta / log(n) (entropy-tuned, as for Hedge): the time constant grows like "
                        "log n")],
    observed="KL time constant x log(1 + 2 beta)",
)

MD_KL_BOUND = Claim(
    id="nash.md_kl_bound",
    paper=NLHF,
    statement=("Nash-MD with eta_t = 2/(beta (t + 2)) satisfies KL(pi*_beta || pi_T) <= 8 / (beta^2 (T + 1)) "
               "for every T (random games, n in [2, 200], pi_0 = mu), beta in {0.01, 0.1, 1}."),
    provenance=Provenance("paper", "NLHF Theorem 1 as quoted by secondary notes (one-step inequality "
                                   "KL_{t+1} <= (1 - eta_t beta) KL_t + 2 eta_t^2 with the 2/(beta(t+2)) "
                                   "schedule)."),
    observe=observe_md_kl_bound,
    sweep=Sweep(quick=Grid(beta=[0.01, 0.1, 1.0], T=[2000]),
                full=Grid(beta=[0.01, 0.1, 1.0], T=[20000]),
                seeds_quick=4, seeds_full=20),
    rule=BoundHolds("kl_ratio", x="beta"),
    bound=lambda p: 1.0,
    mutants=[Mutant("swapped_mixture", observe_md_kl_bound_swapped_mixture,
                    why="geometric mixture pi_t^(eta beta) mu^(1 - eta beta) (coefficients in the wrong order, "
                        "the bug caught in TRL's review): the opponent tends to mu, so the KL stalls at a "
                        "constant while the bound decays like 1/T")],
    observed="KL_T / (8 / (beta^2 (T+1)))",
)

MP_FEWER_QUERIES = Claim(
    id="nash.mp_fewer_queries_than_md",
    paper=NASH_MP,
    statement=("Nash-MP (eta = 2 beta, 2 queries per iteration) reaches KL(pi*_beta || pi) <= 1e-6 with fewer "
               "preference queries than Nash-MD (NLHF schedule) on random games with n in [2, 200], for beta in "
               "{0.01, 0.1, 1} (full budget; the quick budget covers {0.1, 1}). Nash-MD runs are capped at "
               "20000 queries; a censored count makes the ratio N_MP/N_MD an over-estimate."),
    provenance=Provenance("reconstructed",
                          "The comparison is ours: the abstract claims a linear rate, a secondary summary says "
                          "it improves on prior polynomial rates, and Nash-MD's O(1/(beta^2 T)) is NLHF Theorem 1 "
                          "as quoted by secondary notes; turning guarantees into a per-instance query count is "
                          "our reading."),
    observe=observe_query_ratio,
    sweep=Sweep(quick=Grid(beta=[0.1, 1.0]), full=Grid(beta=[0.01, 0.1, 1.0]),
                seeds_quick=6, seeds_full=30),
    rule=BoundHolds("query_ratio", x="beta"),
    bound=lambda p: 1.0,
    # A mutant "eta = 2 beta^2" (step conventions mixed up) was dropped: at beta = 1 it *is* the claim,
    # so it was "caught" by the claim's own counterexamples; at beta = 0.1 it needs ~10x Nash-MP's
    # queries, about as many as Nash-MD (uncensored ratio 0.5-1.3 on the quick seeds), so it does not
    # test the comparison either (with the claim's 1e12 budget it was censored at 305 queries, ratio < 1).
    mutants=[Mutant("uniform_magnet", observe_query_ratio_uniform_magnet,
                    why="reference/magnet taken as uniform (OpenSpiel MMD's default) instead of mu: Nash-MP "
                        "converges to another game's equilibrium, so its KL to pi*_beta stalls above 1e-6 "
                        "(unless both are near-deterministic, as for n <= 3 at beta = 0.01); caught at "
                        "beta = 0.1, where the claim holds on every quick run, not only on the claim's own "
                        "counterexamples")],
    observed="N_MP / N_MD to reach KL <= 1e-6",
    finding=Finding("Per instance the comparison does not always hold. Nash-MD's first step (eta_0 beta = 1) is "
             "an exact regularised best response to mu; when that lands within KL 1e-6 of pi*_beta, Nash-MD "
             "needs 1-10 queries while Nash-MP needs >= 2 per iteration. This always happens at n = 2 (the "
             "best response does not depend on the opponent) and on small nearly transitive games or at "
             "beta = 1 on large games (e.g. 8 queries for Nash-MP vs 3-6 for Nash-MD at n = 200). The "
             "guarantees behind the comparison are worst-case (linear vs Nash-MD's O(1/(beta^2 T))), which "
             "this does not contradict; "
             "tests/test_claims_nash.py checks every counterexample has Nash-MD finishing in <= 10 queries. "
             "A step-convention mutant (eta = 2 beta^2) was dropped: at beta = 1 it is the claim itself, so "
             "it was 'caught' only by these counterexamples.",
        statistic="claim.violations", expect="FAIL",
        quick=_binomial_pin(3, 12, (0.0, 8.0), "runs with N_MP > N_MD, 3 of 12 (2 beta x 6 seeds, "
                                               "independent games)"),
        full=_binomial_pin(10, 90, (2.0, 21.0), "runs with N_MP > N_MD, 10 of 90 (paper_figs/nash; 3 beta x "
                                                "30 seeds)")),
)

MP_APPROX_FLOOR = Claim(
    id="nash.mp_approx_floor",
    paper=NASH_MP,
    statement=("Approximate Nash-MP (each prox step solved by T_in stochastic NPG steps from 10 sampled "
               "comparisons each) converges to an error floor that decreases as T_in grows: the log-log slope "
               "of the floor (mean KL over outer iterations 20..40) against T_in is negative, at least "
               "T_in^(-1/4) (n = 10, beta = 0.3)."),
    provenance=Provenance("reconstructed",
                          "The paper (secondary summaries) approximates prox steps by policy gradient; the "
                          "inner estimator, the harmonic step and the floor-vs-T_in statement are ours."),
    observe=observe_approx_floor,
    sweep=Sweep(quick=Grid(T_in=[4, 16, 64]), full=Grid(T_in=[4, 16, 64, 256]),
                seeds_quick=6, seeds_full=30),
    rule=Rate("kl_floor", param="T_in", exponent=-1.0, tolerance=0.75, sided="upper",
              justification=("the harmonic inner average of T_in unbiased targets has variance ~1/(T_in B) "
                             "and KL is quadratic in the logit error, so the floor ~ T_in^(-1); only "
                             "'decreases' is claimed, so the CI must lie below -0.25, which a stalled floor "
                             "(slope 0) cannot meet")),
    bound=lambda p: float(p["T_in"]) ** -1.0,
    mutants=[Mutant("constant_inner_step", observe_approx_floor_constant_step,
                    why="inner step 1/2 instead of 1/(s+2): an exponential average of the last few noisy "
                        "targets, whose variance does not shrink with T_in (floor flat in T_in)")],
    observed="approximate Nash-MP KL floor",
)

# Both claims are asymptotic in T: the quick budget keeps the full budget's largest horizons
# (where the last iterate has settled on its orbit) and fewer seeds, rather than small T.
_MWU_SWEEP = Sweep(quick=Grid(T=[1000, 3162, 10000, 31623], family=["random", "cyclic", "dice"]),
                   full=Grid(T=[100, 316, 1000, 3162, 10000, 31623], family=["random", "cyclic", "dice"]),
                   seeds_quick=20, seeds_full=40)
_MWU_PROVENANCE = Provenance(
    "reconstructed",
    "SPO's guarantee is average-iterate (error of the order of the average regret); the tabular instance "
    "(self-play Hedge tuned to the horizon, whose average's exploitability equals its average regret "
    "<= sqrt(log n / (2T))) and the last-iterate statement are reconstructed.")

MWU_AVERAGE_RATE = Claim(
    id="nash.mwu_average_rate",
    paper=SPO,
    statement=("Self-play MWU/Hedge (a tabular instance of SPO, eta = sqrt(8 log n / (T + 1))) on intransitive "
               "games: the unregularised exploitability max_y P(y > avg_T) - 1/2 of the average iterate decays "
               "at least like T^(-1/2): it is at most Hedge's average-regret bound (max_y log(1/pi_0(y)) / eta + "
               "eta (T + 1) / 8) / (T + 1) ~ sqrt(log n / (2 (T + 1))) at every T."),
    provenance=_MWU_PROVENANCE,
    observe=observe_mwu,
    sweep=_MWU_SWEEP,
    rule=BoundHolds("avg_over_envelope", x="T"),
    bound=lambda p: 1.0,
    mutants=[Mutant("average_last_swapped", derive=derive_mwu_swapped,
                    why="reports the last iterate as the average (result arrays confused): no decay")],
    observed="e(average) / Hedge regret envelope (~T^(-1/2))",
)

MWU_LAST_ITERATE = Claim(
    id="nash.mwu_last_iterate",
    paper=SPO,
    statement=("Self-play MWU/Hedge on intransitive games has no last-iterate convergence: the unregularised "
               "exploitability of the last iterate does not decay with T: the log-log slope of "
               "1 / e(last iterate) against T is at most 0.25 (e decays no faster than T^(-1/4)), while the "
               "average's decays like T^(-1/2)."),
    provenance=_MWU_PROVENANCE,
    observe=observe_mwu,
    sweep=_MWU_SWEEP,
    rule=Rate("inverse_last_exploitability", param="T", exponent=0.0, tolerance=0.25, sided="upper",
              justification=("Hedge's per-step KL drift away from the equilibrium is ~eta^2 and eta^2 T = "
                             "8 log n, so the last iterate stays on an orbit at non-vanishing distance (slope "
                             "~0 or negative if it drifts out); 0.25 is midway to the average's +0.5 (the "
                             "swapped mutant)")),
    bound=lambda p: 1.0,
    mutants=[Mutant("average_last_swapped", derive=derive_mwu_swapped,
                    why="reports the average as the last iterate: it decays like T^(-1/2)")],
    observed="1 / exploitability of the last iterate",
)

CLAIMS = [MP_KL_BOUND, MP_KL_CONTRACTION, MP_EXPLOITABILITY_LINEAR, MP_SPAN_LINEAR, MP_ACTION_COUNT,
          MD_KL_BOUND, MP_FEWER_QUERIES, MP_APPROX_FLOOR, MWU_AVERAGE_RATE, MWU_LAST_ITERATE]


# ============================================================================ lemma-level claims
# Facts the analyses rest on, checked exactly at every iteration of every run (reconstructed,
# docs/papers/nash.md#nash-lemma-level-claims). Each run draws a small game, a beta and a random
# interior start from its seed; every recomputation below is plain numpy on the exact P, written
# out here and sharing no code with mdpkit.algorithms.
#: Algorithms of the one-step and oracle-use claims.
LEMMA_ALGORITHMS = ("nash_mp", "nash_md", "mmd", "mwu")
#: Iterations per lemma run (every iteration is checked: a few dozen suffice).
LEMMA_ITERS = 30
#: Relative tolerance of a recomputed log-iterate, ``|recorded - recomputed| / max(1, |recomputed|)``:
#: both evaluate the same closed form in another order (~10 ulp of a logit of size <= 1/beta).
IDENTITY_TOL = 1e-12
#: Tolerance of ``|sum(pi) - 1|`` for a distribution over n <= 200 responses (~n eps).
NORMALISATION_TOL = 1e-12


def _np_log_normalize(z: np.ndarray) -> np.ndarray:
    """Plain-numpy log-softmax (written out here: the recomputations share no code with mdpkit)."""
    top = np.max(z)
    return z - (top + np.log(np.sum(np.exp(z - top))))


def _lemma_game(rng, family: str, beta: float):
    """A small game of ``family`` (n log-uniform in [2, 40]) and a random interior start."""
    n = None if family == "dice" else _log_uniform_int(rng, 3 if family == "cyclic" else N_MIN, 40)
    game = draw_game(family, beta, rng, n=n)
    log_init = _np_log_normalize(rng.normal(0.0, rng.uniform(0.5, 3.0), game.n))
    return game, log_init


def _relative_error(recorded, reference) -> float:
    recorded, reference = np.asarray(recorded, np.float64), np.asarray(reference, np.float64)
    if recorded.shape != reference.shape or not np.all(np.isfinite(recorded)):
        return np.inf
    return float(np.max(np.abs(recorded - reference) / np.maximum(1.0, np.abs(reference)), initial=0.0))


def _spec_eta(algorithm: str, game, iters: int):
    """The documented default step of each algorithm (the spec, not the library's value)."""
    beta = game.beta
    if algorithm == "nash_mp":
        return 2.0 * beta
    if algorithm == "nash_md":
        return 2.0 / (beta * (np.arange(iters) + 2.0))
    if algorithm == "mmd":
        return 4.0 * beta
    if algorithm == "mwu":
        return np.sqrt(8.0 * np.log(game.n) / (iters + 1)) if game.n > 1 else 1.0
    raise ValueError(f"unknown algorithm {algorithm!r}")


def _identity_errors(algorithm: str, game, logs, diagnostics, average=None) -> float:
    """Largest relative error of a run's recorded quantities against the closed-form update
    recomputed from the recorded previous iterate (so errors do not accumulate)."""
    P, log_mu, beta = np.asarray(game.P), np.asarray(game.log_mu), game.beta
    iters = logs.shape[0] - 1
    eta = _spec_eta(algorithm, game, iters)
    err = 0.0
    for k in range(iters):
        log_pi = logs[k]
        if algorithm == "nash_mp":
            half = diagnostics["log_half_policies"][k]
            ref_half = _np_log_normalize((log_pi + eta * log_mu + (eta / beta) * (P @ np.exp(log_pi))) / (1 + eta))
            ref_next = _np_log_normalize((log_pi + eta * log_mu + (eta / beta) * (P @ np.exp(half))) / (1 + eta))
            err = max(err, _relative_error(half, ref_half), _relative_error(logs[k + 1], ref_next),
                      _relative_error(diagnostics["opponents"][2 * k], np.exp(log_pi)),
                      _relative_error(diagnostics["opponents"][2 * k + 1], np.exp(half)))
        elif algorithm == "nash_md":
            mixture = diagnostics["log_mixtures"][k]
            weight = eta[k] * beta
            ref_mixture = _np_log_normalize((1.0 - weight) * log_pi + weight * log_mu)
            ref_next = _np_log_normalize(mixture + eta[k] * (P @ np.exp(mixture)))
            err = max(err, _relative_error(mixture, ref_mixture), _relative_error(logs[k + 1], ref_next),
                      _relative_error(diagnostics["opponents"][k], np.exp(mixture)))
        elif algorithm == "mmd":
            a = eta * beta
            ref_next = _np_log_normalize((log_pi + a * log_mu + eta * (P @ np.exp(log_pi))) / (1 + a))
            err = max(err, _relative_error(logs[k + 1], ref_next),
                      _relative_error(diagnostics["opponents"][k], np.exp(log_pi)))
        else:  # mwu: Hedge against the current self
            err = max(err, _relative_error(logs[k + 1], _np_log_normalize(log_pi + eta * (P @ np.exp(log_pi)))))
    if algorithm == "mwu":
        running = np.cumsum(np.exp(logs), axis=0) / np.arange(1.0, iters + 2.0)[:, None]
        err = max(err, _relative_error(average, running))
    return err


def _run_recorded(algorithm: str, game, iters: int, log_init, seed):
    """``(log_policies, diagnostics, average)`` of a run with the algorithm's default step."""
    module = {"nash_mp": nash_mp, "nash_md": nash_md, "mmd": mmd, "mwu": mwu}[algorithm]
    init = None if log_init is None else np.exp(log_init)
    if algorithm == "mwu":
        res = mwu.run(game, iters=iters, seed=seed, init=init)
        return res.log_policies, None, res.average
    res = module.run(game, iters=iters, seed=seed, init=init, record=True)
    return res.log_policies, res.diagnostics, None


# ---------------------------------------------------------------- buggy variants (mutants)
def _mutant_recorded(variant: str, game, iters: int, log_init):
    """Runs of plausible one-line bugs, recorded like the library's ``record=True`` runs."""
    P, log_mu, beta = game.P, game.log_mu, game.beta
    log_pi = game.log_mu.copy() if log_init is None else log_init
    logs, extra, opponents = [log_pi], [], []
    for k in range(iters):
        if variant == "mp_eta_beta":             # default step eta = beta instead of 2 beta
            eta = beta
            half = log_normalize((log_pi + eta * log_mu + (eta / beta) * (P @ np.exp(log_pi))) / (1 + eta))
            nxt = log_normalize((log_pi + eta * log_mu + (eta / beta) * (P @ np.exp(half))) / (1 + eta))
            opponents += [np.exp(log_pi), np.exp(half)]
            extra.append(half)
        elif variant == "mp_no_magnet":          # the eta log mu term of the prox target dropped
            eta = 2.0 * beta
            half = log_normalize((log_pi + (eta / beta) * (P @ np.exp(log_pi))) / (1 + eta))
            nxt = log_normalize((log_pi + (eta / beta) * (P @ np.exp(half))) / (1 + eta))
            opponents += [np.exp(log_pi), np.exp(half)]
            extra.append(half)
        elif variant == "md_swapped_mixture":    # pi^(eta beta) mu^(1 - eta beta)
            eta = nash_md.schedule(beta, k)
            half = log_normalize(eta * beta * log_pi + (1.0 - eta * beta) * log_mu)
            nxt = log_normalize(half + eta * (P @ np.exp(half)))
            opponents.append(np.exp(half))
            extra.append(half)
        elif variant == "md_unnormalised_mixture":   # the mixture sent to the oracle is not normalised
            eta = nash_md.schedule(beta, k)
            half = (1.0 - eta * beta) * log_pi + eta * beta * log_mu
            nxt = log_normalize(half + eta * (P @ np.exp(half)))
            opponents.append(np.exp(half))
            extra.append(half)
        elif variant == "mmd_magnet_eta":        # magnet weight eta instead of eta beta
            eta = 4.0 * beta
            nxt = log_normalize((log_pi + eta * log_mu + eta * (P @ np.exp(log_pi))) / (1 + eta))
            opponents.append(np.exp(log_pi))
        else:
            raise ValueError(f"unknown variant {variant!r}")
        log_pi = nxt
        logs.append(log_pi)
    algorithm = variant.split("_")[0] if not variant.startswith("mp") else "nash_mp"
    algorithm = {"md": "nash_md", "mmd": "mmd", "nash_mp": "nash_mp"}[algorithm]
    diagnostics = {"opponents": np.array(opponents), "oracle_queries": len(opponents),
                   "log_half_policies" if algorithm == "nash_mp" else "log_mixtures": np.array(extra)}
    return algorithm, np.array(logs), diagnostics


#: Which lemma-claim grid point each mutant replaces (same game draw, same start).
_MUTANT_ALGORITHM = {"mp_eta_beta": "nash_mp", "mp_no_magnet": "nash_mp", "md_swapped_mixture": "nash_md",
                     "md_unnormalised_mixture": "nash_md", "mmd_magnet_eta": "mmd"}


def _lemma_setup(params, seed):
    rng = np.random.default_rng(seed)
    beta = float(10.0 ** rng.uniform(-3.0, 0.0))                  # log-uniform in [1e-3, 1]
    game, log_init = _lemma_game(rng, params["family"], beta)
    return game, (None if params["start"] == "default" else log_init)


def _one_step(params, seed, variant):
    game, log_init = _lemma_setup(params, seed)
    algorithm = params["algorithm"]
    if variant == "claim" or _MUTANT_ALGORITHM[variant] != algorithm:
        logs, diagnostics, average = _run_recorded(algorithm, game, LEMMA_ITERS, log_init, seed)
    else:
        _, logs, diagnostics = _mutant_recorded(variant, game, LEMMA_ITERS, log_init)
        average = None
    error = _identity_errors(algorithm, game, logs, diagnostics, average)
    # pi_0 is the given start, or mu by default (documented default of every run)
    start = np.asarray(game.log_mu) if log_init is None else log_init
    error = max(error, _relative_error(logs[0], start))
    return {"identity_error": np.float64(error)}


def observe_one_step(params, seed):
    """Largest relative error of a run's recorded iterates against the closed-form update
    recomputed in plain numpy from the recorded previous iterate and the exact ``P``."""
    return _one_step(params, seed, "claim")


def observe_one_step_mp_eta_beta(params, seed):
    """Mutant: Nash-MP's default step ``eta = beta`` (the spec says ``2 beta``)."""
    return _one_step(params, seed, "mp_eta_beta")


def observe_one_step_md_swapped_mixture(params, seed):
    """Mutant: Nash-MD mixture exponents swapped."""
    return _one_step(params, seed, "md_swapped_mixture")


def observe_one_step_mmd_magnet_eta(params, seed):
    """Mutant: MMD magnet weight ``eta`` instead of ``eta beta``."""
    return _one_step(params, seed, "mmd_magnet_eta")


# ---------------------------------------------------------------- oracle use: normalisation and counts
#: Approximate Nash-MP's outer iterations in the oracle-use claim (defaults: 100 inner steps x 10).
APPROX_ORACLE_ITERS = 2


def _normalisation_error(*blocks) -> float:
    """``max |sum(row) - 1|`` and ``max(-entry)`` over the rows of every block; ``inf`` if non-finite."""
    err = 0.0
    for block in blocks:
        rows = np.atleast_2d(np.asarray(block, dtype=np.float64))
        if rows.size == 0:
            continue
        if not np.all(np.isfinite(rows)):
            return np.inf
        err = max(err, float(np.max(np.abs(rows.sum(axis=1) - 1.0))), float(-np.min(rows)))
    return err


def _oracle_use_observed(normalisation, reported, oracle, spec) -> dict:
    reported, oracle, spec = (np.asarray(v, dtype=np.float64) for v in (reported, oracle, spec))
    if reported.shape != spec.shape:
        mismatch = np.inf                          # a count per iterate is missing or extra
    else:
        mismatch = max(float(np.max(np.abs(reported - spec))), float(np.max(np.abs(oracle - spec[-1]))))
    return {"normalisation_error": np.float64(normalisation), "reported_queries": reported,
            "oracle_queries": oracle, "spec_queries": spec,
            "oracle_defect": np.float64(max(normalisation - NORMALISATION_TOL, mismatch))}


def _oracle_use(params, seed, variant):
    """Default-step runs, as a user calls them (``run(game, iters=..., seed=...)``), and the same
    run with ``record=True``: emitted and sent distributions, and query counts against the spec."""
    rng = np.random.default_rng(seed)
    beta = float(10.0 ** rng.uniform(-3.0, 0.0))
    game, _ = _lemma_game(rng, params["family"], beta)
    algorithm = params["algorithm"]
    run_seed = int(rng.integers(2**31))
    if algorithm == "nash_mp_approx":
        iters = APPROX_ORACLE_ITERS
        plain = nash_mp_approx.run(game, iters=iters, seed=run_seed)
        res = nash_mp_approx.run(game, iters=iters, seed=run_seed, record=True)
        d = res.diagnostics
        per_iteration = 2 * 100 * 10              # the documented defaults: 100 inner steps x 10
        spec = per_iteration * np.arange(iters + 1)
        blocks = (res.policies, d["sampled_from"], d["opponents_sampled"])
        oracle = [d["oracle_comparisons"], d["compared"].shape[0]]
        if variant == "approx_short_inner":       # one inner step fewer than reported
            oracle = [v * 99 // 100 for v in oracle]
    elif algorithm == "mwu":                       # no oracle object: the numba kernel holds P
        iters = LEMMA_ITERS
        plain = res = mwu.run(game, iters=iters, seed=run_seed)
        spec = np.arange(iters + 1)
        blocks, oracle = (res.policies, res.average), [iters]
    else:
        iters = LEMMA_ITERS
        module = {"nash_mp": nash_mp, "nash_md": nash_md, "mmd": mmd}[algorithm]
        plain = module.run(game, iters=iters, seed=run_seed)
        if variant == "md_unnormalised_mixture" and algorithm == "nash_md":
            _, logs, d = _mutant_recorded(variant, game, iters, None)
            res = plain = type("Run", (), {"log_policies": logs, "policies": np.exp(logs),
                                           "queries": plain.queries})()
        else:
            res = module.run(game, iters=iters, seed=run_seed, record=True)
            d = res.diagnostics
        spec = (2 if algorithm == "nash_mp" else 1) * np.arange(iters + 1)
        blocks = (res.policies, d["opponents"])
        oracle = [d["oracle_queries"], d["opponents"].shape[0]]
    normalisation = _normalisation_error(*blocks)
    if not np.array_equal(plain.log_policies, res.log_policies):
        normalisation = np.inf                     # recording changed the iterates
    return _oracle_use_observed(normalisation, res.queries, oracle, spec)


def observe_oracle_use(params, seed):
    """Normalisation error of every emitted/sent distribution; reported, oracle-counted and
    specified query counts (default hyper-parameters)."""
    return _oracle_use(params, seed, "claim")


def observe_oracle_use_unnormalised_mixture(params, seed):
    """Mutant: Nash-MD sends its geometric mixture to the oracle without normalising it."""
    return _oracle_use(params, seed, "md_unnormalised_mixture")


def observe_oracle_use_approx_short_inner(params, seed):
    """Mutant: approximate Nash-MP runs 99 of its 100 inner steps but reports 100."""
    return _oracle_use(params, seed, "approx_short_inner")


def derive_oracle_use_one_query_per_iteration(observed):
    """Mutant (derived): Nash-MP/approx report one query per prox pair (``N = k``, not ``2k``)."""
    reported = np.array(observed["reported_queries"], dtype=np.float64)
    spec = observed["spec_queries"]
    if spec[-1] == 2 * (len(spec) - 1) or spec[-1] == 2000 * (len(spec) - 1):   # two-call methods
        reported = reported / 2.0
    return _oracle_use_observed(float(observed["normalisation_error"]), reported,
                                observed["oracle_queries"], spec)


# ---------------------------------------------------------------- one-step Lyapunov contraction
#: Steps whose starting KL is below this are skipped: kl_log's ~1e-16 absolute error is then
#: < 1e-7 of it, below the smallest measured margin (MMD: ratio 1 - 2e-6).
LYAPUNOV_KL_MIN = 1e-9


def _lyapunov_excess(algorithm: str, game, log_star, logs, eta) -> np.ndarray:
    """Per step: relative excess of ``KL_{k+1}`` over the one-step bound of the analysis
    (<= 0 where the lemma holds)."""
    beta = game.beta
    kl = _kl_series(log_star, logs)
    if algorithm == "nash_md":    # NLHF: KL_{t+1} <= (1 - eta_t beta) KL_t + 2 eta_t^2
        rhs = (1.0 - eta * beta) * kl[:-1] + 2.0 * eta ** 2
        return (kl[1:] - rhs) / rhs
    factor = 1.0 / (1.0 + (2.0 * beta if algorithm == "nash_mp" else 4.0 * beta ** 2))
    keep = kl[:-1] >= LYAPUNOV_KL_MIN
    return (kl[1:][keep] - factor * kl[:-1][keep]) / (factor * kl[:-1][keep])


def _lyapunov(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = float(10.0 ** rng.uniform(-3.0, 0.0))
    game, log_init = _lemma_game(rng, params["family"], beta)
    log_star = regularized_nash(game).log_policy
    algorithm, init = params["algorithm"], np.exp(log_init)
    iters = LEMMA_ITERS
    eta = _spec_eta(algorithm, game, iters)
    if algorithm == "nash_mp":
        if variant == "no_extrapolation":
            logs = _no_extrapolation_logs(game, log_init, iters, eta)
        else:
            logs = nash_mp.run(game, iters=iters, init=init,
                               eta=eta / 4.0 if variant == "step_quarter" else None).log_policies
    elif algorithm == "nash_md":
        if variant == "md_swapped_mixture":
            _, logs, _ = _mutant_recorded(variant, game, iters, log_init)
        else:
            logs = nash_md.run(game, iters=iters, init=init).log_policies
    else:
        logs = mmd.run(game, iters=iters, init=init, eta=eta / 4.0 if variant == "step_quarter" else None
                       ).log_policies
    excess = _lyapunov_excess(algorithm, game, log_star, logs, eta)
    return {"lyapunov_excess": np.float64(np.max(excess, initial=-np.inf))}


def observe_lyapunov(params, seed):
    """Largest per-step relative excess of KL(pi* || pi_{k+1}) over the analysis's one-step bound."""
    return _lyapunov(params, seed, "claim")


def observe_lyapunov_step_quarter(params, seed):
    """Mutant: Nash-MP with ``eta = beta / 2``; MMD with ``eta = beta`` (1/4 of the defaults)."""
    return _lyapunov(params, seed, "step_quarter")


def observe_lyapunov_no_extrapolation(params, seed):
    """Mutant: Nash-MP without extrapolation; Nash-MD with swapped mixture exponents."""
    return _lyapunov(params, seed, "no_extrapolation" if params["algorithm"] == "nash_mp"
                     else "md_swapped_mixture")


# ---------------------------------------------------------------- information flow (sampled comparisons)
#: Approximate Nash-MP run of the information-flow claim: few comparisons per pair, so the
#: preference matrix is far from pinned down by them.
FLOW = {"n": 6, "iters": 4, "inner_steps": 4, "batch_size": 5}


def _outcome_compatible_twin(P: np.ndarray, compared: np.ndarray) -> np.ndarray:
    """A preference matrix ``P'`` as far from ``P`` as the recorded comparisons allow.

    Every recorded comparison ``(y, y', u)`` has the same outcome ``u < P'[y, y']`` as under ``P``;
    ``P' + P'^T = 1``. Each off-diagonal pair moves halfway to the nearest end of the interval
    the comparisons leave it (both orientations of the pair count).
    """
    n = P.shape[0]
    twin = P.copy()
    y, y_opp, u = compared[:, 0].astype(int), compared[:, 1].astype(int), compared[:, 2]
    for a in range(n):
        for b in range(a + 1, n):
            lo, hi = 0.0, 1.0                     # feasible values of P'[a, b]
            for uu in u[(y == a) & (y_opp == b)]:         # outcome u < P[a, b]
                lo, hi = (max(lo, uu), hi) if uu < P[a, b] else (lo, min(hi, uu))
            for uu in u[(y == b) & (y_opp == a)]:         # outcome u < 1 - P[a, b]
                lo, hi = (lo, min(hi, 1.0 - uu)) if uu < P[b, a] else (max(lo, 1.0 - uu), hi)
            target = lo if P[a, b] - lo > hi - P[a, b] else hi
            twin[a, b] = P[a, b] + 0.5 * (target - P[a, b])
            twin[b, a] = 1.0 - twin[a, b]
    # The construction must really leave every outcome unchanged (rounding near an end included).
    if not np.array_equal(u < P[y, y_opp], u < twin[y, y_opp]):
        raise AssertionError("outcome-compatible twin changes a recorded outcome")
    return twin


def _approx_prox_expected_outcome(game, log_center, opponent, eta, inner_steps, batch_size, rng):
    """Peeking variant of ``approx_prox_step``: the sampled outcome replaced by its probability
    ``P[y, y']`` read from the game (a 'variance reduction' that uses the hidden matrix)."""
    n = game.n
    fixed_part = (log_center + eta * game.log_mu) / (1.0 + eta)
    pref_coef = eta / (game.beta * (1.0 + eta))
    opp_cdf = np.cumsum(opponent)
    theta = log_center.copy()
    for s in range(inner_steps):
        pi_theta = np.exp(theta)
        y = np.minimum(np.searchsorted(np.cumsum(pi_theta), rng.random(batch_size), side="right"), n - 1)
        y_opp = np.minimum(np.searchsorted(opp_cdf, rng.random(batch_size), side="right"), n - 1)
        rng.random(batch_size)                                        # the outcome draws, unused
        r_hat = np.zeros(n)
        np.add.at(r_hat, y, (game.P[y, y_opp] - 0.5) / pi_theta[y])     # bug: reads P
        r_hat /= batch_size
        gamma = 1.0 / (s + 2)
        theta = log_normalize((1.0 - gamma) * theta + gamma * (fixed_part + pref_coef * r_hat))
    return theta


def _flow_run(game, run_seed, variant):
    if variant == "claim":
        return nash_mp_approx.run(game, iters=FLOW["iters"], inner_steps=FLOW["inner_steps"],
                                  batch_size=FLOW["batch_size"], seed=run_seed).log_policies
    rng = np.random.default_rng(run_seed)
    eta = 2.0 * game.beta
    log_pi = game.log_mu.copy()
    logs = [log_pi]
    for _ in range(FLOW["iters"]):
        half = _approx_prox_expected_outcome(game, log_pi, np.exp(log_pi), eta, FLOW["inner_steps"],
                                             FLOW["batch_size"], rng)
        log_pi = _approx_prox_expected_outcome(game, log_pi, np.exp(half), eta, FLOW["inner_steps"],
                                               FLOW["batch_size"], rng)
        logs.append(log_pi)
    return np.array(logs)


def _information_flow(params, seed, variant):
    rng = np.random.default_rng(seed)
    game = random_preference_game(FLOW["n"], params["beta"], mu="random", seed=rng)
    run_seed = int(rng.integers(2**31))
    recorded = nash_mp_approx.run(game, iters=FLOW["iters"], inner_steps=FLOW["inner_steps"],
                                  batch_size=FLOW["batch_size"], seed=run_seed, record=True)
    twin = PreferenceGame(_outcome_compatible_twin(np.asarray(game.P), recorded.diagnostics["compared"]),
                          game.mu, game.beta)
    difference = np.max(np.abs(_flow_run(game, run_seed, variant) - _flow_run(twin, run_seed, variant)))
    return {"max_abs_difference": np.float64(difference),
            "poison": np.float64(np.max(np.abs(np.asarray(twin.P) - np.asarray(game.P))))}


def observe_information_flow(params, seed):
    """Max ``|difference|`` of approximate Nash-MP's log-iterates on a game and on its
    outcome-compatible twin (another P giving every sampled comparison the same outcome)."""
    return _information_flow(params, seed, "claim")


def observe_information_flow_expected_outcome(params, seed):
    """Mutant: the inner step uses ``P[y, y']`` (read from the game) instead of the outcome."""
    return _information_flow(params, seed, "expected_outcome")


# ---------------------------------------------------------------- approximate prox step: unbiasedness (Monte Carlo)
#: Replications of one approximate prox step, and its size.
UNBIASED = {"replications": 300, "inner_steps": 3, "batch_size": 10, "z": 5.0}


def _expected_inner_iterate(game, log_center, opponent, eta, inner_steps) -> np.ndarray:
    """Exact mean of the centred inner iterate: with the harmonic step the iterate is
    ``(log center + sum_s target_hat_s) / (T_in + 1)`` up to a constant, and each estimated
    target is unbiased for ``(log center + eta log mu + (eta / beta)(P opponent - 1/2)) / (1 + eta)``."""
    P, log_mu, beta = np.asarray(game.P), np.asarray(game.log_mu), game.beta
    target = (log_center + eta * log_mu + (eta / beta) * (P @ opponent - 0.5)) / (1.0 + eta)
    mean = (log_center + inner_steps * target) / (inner_steps + 1.0)
    return mean - mean.mean()


def _exact_one_step_variance(game, log_center, opponent, eta, batch_size) -> np.ndarray:
    """Exact variance of each entry of the centred iterate after ONE inner step.

    After one step the iterate is ``(log center + target_hat) / 2`` up to a constant, with
    ``target_hat = const + coef * r_hat``, ``coef = eta / (beta (1 + eta))``; ``r_hat`` averages
    ``batch_size`` i.i.d. ``X = e_Y (O - 1/2) / pi(Y)``, ``Y ~ pi = center``, so
    ``E[X X^T] = diag(1 / (4 pi))`` (``(O - 1/2)^2 = 1/4``) and ``E[X] = P opponent - 1/2``.
    """
    P, beta = np.asarray(game.P), game.beta
    pi = np.exp(log_center)
    m = P @ opponent - 0.5
    cov_x = np.diag(1.0 / (4.0 * pi)) - np.outer(m, m)
    coef = eta / (beta * (1.0 + eta))
    n = pi.shape[0]
    centring = np.eye(n) - np.full((n, n), 1.0 / n)
    cov = centring @ (0.25 * coef ** 2 * cov_x / batch_size) @ centring
    return np.diag(cov)


def _unbiased(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = params["beta"]
    game = random_preference_game(params["n"], beta, mu="random", seed=rng)
    log_center = _np_log_normalize(rng.normal(0.0, 1.0, game.n))
    opponent = np.exp(_np_log_normalize(rng.normal(0.0, 1.0, game.n)))
    eta = 2.0 * beta
    T, B, M = UNBIASED["inner_steps"], UNBIASED["batch_size"], UNBIASED["replications"]
    step_rng = np.random.default_rng(rng.integers(2**63))
    step = nash_mp_approx.approx_prox_step if variant == "claim" else _MUTANT_PROX[variant]
    samples = np.array([step(game, log_center, opponent, eta, T, B, step_rng) for _ in range(M)])
    samples -= samples.mean(axis=1, keepdims=True)
    expected = _expected_inner_iterate(game, log_center, opponent, eta, T)
    standard_error = samples.std(axis=0, ddof=1) / np.sqrt(M)
    z = np.abs(samples.mean(axis=0) - expected) / standard_error
    # The spread too: after one inner step the variance is known exactly.
    one_step = np.array([step(game, log_center, opponent, eta, 1, B, step_rng) for _ in range(M)])
    one_step -= one_step.mean(axis=1, keepdims=True)
    ratio = one_step.var(axis=0, ddof=1) / _exact_one_step_variance(game, log_center, opponent, eta, B)
    log_ratio = np.abs(np.log(ratio))
    return {"z_score": np.float64(np.max(z)), "variance_log_ratio": np.float64(np.max(log_ratio)),
            "defect": np.float64(max(np.max(z) / UNBIASED["z"], np.max(log_ratio) / np.log(2.0)))}


def _approx_prox_constant_step_unsafe(game, log_center, opponent, eta, inner_steps, batch_size, rng):
    return _approx_prox_constant_step(game, log_center, opponent, eta, inner_steps, batch_size, rng)


def _approx_prox_no_importance_weight(game, log_center, opponent, eta, inner_steps, batch_size, rng):
    """Mutant: the win-rate estimate not divided by ``pi_theta(y)`` (biased towards likely y)."""
    n = game.n
    fixed_part = (log_center + eta * game.log_mu) / (1.0 + eta)
    pref_coef = eta / (game.beta * (1.0 + eta))
    opp_cdf = np.cumsum(opponent)
    theta = log_center.copy()
    for s in range(inner_steps):
        pi_theta = np.exp(theta)
        y = np.minimum(np.searchsorted(np.cumsum(pi_theta), rng.random(batch_size), side="right"), n - 1)
        y_opp = np.minimum(np.searchsorted(opp_cdf, rng.random(batch_size), side="right"), n - 1)
        outcome = (rng.random(batch_size) < game.P[y, y_opp]).astype(np.float64)
        r_hat = np.zeros(n)
        np.add.at(r_hat, y, outcome - 0.5)                     # bug: no 1 / pi_theta(y)
        r_hat /= batch_size
        gamma = 1.0 / (s + 2)
        theta = log_normalize((1.0 - gamma) * theta + gamma * (fixed_part + pref_coef * r_hat))
    return theta


def _approx_prox_positive_baseline(game, log_center, opponent, eta, inner_steps, batch_size, rng):
    """Mutant: baseline ``-1/2`` of the win-rate estimate written ``+1/2``.

    Still unbiased up to a constant shift (which normalisation removes), but each estimate's
    second moment grows from ``1/(4 pi)`` to up to ``9/(4 pi)``: the floor rises.
    """
    n = game.n
    fixed_part = (log_center + eta * game.log_mu) / (1.0 + eta)
    pref_coef = eta / (game.beta * (1.0 + eta))
    opp_cdf = np.cumsum(opponent)
    theta = log_center.copy()
    for s in range(inner_steps):
        pi_theta = np.exp(theta)
        y = np.minimum(np.searchsorted(np.cumsum(pi_theta), rng.random(batch_size), side="right"), n - 1)
        y_opp = np.minimum(np.searchsorted(opp_cdf, rng.random(batch_size), side="right"), n - 1)
        outcome = (rng.random(batch_size) < game.P[y, y_opp]).astype(np.float64)
        r_hat = np.zeros(n)
        np.add.at(r_hat, y, (outcome + 0.5) / pi_theta[y])     # bug: + 1/2
        r_hat /= batch_size
        gamma = 1.0 / (s + 2)
        theta = log_normalize((1.0 - gamma) * theta + gamma * (fixed_part + pref_coef * r_hat))
    return theta


_MUTANT_PROX = {"constant_step": _approx_prox_constant_step_unsafe,
                "no_importance_weight": _approx_prox_no_importance_weight,
                "positive_baseline": _approx_prox_positive_baseline}


def observe_unbiased_positive_baseline(params, seed):
    """Mutant: win-rate baseline +1/2 instead of -1/2."""
    return _unbiased(params, seed, "positive_baseline")


def observe_unbiased(params, seed):
    """Largest ``|z|`` over responses of the Monte Carlo mean of the centred inner iterate (300
    replications) against its exact expectation."""
    return _unbiased(params, seed, "claim")


def observe_unbiased_constant_step(params, seed):
    """Mutant: inner step 1/2 instead of 1/(s + 2)."""
    return _unbiased(params, seed, "constant_step")


def observe_unbiased_no_importance_weight(params, seed):
    """Mutant: importance weight 1/pi_theta(y) dropped."""
    return _unbiased(params, seed, "no_importance_weight")


# ---------------------------------------------------------------- defaults, audited by an independent solver
#: Iterations of the default-hyper-parameter runs.
DEFAULT_ITERS = 200
#: Only iterations where the checked bound is at least this are compared (naive plain-numpy KL
#: has absolute rounding error ~1e-15 ``|log pi|``; 1e-8 keeps it < 1e-5 of the bound).
DEFAULT_BOUND_MIN = 1e-8


def independent_equilibrium(P: np.ndarray, log_mu: np.ndarray, beta: float) -> np.ndarray:
    """``log pi*_beta`` by MINPACK's hybrid method (``scipy.optimize.root``) on
    ``z = log mu + P softmax(z) / beta``, followed from ``beta = 1`` down by factors 0.7.

    Shares no code with :func:`mdpkit.games.regularized_nash`; its fixed-point residual is certified.
    """
    from scipy.optimize import root

    n = log_mu.shape[0]

    def softmax(z):
        p = np.exp(z - z.max())
        return p / p.sum()

    def residual(z, b):
        return z - log_mu - P @ softmax(z) / b

    def jacobian(z, b):
        p = softmax(z)
        return np.eye(n) - (P * p[None, :] - np.outer(P @ p, p)) / b

    b = max(beta, 1.0)
    z = log_mu + P @ np.exp(log_mu) / b
    while True:
        z = root(residual, z, args=(b,), jac=jacobian, method="hybr", options={"xtol": 1e-13}).x
        if b == beta:
            break
        b = max(beta, 0.7 * b)
    span = float(np.ptp(residual(z, beta)))
    if not span <= 1e-9 * max(1.0, 1.0 / beta):
        raise RuntimeError(f"independent_equilibrium: residual {span:.3g} (beta={beta:g}, n={n})")
    return _np_log_normalize(z)


def _np_kl(log_p, log_q) -> np.ndarray:
    """``KL(p || q_k)`` for every row of ``log_q`` (plain numpy, ``sum p (log p - log q)``)."""
    return np.sum(np.exp(log_p)[None, :] * (log_p[None, :] - log_q), axis=1)


def _defaults(params, seed, variant):
    rng = np.random.default_rng(seed)
    beta = float(10.0 ** rng.uniform(-2.0, 0.0))         # log-uniform in [0.01, 1]
    game = draw_game(params["family"], beta, rng, n=None if params["family"] == "dice"
                     else _log_uniform_int(rng, 3, 60))
    run_seed = int(rng.integers(2**31))
    algorithm, T = params["algorithm"], DEFAULT_ITERS
    log_star = independent_equilibrium(np.asarray(game.P), np.asarray(game.log_mu), beta)
    if algorithm == "nash_mp":
        if variant == "claim":
            logs = nash_mp.run(game, iters=T, seed=run_seed).log_policies       # defaults only
        else:
            logs = nash_mp.run(game, iters=T, seed=run_seed, eta=beta).log_policies
        kl = _np_kl(log_star, logs)
        bound = (1.0 + 2.0 * beta) ** -np.arange(T + 1.0) * kl[0]
    elif algorithm == "nash_md":
        if variant == "claim":
            logs = nash_md.run(game, iters=T, seed=run_seed).log_policies
        else:
            logs = _md_schedule_t1_logs(game, T)
        kl = _np_kl(log_star, logs)
        bound = 8.0 / (beta ** 2 * (np.arange(T + 1.0) + 1.0))
    else:  # mmd: Sokota et al. Theorem 3.4, KL_{t+1} <= (1 + eta alpha)^(-t) KL_1, eta alpha = 4 beta^2
        eta = None if variant == "claim" else beta
        logs = mmd.run(game, iters=T, seed=run_seed, eta=eta).log_policies
        kl = _np_kl(log_star, logs)
        bound = np.concatenate([[np.inf], (1.0 + 4.0 * beta ** 2) ** -np.arange(T + 0.0) * kl[1]])
    keep = bound >= DEFAULT_BOUND_MIN
    keep[:2 if algorithm == "mmd" else 1] = False           # equalities by definition
    return {"kl_over_bound": kl[keep] / bound[keep]}


def _md_schedule_t1_logs(game, iters):
    """Mutant: Nash-MD schedule ``eta_t = 2 / (beta (t + 1))`` (off by one: eta_0 beta = 2)."""
    log_pi = game.log_mu.copy()
    out = [log_pi]
    for t in range(iters):
        eta = 2.0 / (game.beta * (t + 1))
        mix = min(eta * game.beta, 1.0)
        log_mixture = log_normalize((1.0 - mix) * log_pi + mix * game.log_mu)
        log_pi = log_normalize(log_mixture + eta * (game.P @ np.exp(log_mixture)))
        out.append(log_pi)
    return np.array(out)


def observe_defaults(params, seed):
    """``KL(pi* || pi_k) / bound_k`` of a default-hyper-parameter run, ``pi*`` from the
    independent solver, KL in plain numpy."""
    return _defaults(params, seed, "claim")


def observe_defaults_wrong_step(params, seed):
    """Mutant: default steps too small (Nash-MP eta = beta, MMD eta = beta: 1/2 and 1/4 of the
    documented ones); Nash-MD schedule off by one."""
    return _defaults(params, seed, "wrong_step")


# ============================================================================ lemma-level claim declarations
_LEMMA_PAPER = Paper("Accelerating Nash Learning from Human Feedback via Mirror Prox (Tiapkin et al.), v1; "
                     "NLHF (Munos et al., ICML 2024); MMD (Sokota et al., ICLR 2023)", arxiv="2505.19731",
                     where="update rules of the analysed algorithms (reconstructed closed forms)")
_FAMILIES_QUICK = ["random", "cyclic"]

ONE_STEP_IDENTITY = Claim(
    id="nash.one_step_identity",
    paper=_LEMMA_PAPER,
    statement=("Reconstructed: every iterate of Nash-MP (both half-steps), Nash-MD (mixture and step), MMD and "
               "self-play MWU, run with its documented default step (eta = 2 beta; eta_t = 2/(beta(t+2)); "
               "eta = 4 beta; eta = sqrt(8 log n/(T+1))), equals the closed-form update recomputed in plain "
               "numpy from the recorded previous iterate and the exact P, to relative error 1e-12, and the "
               "distribution each sends to the oracle is the one the update prescribes; pi_0 is mu by default "
               "and the given start otherwise (random interior starts), beta log-uniform in [1e-3, 1], n in [2, 40]."),
    provenance=Provenance("reconstructed", "The closed forms are the first-order conditions of each prox step "
                                           "(docs/papers/nash.md#nash-closed-form-steps); the check is ours."),
    observe=observe_one_step,
    sweep=Sweep(quick=Grid(algorithm=list(LEMMA_ALGORITHMS), family=_FAMILIES_QUICK, start=["default", "random"]),
                full=Grid(algorithm=list(LEMMA_ALGORITHMS), family=list(FAMILIES), start=["default", "random"]),
                seeds_quick=1, seeds_full=10),
    rule=BoundHolds("identity_error", x="algorithm"),
    bound=lambda p: IDENTITY_TOL,
    mutants=[Mutant("mp_eta_beta", observe_one_step_mp_eta_beta,
                    why="Nash-MP's default step eta = beta instead of 2 beta: every iterate differs from the "
                        "documented update by O(1) in the logits"),
             Mutant("md_swapped_mixture", observe_one_step_md_swapped_mixture,
                    why="Nash-MD's geometric mixture with swapped exponents (pi^(eta beta) mu^(1 - eta beta))"),
             Mutant("mmd_magnet_eta", observe_one_step_mmd_magnet_eta,
                    why="MMD's magnet weighted by eta instead of eta beta")],
    observed="max |recorded - recomputed| / max(1, |recomputed|) over iterations",
)

ORACLE_USE = Claim(
    id="nash.oracle_use",
    paper=_LEMMA_PAPER,
    statement=("Reconstructed: with default hyper-parameters (run(game, iters=..., seed=...), nothing else), every "
               "distribution Nash-MP, Nash-MD, MMD, MWU and approximate Nash-MP emit, send to the preference "
               "oracle or sample responses from is non-negative and sums to 1 within 1e-12; the queries the "
               "oracle answered equal the reported count and the specification (Nash-MP 2 per iteration, "
               "Nash-MD/MMD/MWU 1, approximate Nash-MP 2 x 100 x 10 sampled comparisons per iteration); "
               "record=True leaves the iterates bit-identical."),
    provenance=Provenance("reconstructed", "Query counts are the algorithms' specifications (two oracle calls per "
                                           "Mirror-Prox iteration); the normalisation lemma is implicit in every "
                                           "analysis (iterates live on the simplex)."),
    observe=observe_oracle_use,
    sweep=Sweep(quick=Grid(algorithm=list(LEMMA_ALGORITHMS) + ["nash_mp_approx"], family=["random", "dice"]),
                full=Grid(algorithm=list(LEMMA_ALGORITHMS) + ["nash_mp_approx"], family=list(FAMILIES)),
                seeds_quick=1, seeds_full=10),
    rule=BoundHolds("oracle_defect", x="algorithm"),
    bound=lambda p: 0.0,
    mutants=[Mutant("unnormalised_mixture", observe_oracle_use_unnormalised_mixture,
                    why="Nash-MD sends exp((1 - eta beta) log pi + eta beta log mu) to the oracle without "
                        "normalising it (a geometric mixture sums to < 1)"),
             Mutant("short_inner_loop", observe_oracle_use_approx_short_inner,
                    why="approximate Nash-MP's inner loop one step short of inner_steps while reporting "
                        "2 x inner_steps x batch_size comparisons per iteration"),
             Mutant("one_query_per_iteration", derive=derive_oracle_use_one_query_per_iteration,
                    why="Nash-MP and its approximate variant report one query per iteration (N = k): both "
                        "oracle calls of a Mirror-Prox iteration must be counted")],
    observed="max(normalisation error - 1e-12, |query-count mismatch|)",
)

ONE_STEP_LYAPUNOV = Claim(
    id="nash.one_step_lyapunov",
    paper=_LEMMA_PAPER,
    statement=("Reconstructed: from any full-support iterate, one step of Nash-MP (eta = 2 beta) contracts "
               "KL(pi*_beta || pi) by 1/(1 + 2 beta), one step of MMD (eta = 4 beta) by 1/(1 + 4 beta^2), and one "
               "Nash-MD step satisfies NLHF's KL_{t+1} <= (1 - eta_t beta) KL_t + 2 eta_t^2; checked at every "
               "step of runs from random interior starts, beta log-uniform in [1e-3, 1] (steps with "
               "KL_t < 1e-9 skipped for Nash-MP and MMD)."),
    provenance=Provenance("reconstructed", "Per-step forms of the three analyses (Nash-MP's rate (T1) of "
                                           "docs/papers/nash.md, MMD Theorem 3.4, NLHF's one-step inequality); "
                                           "that they hold per step from every point is our reading."),
    observe=observe_lyapunov,
    sweep=Sweep(quick=Grid(algorithm=["nash_mp", "nash_md", "mmd"], family=list(FAMILIES)),
                full=Grid(algorithm=["nash_mp", "nash_md", "mmd"], family=list(FAMILIES)),
                seeds_quick=2, seeds_full=25),
    rule=BoundHolds("lyapunov_excess", x="algorithm"),
    bound=lambda p: 0.0,
    mutants=[Mutant("step_quarter", observe_lyapunov_step_quarter,
                    why="steps 1/4 of the documented ones (Nash-MP eta = beta / 2, MMD eta = beta; e.g. the "
                        "step conventions eta and eta / beta mixed up): each step contracts less than the "
                        "analysis's factor (a 4x larger step, the other direction, mostly contracts faster "
                        "per step and was caught in only 74% of seed resamples)"),
             Mutant("no_extrapolation", observe_lyapunov_no_extrapolation,
                    why="Nash-MP without its extrapolation step; Nash-MD with swapped mixture exponents: "
                        "neither contracts the KL step by step")],
    observed="max over steps of (KL_{k+1} - one-step bound) / one-step bound",
)

INFORMATION_FLOW = Claim(
    id="nash.information_flow",
    paper=_LEMMA_PAPER,
    statement=("Approximate Nash-MP learns only from sampled comparison outcomes: on a game and on its "
               "outcome-compatible twin (another preference matrix that gives every comparison the run draws "
               "the same outcome, differing by up to 0.5 per entry), its iterates are bit-identical "
               "(n = 6, 4 outer x 2 x 4 inner steps x 5 comparisons)."),
    provenance=Provenance("reconstructed", "NLHF's learner observes preferences between sampled responses only; "
                                           "the twin construction is ours."),
    observe=observe_information_flow,
    sweep=Sweep(quick=Grid(beta=[0.03, 0.3]), full=Grid(beta=[0.01, 0.03, 0.1, 0.3, 1.0]),
                seeds_quick=3, seeds_full=20),
    rule=BoundHolds("max_abs_difference", x="beta"),
    bound=lambda p: 0.0,
    mutants=[Mutant("expected_outcome", observe_information_flow_expected_outcome,
                    why="the inner step uses the probability P[y, y'] read from the game in place of the "
                        "sampled outcome (a 'variance reduction' that peeks at the hidden matrix)")],
    observed="max |log pi_k(game) - log pi_k(twin)|",
)

APPROX_UNBIASED = Claim(
    id="nash.approx_inner_unbiased",
    paper=_LEMMA_PAPER,
    statement=("Reconstructed: approximate Nash-MP's inner loop (T_in = 3 harmonic NPG steps, 10 sampled "
               "comparisons each) returns, in expectation and up to a constant, (log pi_k + T_in target) / "
               "(T_in + 1) with target the exact prox logits: the Monte Carlo mean of 300 replications is "
               "within 5 standard errors of it for every response; and the variance of each entry after one "
               "inner step, known exactly (E[X X^T] = diag(1/(4 pi)) for the importance-weighted outcome "
               "X), is matched by the sample variance of 300 replications within a factor 2."),
    provenance=Provenance("reconstructed", "The importance-weighted win-rate estimator and the harmonic step "
                                           "are our reconstruction of the paper's approximate prox step "
                                           "(mdpkit/algorithms/nash_mp_approx.py); unbiasedness is what they "
                                           "are chosen for."),
    observe=observe_unbiased,
    sweep=Sweep(quick=Grid(beta=[0.1, 1.0], n=[4]), full=Grid(beta=[0.03, 0.1, 0.3, 1.0], n=[2, 4, 8]),
                seeds_quick=1, seeds_full=10),
    rule=BoundHolds("defect", x="beta"),
    bound=lambda p: 1.0,
    mutants=[Mutant("constant_inner_step", observe_unbiased_constant_step,
                    why="inner step 1/2 instead of 1/(s + 2): the warm start's weight is 2^-T_in, not 1/(T_in + 1)"),
             Mutant("no_importance_weight", observe_unbiased_no_importance_weight,
                    why="win rates not divided by pi_theta(y): the estimate is biased towards likely responses"),
             Mutant("positive_baseline", observe_unbiased_positive_baseline,
                    why="baseline +1/2 instead of -1/2 in the win-rate estimate: unbiased up to a constant "
                        "(invisible to the mean) but the one-step variance grows several-fold (found by "
                        "proofs-check mutate as the family's only survivor)")],
    observed="max(z / 5, |log(variance ratio)| / log 2)",
)

DEFAULTS_INDEPENDENT = Claim(
    id="nash.defaults_independent_audit",
    paper=_LEMMA_PAPER,
    statement=("With default hyper-parameters only (run(game, iters=200, seed=s)), against pi*_beta computed by an "
               "independent solver (MINPACK hybrid root-finding with beta-continuation, residual certified) and "
               "KL in plain numpy: Nash-MP satisfies KL_k <= (1 + 2 beta)^(-k) KL_0, Nash-MD KL_T <= "
               "8 / (beta^2 (T + 1)), MMD KL_{t+1} <= (1 + 4 beta^2)^(-t) KL_1, at every iterate whose bound is "
               ">= 1e-8; beta log-uniform in [0.01, 1], n in [3, 60]."),
    provenance=Provenance("reconstructed", "The bounds are those of nash.mp_kl_bound (reconstructed), NLHF "
                                           "Theorem 1 and MMD Theorem 3.4 with the documented default steps; "
                                           "the independent audit is ours."),
    observe=observe_defaults,
    sweep=Sweep(quick=Grid(algorithm=["nash_mp", "nash_md", "mmd"], family=list(FAMILIES)),
                full=Grid(algorithm=["nash_mp", "nash_md", "mmd"], family=list(FAMILIES)),
                seeds_quick=2, seeds_full=20),
    rule=BoundHolds("kl_over_bound", x="algorithm"),
    bound=lambda p: 1.0,
    mutants=[Mutant("small_default_steps", observe_defaults_wrong_step,
                    why="default steps below the documented ones (Nash-MP eta = beta, MMD eta = beta; Nash-MD "
                        "schedule 2/(beta(t+1))): the rate falls below the claimed one")],
    observed="KL(pi* || pi_k) / bound_k (pi* independent)",
)

# ============================================================================ regression envelope
#: The fixed instance of the envelope: approximate Nash-MP with its defaults on one game.
ENVELOPE_GAME = {"n": 10, "beta": 0.3, "game_seed": 20261205, "iters": 30, "tail_from": 15}


def observe_approx_envelope(params, seed):
    """``log KL(pi* || pi_k)`` for outer iterations 15..30 of approximate Nash-MP with default
    hyper-parameters (100 inner steps x 10 comparisons) on one fixed game; ``seed`` drives the
    comparisons only. In logs, a constant-factor change of the floor is a shift, and the floor's
    heavy right tail over seeds (occasional excursions) does not dominate the seed mean."""
    game = random_preference_game(params["n"], ENVELOPE_GAME["beta"], mu="random",
                                  seed=np.random.SeedSequence(ENVELOPE_GAME["game_seed"]))
    log_star = regularized_nash(game).log_policy
    logs = nash_mp_approx.run(game, iters=ENVELOPE_GAME["iters"], seed=seed).log_policies
    return {"log_kl_tail": np.log(_kl_series(log_star, logs[ENVELOPE_GAME["tail_from"]:]))}


def derive_envelope_up(observed):
    """Mutant (derived): the floor 1.3x higher (a constant-factor bug in the inner estimator)."""
    return {"log_kl_tail": observed["log_kl_tail"] + np.log(1.3)}


def derive_envelope_down(observed):
    """Mutant (derived): the floor 1.3x lower."""
    return {"log_kl_tail": observed["log_kl_tail"] - np.log(1.3)}


APPROX_ENVELOPE_TABLE = EnvelopeTable(
    [
        # full -5.96939 (n=240); raw [-6.0881, -5.84235]
        ({"n": 10}, -6.118821171273559, -5.811634952640604),
    ],
    why=('mean over 24 seeds of the mean log_kl_tail: 0.10%-99.90% quantiles of 20000 bootstrap '
         'resamples of 24 from 240 full-budget runs of nash.approx_floor_envelope (code version '
         'b0a16a111768e0a9: the nash code of this commit; other helpers\' edits elsewhere in mdpkit '
         'made the tool call it stale), band width widened by 25%'),
)

APPROX_ENVELOPE = Claim(
    id="nash.approx_floor_envelope",
    paper=NASH_MP,
    statement=("Regression check (not a paper claim): approximate Nash-MP with default hyper-parameters "
               "(run(game, iters=30, seed=s): eta = 2 beta, 100 inner NPG steps x 10 sampled comparisons) on "
               "one fixed random game (n = 10, beta = 0.3): the mean over 24 seeds of the mean log KL(pi* || pi_k), "
               "k = 15..30, stays in the band fitted from the correct implementation's full-budget runs."),
    provenance=Provenance("reconstructed", "Regression check at the practical scaling, not a paper claim: the "
                                           "inner loop and its defaults are ours "
                                           "(docs/papers/nash.md#nash-check-approximate-nash-mp)."),
    observe=observe_approx_envelope,
    sweep=Sweep(quick=Grid(n=[ENVELOPE_GAME["n"]]), full=Grid(n=[ENVELOPE_GAME["n"]]),
                seeds_quick=24, seeds_full=240),
    rule=Envelope("log_kl_tail", entry="mean", center="mean",
                  justification=("a constant-factor change of the error floor (estimator, step, defaults) shifts "
                                 "the mean log KL by log(1.3) = 0.26 for a 1.3x bug, several times the band's "
                                 "half-width at 24 seeds")),
    bound=APPROX_ENVELOPE_TABLE,
    mutants=[Mutant("floor_x1_3", derive=derive_envelope_up, why="error floor over-reported 30%"),
             Mutant("floor_div1_3", derive=derive_envelope_down, why="error floor under-reported 30%")],
    observed="mean log KL over outer iterations 15..30 (mean over seeds)",
)

CLAIMS += [ONE_STEP_IDENTITY, ORACLE_USE, ONE_STEP_LYAPUNOV, INFORMATION_FLOW, APPROX_UNBIASED,
           DEFAULTS_INDEPENDENT, APPROX_ENVELOPE]
