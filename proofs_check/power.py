"""Power: how likely the verdict on each variant comes out as it did, by a bootstrap over seeds.

For a claim that passes, a verdict is only as good as its chance of passing again with other seeds;
for a mutant, its chance of being caught again. :func:`outcome_probabilities` estimates, for one
variant's runs, the fractions of ``n_resamples`` bootstrap resamples on which the rule says PASS,
FAIL and UNDECIDED. A resample draws the seed indices with replacement (the same draw at every
parameter point, so a seed keeps its whole curve, as the rules' own bootstraps do) and re-applies
the rule's decision.

The verdict itself is never touched: the probabilities come from a separate random stream.

Speed
-----
Each rule's per-run quantities (a run's excess over the bound, its failure flag, its fitted
contraction factor, its value in an envelope, a rate's seed-by-x table) are computed once; the
resamples only recombine them, vectorised over resamples. ``Rate`` needs a bootstrap CI per
resample (a nested bootstrap): its inner bootstrap uses ``min(rule.n_resamples,``
:data:`RATE_INNER_RESAMPLES` ``)`` resamples and numpy's linear percentile (the rule uses
:func:`scipy.stats.bootstrap` with ``rule.n_resamples``): an approximation, stated in ``method``.
A rule of another class is re-evaluated on :data:`GENERIC_RESAMPLES` resamples (also stated).
"""

from __future__ import annotations

import numpy as np

from .claim import Run
from .rules import (BoundHolds, Contraction, Envelope, HighProbability, MissingEnvelope, Rate, _censoring,
                    _excess_range, _group_by, _observed)

#: Bootstrap resamples of the seeds per variant.
POWER_RESAMPLES = 200
#: Inner bootstrap resamples of a ``Rate`` CI inside each power resample (nested bootstrap).
RATE_INNER_RESAMPLES = 400
#: Resamples for a rule without a vectorised path (each one re-evaluates the rule).
GENERIC_RESAMPLES = 50
#: Below this probability of being caught again, a caught mutant is flagged weak.
WEAK_POWER = 0.95


def _seed_matrix(runs, by_point) -> tuple[list, dict] | None:
    """The common seed indices and, per point, its runs in that seed order; None if points differ in seeds."""
    seeds = sorted({r.seed_index for r in runs})
    table = {}
    for key, point_runs in by_point.items():
        by_seed = {r.seed_index: r for r in point_runs}
        if sorted(by_seed) != seeds or len(by_seed) != len(point_runs):
            return None
        table[key] = [by_seed[s] for s in seeds]
    return seeds, table


def _fractions(passed: np.ndarray, undecided: np.ndarray, method: str) -> dict:
    n = passed.size
    undecided = np.asarray(undecided, dtype=bool)
    passed = np.asarray(passed, dtype=bool) & ~undecided
    return {"pass": float(passed.sum() / n), "fail": float((~passed & ~undecided).sum() / n),
            "undecided": float(undecided.sum() / n), "resamples": int(n), "method": method}


def outcome_probabilities(rule, runs, bound, seed, n_resamples: int = POWER_RESAMPLES) -> dict | None:
    """Fractions of seed resamples on which ``rule`` gives PASS, FAIL and UNDECIDED.

    Parameters
    ----------
    rule : Rule
    runs : sequence of Run
        One variant's runs.
    bound : callable
        The claim's bound.
    seed : numpy.random.SeedSequence or int
        Seed of the resampling (fixed per claim and variant: reproducible).
    n_resamples : int

    Returns
    -------
    dict or None
        ``{"pass", "fail", "undecided", "resamples", "method"}``; None without runs.
    """
    runs = list(runs)
    if not runs:
        return None
    rng = np.random.default_rng(seed)
    by_point = _group_by(runs, exclude=None)
    matrix = _seed_matrix(runs, by_point)
    if matrix is None or type(rule) not in _FAST:
        return _generic(rule, runs, bound, rng, matrix)
    seeds, table = matrix
    idx = rng.integers(0, len(seeds), size=(n_resamples, len(seeds)))
    return _FAST[type(rule)](rule, table, bound, idx, rng)


def _bound_holds(rule: BoundHolds, table, bound, idx, rng) -> dict:
    viol_best = np.zeros(idx.shape[0], dtype=np.int64)
    viol_worst = np.zeros(idx.shape[0], dtype=np.int64)
    for point_runs in table.values():
        b = np.asarray(bound(point_runs[0].params), dtype=np.float64)
        ranges = np.array([_excess_range(r, rule.observed, b) for r in point_runs])   # (n_seeds, 2)
        best, worst = ranges[idx, 0], ranges[idx, 1]                                     # (B, n_seeds)
        if rule.quantile is None:
            viol_best += np.sum(best > 0, axis=1)
            viol_worst += np.sum(worst > 0, axis=1)
        else:
            viol_best += np.quantile(best, rule.quantile, axis=1, method="higher") > 0
            viol_worst += np.quantile(worst, rule.quantile, axis=1, method="higher") > 0
    undecided = (viol_best == 0) != (viol_worst == 0)
    return _fractions(viol_best == 0, undecided, "seed bootstrap, exact re-application of the rule")


def _high_probability(rule: HighProbability, table, bound, idx, rng) -> dict:
    from .rules import _stats

    uppers: dict = {}

    def upper(k: np.ndarray, n: int) -> np.ndarray:
        """Clopper-Pearson upper limits for counts ``k`` of ``n``: the beta quantile that
        ``binomtest(k, n).proportion_ci(method="exact")`` computes, once per ``n`` for every count."""
        if n not in uppers:
            counts = np.arange(n + 1)
            tail = (1.0 - rule.confidence) / 2.0
            with np.errstate(all="ignore"):
                limits = _stats().beta.ppf(1.0 - tail, counts + 1, np.maximum(n - counts, 1))
            uppers[n] = np.where(counts == n, 1.0, limits)
        return uppers[n][np.asarray(k, dtype=np.int64)]

    # Per point: which seeds fail for sure / may fail. Groups: every point, or all pooled.
    groups: dict = {}
    for key, point_runs in table.items():
        b_of = lambda r: np.asarray(bound(r.params), dtype=np.float64)  # noqa: E731
        ranges = np.array([_excess_range(r, rule.observed, b_of(r)) for r in point_runs])
        fails = ranges[idx, 0] > 0
        possible = ranges[idx, 1] > 0
        group = key if rule.per_point else "all"
        k, m = groups.get(group, (0, 0))
        groups[group] = (k + fails.sum(axis=1), m + possible.sum(axis=1))
    n_seeds = idx.shape[1]
    passed = np.ones(idx.shape[0], dtype=bool)
    undecided = np.zeros(idx.shape[0], dtype=bool)
    for group, (k, m) in groups.items():
        n = n_seeds * (1 if rule.per_point else len(table))
        ok = upper(k, n) <= rule.delta
        ok_worst = upper(m, n) <= rule.delta
        undecided |= ok != ok_worst
        passed &= ok
    return _fractions(passed, undecided, "seed bootstrap, exact re-application of the rule")


def _contraction(rule: Contraction, table, bound, idx, rng) -> dict:
    ok_runs, unknown_runs = [], []
    for point_runs in table.values():
        claimed = float(bound(point_runs[0].params))
        ok, unknown = [], []
        for r in point_runs:
            rho = rule.fitted_factor(_observed(r, rule.observed))
            unknown.append(bool(np.isnan(rho) or np.any(_censoring(r, rule.observed) != 0)))
            ok.append(bool(rho <= claimed * (1 + rule.tolerance)))
        ok_runs.append(np.array(ok))
        unknown_runs.append(np.array(unknown))
    passed = np.all([ok[idx].all(axis=1) for ok in ok_runs], axis=0)
    undecided = np.any([unknown[idx].any(axis=1) for unknown in unknown_runs], axis=0)
    return _fractions(passed, undecided, "seed bootstrap, exact re-application of the rule")


def _envelope(rule: Envelope, table, bound, idx, rng) -> dict:
    outside = np.zeros(idx.shape[0], dtype=bool)
    between = np.zeros(idx.shape[0], dtype=bool)
    missing = False
    for point_runs in table.values():
        try:
            lo, hi = rule._band(bound, point_runs[0].params)
        except MissingEnvelope:
            missing = True
            continue
        ranges = np.array([rule.run_range(r) for r in point_runs])
        low = rule.statistic(ranges[idx, 0])
        high = rule.statistic(ranges[idx, 1])
        low = np.where(np.isnan(low), -np.inf, low)
        high = np.where(np.isnan(high), np.inf, high)
        inside = (lo <= low) & (high <= hi)
        out = (high < lo) | (low > hi)
        outside |= out
        between |= ~inside & ~out
    undecided = ~outside & (between | missing)
    return _fractions(~outside & ~undecided, undecided, "seed bootstrap, exact re-application of the rule")


def _rate(rule: Rate, table, bound, idx, rng) -> dict:
    n_b = idx.shape[0]
    passed = np.ones(n_b, dtype=bool)
    undecided = np.zeros(n_b, dtype=bool)
    inner = min(rule.n_resamples, RATE_INNER_RESAMPLES)
    alpha = 1.0 - rule.confidence
    lo_ok, hi_ok = rule.exponent - rule.tolerance, rule.exponent + rule.tolerance
    runs = [r for point_runs in table.values() for r in point_runs]
    for group in _group_by(runs, exclude=rule.param).values():
        xs = sorted({r.params[rule.param] for r in group if rule.in_range(r.params[rule.param])})
        if len(xs) < 2:
            return _fractions(np.zeros(n_b, bool), np.ones(n_b, bool), "seed bootstrap (rule undecided on any data)")
        seeds = sorted({r.seed_index for r in group})
        cell = {(r.params[rule.param], r.seed_index): r for r in group}
        Y = np.array([[float(_observed(cell[(x, s)], rule.observed)) for x in xs] for s in seeds])   # (n, n_x)
        flagged = np.array([any(np.any(_censoring(cell[(x, s)], rule.observed) != 0) for x in xs) for s in seeds])
        flagged |= ~np.all(np.isfinite(Y), axis=1)
        if len(seeds) < 2:
            return _fractions(np.zeros(n_b, bool), np.ones(n_b, bool), "seed bootstrap (one seed: undecided)")
        log_x = np.log(np.asarray(xs, dtype=np.float64))
        centred_x = log_x - log_x.mean()
        n = len(seeds)
        # Inner bootstrap as counts: the inner resample i of outer resample b has seed-mean
        # (counts[i] @ Y[rows_b]) / n -- one batched matrix product for every (b, i).
        inner_idx = rng.integers(0, n, size=(inner, n))
        flat = (np.arange(inner)[:, None] * n + inner_idx).ravel()
        counts = np.bincount(flat, minlength=inner * n).reshape(inner, n).astype(np.float64)
        Yc = np.where(np.isfinite(Y), Y, 1.0)      # flagged resamples are undecided whatever their slopes
        group_undecided = flagged[idx].any(axis=1)
        Yb = Yc[idx]                                                                   # (B, n, n_x)
        mean = Yb.mean(axis=1)                                                         # (B, n_x)
        group_undecided |= np.any(mean <= 0, axis=1)
        means = np.matmul(counts, Yb) / n                                              # (B, inner, n_x)
        positive = np.all(means > 0, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_means = np.log(np.where(means > 0, means, 1.0))
        slopes = ((log_means - log_means.mean(axis=-1, keepdims=True)) @ centred_x) / float(centred_x @ centred_x)
        slopes = np.where(positive, slopes, np.nan)                                    # (B, inner)
        ci_lo = np.quantile(slopes, alpha / 2, axis=1)                                 # NaN if any is NaN
        ci_hi = np.quantile(slopes, 1 - alpha / 2, axis=1)
        group_undecided |= ~(np.isfinite(ci_lo) & np.isfinite(ci_hi))
        ok = (lo_ok <= ci_lo) & (ci_hi <= hi_ok) if rule.sided == "two" else ci_hi <= hi_ok
        group_undecided |= ok & (ci_hi - ci_lo <= 1e-9)
        if rule.sided == "upper":
            with np.errstate(divide="ignore", invalid="ignore"):
                change = mean.max(axis=1) / mean.min(axis=1) - 1.0
            group_undecided |= ok & (change <= rule.min_change)
        undecided |= group_undecided
        passed &= ok
    return _fractions(passed, undecided, f"seed bootstrap; the rule's CI re-estimated from {inner} inner "
                                         "resamples (numpy percentile) per resample")


def _generic(rule, runs, bound, rng, matrix) -> dict:
    """Re-evaluate the rule on :data:`GENERIC_RESAMPLES` resamples of the seeds (runs relabelled)."""
    if matrix is None:
        # Points with different seed sets: resample each point's runs on its own.
        by_point = _group_by(runs, exclude=None)
        draws = []
        for _ in range(GENERIC_RESAMPLES):
            sample = []
            for point_runs in by_point.values():
                pick = rng.integers(0, len(point_runs), size=len(point_runs))
                sample += [Run(r.variant, r.params, j, r.observed) for j, r in enumerate(point_runs[i] for i in pick)]
            draws.append(sample)
    else:
        seeds, table = matrix
        idx = rng.integers(0, len(seeds), size=(GENERIC_RESAMPLES, len(seeds)))
        draws = [[Run(r.variant, r.params, j, r.observed) for point_runs in table.values()
                  for j, r in enumerate(point_runs[i] for i in row)] for row in idx]
    outcomes = [rule.evaluate(sample, bound, seed=int(rng.integers(2 ** 31))).passed for sample in draws]
    passed = np.array([o is True for o in outcomes])
    undecided = np.array([o is None for o in outcomes])
    return _fractions(passed, undecided, f"seed bootstrap; the rule re-evaluated on {len(draws)} resamples")


_FAST = {BoundHolds: _bound_holds, HighProbability: _high_probability, Contraction: _contraction,
         Envelope: _envelope, Rate: _rate}


def power_entry(outcome_passed, probabilities: dict | None, *, mutant: bool) -> dict | None:
    """The stored power of one variant: its probabilities and ``p_as_observed``, the probability that
    the outcome is what it was (for a mutant: caught, i.e. FAIL, when it was caught)."""
    if probabilities is None:
        return None
    observed = "undecided" if outcome_passed is None else ("pass" if outcome_passed else "fail")
    entry = dict(probabilities, outcome=observed, p_as_observed=probabilities[observed])
    if mutant:
        entry["p_caught"] = probabilities["fail"]
        entry["weak"] = bool(outcome_passed is False and probabilities["fail"] < WEAK_POWER)
    return entry

