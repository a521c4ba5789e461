"""Acceptance rules: the statistics that turn runs into PASS / FAIL.

Every rule takes the finished runs of one variant (the claim itself or a mutant), the claim's
``bound`` callable and a seed for any resampling, and returns a
:class:`~proofs_check.claim.RuleOutcome`: PASS, FAIL, or UNDECIDED (``passed=None``) with the
reason, when the runs cannot decide. Distributions come from :mod:`scipy.stats` only.

UNDECIDED
---------
No runs; a NaN observation; a censored one that could lie on either side of the bound; for
``Rate``, a non-finite or censored observation in the fit range, fewer than 2 values of the swept
parameter, a seed-mean that is not positive (no log), one seed (no bootstrap), a bootstrap CI that
is NaN or has zero width (every resample gives the same slope: a constant or capped quantity, or
seeds that do not reach the observation) and would pass, and for ``sided="upper"`` a seed-mean that
changes by no more than ``min_change`` across the range and would pass (a FAIL on such data stands:
a deterministic slope of 1 against a claimed 1/2 is a decisive rejection); for ``Contraction``, a
run with fewer than 2 usable iterations (NaN fit).

Censoring
---------
An observe function reports censored entries of ``observed[name]`` in an extra array
``observed[name + CENSORED]`` (``":censored"``) of the same shape: ``+1`` where the true value is
*at least* the reported one (e.g. a target not reached within the budget: the reported count is
the budget), ``-1`` where it is *at most* the reported one, ``0`` where it is exact. ``BoundHolds``
and ``HighProbability`` evaluate every run both ways (each censored or NaN entry at its best and
its worst) and are UNDECIDED when the two disagree; ``Rate`` and ``Contraction`` are UNDECIDED
on any censored entry they use. ``+inf`` is a value (larger than any bound), not censoring.

Rules
-----
BoundHolds
    ``observed <= bound(params)`` on every run (or at a declared quantile over seeds).
Rate
    Log-log slope of the seed-mean of ``observed`` against one parameter, with a bootstrap CI
    over seeds (:func:`scipy.stats.bootstrap`); PASS iff the CI lies within ``exponent ± tolerance``
    (two-sided) or below ``exponent + tolerance`` (``sided="upper"``).
Contraction
    Per-run least-squares fit of ``log observed[k]`` against the iteration ``k``; PASS iff every
    fitted factor ``exp(slope)`` is ``<= bound(params) * (1 + tolerance)``.
HighProbability
    A run *fails* when ``observed > bound(params)`` anywhere; PASS iff the Clopper-Pearson upper
    confidence limit on the failure rate (:meth:`scipy.stats.binomtest(...).proportion_ci`,
    ``method="exact"``) is ``<= delta``.
Envelope
    A *regression check*, not a paper claim: at every parameter point the median (or mean) over
    seeds of one value per run lies in ``bound(params) = (lo, hi)``, a band fitted from the correct
    implementation's full-budget runs (:func:`proofs_check.envelope.fit_envelope`, ``proofs-check
    envelope``) and pasted into the claims module as an :class:`EnvelopeTable`. UNDECIDED when NaN
    or censored runs leave the statistic on either side of an edge, or when the table has no band
    for a point (not fitted yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import math

import numpy as np

from .claim import RuleOutcome, Run, params_key


def _stats():
    """``scipy.stats``, imported on first use: it costs ~0.5 s, and loading claims (``list``,
    ``report`` with nothing changed) never evaluates a rule."""
    from scipy import stats

    return stats


def _require_justification(rule: str, justification: str) -> None:
    if not isinstance(justification, str) or not justification.strip():
        raise ValueError(f"{rule}: justification must be a one-line reason for the tolerance")


#: Suffix of the key that marks censored entries of an observed quantity (see the module docstring).
CENSORED = ":censored"


def _observed(run: Run, name: str) -> np.ndarray:
    if name not in run.observed:
        raise ValueError(f"observed quantity {name!r} missing from run {run.variant} "
                         f"{params_key(run.params)} seed {run.seed_index}; has {sorted(run.observed)}")
    return np.asarray(run.observed[name], dtype=np.float64)


def _censoring(run: Run, name: str) -> np.ndarray:
    """Censoring marks of ``observed[name]`` (+1 / -1 / 0, same shape); zeros if none reported."""
    value = _observed(run, name)
    marks = run.observed.get(name + CENSORED)
    if marks is None:
        return np.zeros(value.shape)
    marks = np.asarray(marks, dtype=np.float64)
    if marks.shape != value.shape or not np.all(np.isin(marks, (-1.0, 0.0, 1.0))):
        raise ValueError(f"{name + CENSORED!r} of run {run.variant} {params_key(run.params)} seed "
                         f"{run.seed_index} must hold -1, 0 or +1 with the shape {value.shape} of {name!r}, "
                         f"got shape {marks.shape}")
    return marks


def _excess_range(run: Run, name: str, bound: np.ndarray) -> tuple[float, float]:
    """Best and worst case of ``max(observed - bound)`` over a run's entries: equal unless an entry
    is NaN (anything) or censored (+1: at least the reported value; -1: at most)."""
    value = _observed(run, name)
    marks = _censoring(run, name)
    excess = np.broadcast_to(value - bound, np.broadcast_shapes(value.shape, np.shape(bound)))
    marks = np.broadcast_to(marks, excess.shape)
    unknown = np.isnan(excess)
    best = np.where(unknown | (marks < 0), -np.inf, excess)
    worst = np.where(unknown | (marks > 0), np.inf, excess)
    return float(np.max(best)), float(np.max(worst))


def _n_unknown(run: Run, name: str) -> int:
    return int(np.sum(np.isnan(_observed(run, name)) | (_censoring(run, name) != 0)))


def _group_by(runs: Sequence[Run], exclude: str | None) -> dict[str, list[Run]]:
    """Group runs by every parameter except ``exclude``; deterministic order."""
    groups: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda r: (params_key(r.params), r.seed_index)):
        rest = {k: v for k, v in run.params.items() if k != exclude}
        groups.setdefault(params_key(rest), []).append(run)
    return groups


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x``.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        Positive values, ``n >= 2`` distinct ``x``.
    """
    return float(_stats().linregress(np.log(x), np.log(y)).slope)


def _resampled_slopes(log_x: np.ndarray, Y: np.ndarray):
    """Vectorised bootstrap statistic: the log-log slope of the seed-mean for many resamples at once.

    Parameters
    ----------
    log_x : ndarray, shape (n_x,)
        ``log`` of the swept parameter.
    Y : ndarray, shape (n_seeds, n_x)
        Observed value per seed and parameter value.

    Returns
    -------
    callable
        ``statistic(idx, axis=-1)`` for :func:`scipy.stats.bootstrap` (``vectorized=True``):
        ``idx`` of shape ``(..., n_seeds)`` holds resampled seed indices; returns the
        least-squares slope of ``log mean(Y[idx])`` against ``log_x``, shape ``idx.shape[:-1]``,
        NaN where a resampled mean is not positive. The closed form ``sum(xc * yc) / sum(xc^2)``
        is the slope :func:`loglog_slope` computes, without a ``linregress`` call per resample.
    """
    centred_x = log_x - log_x.mean()
    sum_sq_x = float(centred_x @ centred_x)

    def statistic(idx, axis=-1):
        if axis not in (-1, np.ndim(idx) - 1):
            raise ValueError(f"resampled seed indices must lie along the last axis, got axis={axis}")
        means = Y[np.asarray(idx, dtype=np.int64)].mean(axis=-2)      # (..., n_x)
        positive = np.all(means > 0, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_means = np.log(np.where(means > 0, means, 1.0))
        slopes = ((log_means - log_means.mean(axis=-1, keepdims=True)) @ centred_x) / sum_sq_x
        return np.where(positive, slopes, np.nan)

    return statistic


class Rule:
    """Base class: ``evaluate(runs, bound, seed) -> RuleOutcome``."""

    observed: str
    kind: str = "rule"

    def evaluate(self, runs: Sequence[Run], bound: Callable[[dict], object],
                 seed: np.random.SeedSequence | int = 0) -> RuleOutcome:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


#: Bounds below this (in absolute value) are "zero" for summaries: no observed/bound ratio is quoted.
_TINY_BOUND = 1e-6


@dataclass(frozen=True)
class BoundHolds(Rule):
    """``observed <= bound(params)`` on every run, or at the ``quantile`` over seeds.

    Parameters
    ----------
    observed : str
        Key of the observed array (any shape; every entry is checked).
    quantile : float or None
        ``None``: every run must satisfy the bound. Otherwise, at every parameter point the
        ``quantile`` (in (0, 1]) over seeds of each run's maximum entry must satisfy it.
    x : str or None
        Parameter drawn on the horizontal axis of the figure (default: the first grid axis
        with more than one value).
    """

    observed: str
    quantile: float | None = None
    x: str | None = None
    kind = "bound"

    def __post_init__(self):
        if self.quantile is not None and not (0.0 < self.quantile <= 1.0):
            raise ValueError(f"BoundHolds.quantile must be in (0, 1], got {self.quantile!r}")

    def describe(self) -> str:
        where = "every run" if self.quantile is None else f"the {self.quantile:g}-quantile over seeds"
        return f"{self.observed} <= bound on {where}"

    def _violations(self, excess_by_point) -> tuple[int, float, dict | None]:
        """Violations (runs or points), the largest (quantile of) excess and where, for one case."""
        violations, worst_excess, worst_at = 0, -np.inf, None
        for params, excess in excess_by_point:
            if self.quantile is None:
                point_excess = float(excess.max())
                violations += int(np.sum(excess > 0))
            else:
                point_excess = float(np.quantile(excess, self.quantile, method="higher"))
                violations += int(point_excess > 0)
            if point_excess > worst_excess:
                worst_excess, worst_at = point_excess, params
        return violations, worst_excess, worst_at

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        if not runs:
            return RuleOutcome.undecided("no runs")
        worst_ratio, min_bound, unknown_runs = -np.inf, np.inf, 0
        best_case, worst_case = [], []
        by_point = _group_by(runs, exclude=None)
        for key, point_runs in by_point.items():
            params = point_runs[0].params
            b = np.asarray(bound(params), dtype=np.float64)
            # Excess per run = max over entries of observed - bound (<= 0 means the bound holds), at
            # the best and the worst case of its NaN and censored entries.
            ranges = np.array([_excess_range(r, self.observed, b) for r in point_runs])
            best_case.append((params, ranges[:, 0]))
            worst_case.append((params, ranges[:, 1]))
            unknown_runs += sum(_n_unknown(r, self.observed) > 0 for r in point_runs)
            finite = [v[np.isfinite(v)] for v in (_observed(r, self.observed) for r in point_runs)]
            peak = max((float(v.max()) for v in finite if v.size), default=-np.inf)
            b_max = float(np.max(b))
            min_bound = min(min_bound, float(np.min(np.abs(b))))
            # A ratio only reads well for a positive bound and a non-negative observation; a
            # bound of (near) zero, e.g. "gap - certificate <= 0", is summarised by the excess.
            if b_max > 0 and peak >= 0:
                worst_ratio = max(worst_ratio, peak / b_max)
        violations, worst_excess, worst_at = self._violations(best_case)
        violations_worst, _, _ = self._violations(worst_case)
        unit = "runs" if self.quantile is None else "points"
        total = len(runs) if self.quantile is None else len(by_point)
        numbers = {"violations": violations, "max_ratio": worst_ratio, "max_excess": worst_excess,
                   "worst_params": worst_at, "undecided_runs": unknown_runs}
        if (violations == 0) != (violations_worst == 0):
            return RuleOutcome.undecided(
                f"{unknown_runs} of {len(runs)} runs have NaN or censored entries that could lie on either side "
                f"of the bound ({violations} to {violations_worst} of {total} {unit} exceed it)", numbers)
        passed = violations == 0
        # Lead with the difference the rule tests; the ratio only as context, and only where the
        # bound is clearly positive (a ratio to a bound of ~1e-9 says nothing).
        which = "" if self.quantile is None else f"{self.quantile:g}-quantile over seeds of "
        margin = f"max {which}(observed - bound) = {worst_excess:.3g}"
        if np.isfinite(worst_ratio) and min_bound > _TINY_BOUND:
            margin += f" (max observed/bound = {worst_ratio:.3g})"
        summary = f"{violations} of {total} {unit} exceed the bound; {margin}"
        if unknown_runs:
            summary += f" ({unknown_runs} runs with NaN or censored entries, decided either way)"
        return RuleOutcome(passed, summary, numbers)


#: A slope CI narrower than this is "zero width": resamples differ by rounding only (slopes are O(1)).
_ZERO_WIDTH = 1e-9


@dataclass(frozen=True)
class Rate(Rule):
    """The log-log slope of ``observed`` against parameter ``param`` matches ``exponent``.

    The statistic is the least-squares slope of ``log mean_seeds(observed)`` against
    ``log param`` over the points with ``x_min <= param <= x_max`` (the declared asymptotic
    range). Its confidence interval comes from :func:`scipy.stats.bootstrap` resampling seeds
    (the same seed indices at every point, so resampling keeps each seed's whole curve).
    Parameter points differing in other parameters are fitted separately; all must pass.

    Parameters
    ----------
    observed : str
        Key of a scalar observed quantity (positive).
    param : str
        The swept parameter (e.g. ``"n"``, ``"K"``, ``"H"``).
    exponent : float
        Claimed exponent (``-0.5`` for ``n^(-1/2)``; ``0`` for "flat in H").
    tolerance : float
        Half-width of the acceptance band around ``exponent``.
    justification : str
        Required one-line reason for the tolerance.
    sided : {"two", "upper"}
        ``"two"``: CI within ``exponent ± tolerance``. ``"upper"``: CI upper end
        ``<= exponent + tolerance`` (claims of the form "grows at most like x^e").
    x_min, x_max : float or None
        Asymptotic range of ``param`` used in the fit.
    confidence : float
        Confidence level of the bootstrap interval.
    n_resamples : int
        Bootstrap resamples.
    min_change : float
        ``sided="upper"`` only: the seed-mean must change by more than this relative amount
        (``max / min - 1`` over the fit range), or a PASS becomes UNDECIDED -- a quantity that does
        not move (e.g. held at a budget cap) passes an upper rate without showing anything. The
        default 0 rejects only an exactly flat series.

    Notes
    -----
    UNDECIDED (never PASS or FAIL) on: a non-finite or censored observation in the fit range,
    fewer than 2 values of ``param`` in range, a seed-mean that is not positive, one seed, a
    bootstrap CI that is NaN; and instead of a PASS on a CI of zero width or (``sided="upper"``)
    on a quantity that does not move.
    """

    observed: str
    param: str
    exponent: float
    tolerance: float
    justification: str
    sided: str = "two"
    x_min: float | None = None
    x_max: float | None = None
    confidence: float = 0.95
    n_resamples: int = 2000
    min_change: float = 0.0
    kind = "rate"

    def __post_init__(self):
        _require_justification("Rate", self.justification)
        if not (np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"Rate.tolerance must be a positive finite number, got {self.tolerance!r}")
        if self.sided not in ("two", "upper"):
            raise ValueError(f"Rate.sided must be 'two' or 'upper', got {self.sided!r}")
        if not (0.0 < self.confidence < 1.0):
            raise ValueError(f"Rate.confidence must be in (0, 1), got {self.confidence!r}")
        if not (np.isfinite(self.min_change) and self.min_change >= 0):
            raise ValueError(f"Rate.min_change must be finite and >= 0, got {self.min_change!r}")

    def describe(self) -> str:
        band = (f"within {self.exponent:g} ± {self.tolerance:g}" if self.sided == "two"
                else f"<= {self.exponent:g} + {self.tolerance:g}")
        return (f"{self.confidence:.0%} bootstrap CI of the log-log slope of {self.observed} vs "
                f"{self.param} {band} ({self.justification})")

    def in_range(self, x: float) -> bool:
        return ((self.x_min is None or x >= self.x_min) and (self.x_max is None or x <= self.x_max))

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        if not runs:
            return RuleOutcome.undecided("no runs")
        lo_ok, hi_ok = self.exponent - self.tolerance, self.exponent + self.tolerance
        rng = np.random.default_rng(seed)
        results, summaries, passed = [], [], True
        for group_key, group in _group_by(runs, exclude=self.param).items():
            where = f" for {group_key}" if group_key != "{}" else ""
            xs = sorted({r.params[self.param] for r in group if self.in_range(r.params[self.param])})
            if len(xs) < 2:
                return RuleOutcome.undecided(f"fewer than 2 values of {self.param} in the asymptotic range{where}")
            seeds = sorted({r.seed_index for r in group})
            in_range = [r for r in group if self.in_range(r.params[self.param])]
            table = {(r.params[self.param], r.seed_index): float(_observed(r, self.observed)) for r in in_range}
            missing = [(x, s) for x in xs for s in seeds if (x, s) not in table]
            if missing:
                raise ValueError(f"Rate: missing run {self.param}={missing[0][0]}, seed {missing[0][1]}")
            censored = [r for r in in_range if np.any(_censoring(r, self.observed) != 0)]
            if censored:
                r = censored[0]
                return RuleOutcome.undecided(
                    f"{len(censored)} censored {self.observed} in the fit range{where} (first: {self.param}="
                    f"{r.params[self.param]}, seed {r.seed_index}, reported {table[(r.params[self.param], r.seed_index)]:.4g}): "
                    "a rate fitted through budget-capped values measures the cap")
            # Y[i, j] = observed for seed i at x_j.
            Y = np.array([[table[(x, s)] for x in xs] for s in seeds])
            bad = ~np.isfinite(Y)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                return RuleOutcome.undecided(f"{int(bad.sum())} non-finite {self.observed} in the fit range{where} "
                                             f"(first: {Y[i, j]!r} at {self.param}={xs[j]}, seed {seeds[i]})")
            x = np.asarray(xs, dtype=np.float64)
            mean = Y.mean(axis=0)
            if np.any(mean <= 0):
                j = int(np.argmax(mean <= 0))
                return RuleOutcome.undecided(f"mean {self.observed} = {mean[j]!r} at {self.param}={xs[j]}{where} "
                                             "is not positive: the log-log slope is undefined")
            if len(seeds) < 2:
                return RuleOutcome.undecided(f"one seed{where}: no bootstrap over seeds")
            slope = loglog_slope(x, mean)
            res = _stats().bootstrap((np.arange(len(seeds), dtype=np.float64),), _resampled_slopes(np.log(x), Y),
                                  vectorized=True, n_resamples=self.n_resamples,
                                  confidence_level=self.confidence, method="percentile", random_state=rng)
            ci = (float(res.confidence_interval.low), float(res.confidence_interval.high))
            change = float(mean.max() / mean.min() - 1.0)
            numbers = {"group": group_key, "slope": slope, "ci": list(ci), "x": xs, "n_seeds": len(seeds),
                       "relative_change": change}
            if not np.all(np.isfinite(ci)):
                return RuleOutcome.undecided(f"bootstrap CI [{ci[0]:.3g}, {ci[1]:.3g}]{where} is not finite (a "
                                             "resampled seed-mean is not positive)", {"groups": [numbers]})
            if self.sided == "two":
                ok = lo_ok <= ci[0] and ci[1] <= hi_ok
            else:
                ok = ci[1] <= hi_ok
            # A PASS the data cannot support is UNDECIDED; a FAIL on the same data stands (every seed
            # giving exactly the same slope 1 against a claimed 1/2 -- a mutant that never learns,
            # deterministically -- is a decisive rejection, not a lack of evidence).
            if ok and ci[1] - ci[0] <= _ZERO_WIDTH:
                return RuleOutcome.undecided(
                    f"bootstrap CI [{ci[0]:.3g}, {ci[1]:.3g}]{where} has zero width: every resample gives the "
                    "same slope (a constant or capped quantity, or seeds that do not reach the observation)",
                    {"groups": [numbers]})
            if ok and self.sided == "upper" and change <= self.min_change:
                return RuleOutcome.undecided(
                    f"the seed-mean of {self.observed} changes by {change:.3g} (relative) over {self.param} = "
                    f"{xs[0]:g}..{xs[-1]:g}{where}, not more than {self.min_change:g}: no evidence it moves",
                    {"groups": [numbers]})
            passed = passed and ok
            results.append({**numbers, "passed": ok})
            summaries.append(f"[{ci[0]:.3f}, {ci[1]:.3f}]")
        band = (f"within {self.exponent:g} ± {self.tolerance:g}" if self.sided == "two"
                else f"<= {self.exponent:g} + {self.tolerance:g}")
        verb = "" if passed else "NOT "
        summary = f"slope CI {', '.join(summaries)} {verb}{band}"
        return RuleOutcome(passed, summary, {"groups": results, "exponent": self.exponent,
                                             "tolerance": self.tolerance, "sided": self.sided})


@dataclass(frozen=True)
class Contraction(Rule):
    """``observed[k]`` (an error per iteration) contracts by at least ``bound(params)`` per step.

    Per run, fit ``log observed[k] = a + k log(rho)`` by least squares over iterations
    ``k_min <= k <= k_max`` whose error exceeds ``floor`` (below it, floating-point rounding
    rather than the algorithm sets the error). PASS iff every fitted ``rho`` is at most
    ``bound(params) * (1 + tolerance)``.

    Parameters
    ----------
    observed : str
        Key of a 1-D array: the error at iterations ``0, 1, 2, ...``.
    tolerance : float
        Relative slack on the claimed factor (>= 0).
    justification : str
        Required one-line reason for the tolerance.
    floor : float
        Errors at or below this are excluded from the fit.
    k_min, k_max : int or None
        Iteration range of the fit.
    """

    observed: str
    tolerance: float
    justification: str
    floor: float = 1e-12
    k_min: int = 0
    k_max: int | None = None
    kind = "contraction"

    def __post_init__(self):
        _require_justification("Contraction", self.justification)
        if not (np.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"Contraction.tolerance must be finite and >= 0, got {self.tolerance!r}")

    def describe(self) -> str:
        return (f"per-run least-squares contraction factor of {self.observed} <= claimed factor "
                f"x (1 + {self.tolerance:g}) ({self.justification})")

    def fitted_factor(self, err: np.ndarray) -> float:
        """Least-squares factor ``exp(slope of log err[k] vs k)``; NaN if < 2 usable iterations."""
        k = np.arange(err.shape[0])
        keep = (k >= self.k_min) & (err > self.floor) & np.isfinite(err)
        if self.k_max is not None:
            keep &= k <= self.k_max
        if keep.sum() < 2:
            return np.nan
        return float(np.exp(_stats().linregress(k[keep], np.log(err[keep])).slope))

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        if not runs:
            return RuleOutcome.undecided("no runs")
        worst_excess, worst, violations, factors, undecided = -np.inf, None, 0, [], []
        max_step_ratio = 0.0
        for run in sorted(runs, key=lambda r: (params_key(r.params), r.seed_index)):
            err = _observed(run, self.observed)
            if err.ndim != 1:
                raise ValueError(f"Contraction: observed {self.observed!r} must be 1-D, got shape {err.shape}")
            claimed = float(bound(run.params))
            rho = self.fitted_factor(err)
            factors.append(rho)
            if np.isnan(rho) or np.any(_censoring(run, self.observed) != 0):
                undecided.append(run)   # < 2 usable iterations (NaN fit) or censored errors: no factor
                continue
            ok = rho <= claimed * (1 + self.tolerance)
            violations += int(not ok)
            excess = (rho / claimed) if np.isfinite(rho) else np.inf
            if excess > worst_excess:
                worst_excess, worst = excess, {"params": run.params, "seed": run.seed_index,
                                               "factor": rho, "claimed": claimed}
            usable = (err[:-1] > self.floor) & np.isfinite(err[:-1]) & np.isfinite(err[1:])
            if usable.any():
                max_step_ratio = max(max_step_ratio, float(np.max(err[1:][usable] / err[:-1][usable])))
        factors = np.asarray(factors)
        if undecided:
            r = undecided[0]
            return RuleOutcome.undecided(
                f"{len(undecided)} of {len(runs)} runs have no fitted factor (fewer than 2 finite iterations above "
                f"the floor {self.floor:g}, or censored errors; first: {params_key(r.params)} seed {r.seed_index})",
                {"violations": violations, "undecided_runs": len(undecided)})
        passed = violations == 0
        summary = (f"{violations} of {len(runs)} runs contract slower than claimed; worst fitted factor "
                   f"{worst['factor']:.6g} = {worst_excess:.9g} x claimed {worst['claimed']:g} "
                   f"(allowed x {1 + self.tolerance!r})")
        return RuleOutcome(passed, summary, {
            "violations": violations, "worst": worst, "max_factor_over_claimed": worst_excess,
            "median_factor": float(np.nanmedian(factors)) if np.isfinite(factors).any() else np.nan,
            "max_step_ratio": max_step_ratio})


@dataclass(frozen=True)
class HighProbability(Rule):
    """"With probability at least 1 - delta, observed <= bound": Clopper-Pearson check.

    A run fails when any entry of ``observed`` exceeds ``bound(params)``. With ``k`` failures out
    of ``n`` runs (pooled over the grid), PASS iff the exact (Clopper-Pearson) upper confidence
    limit of the failure probability is ``<= delta``. Note the two-sided ``confidence`` interval
    of :meth:`scipy.stats.binomtest(...).proportion_ci` is used, so its upper limit is a
    one-sided ``(1 + confidence) / 2`` bound.

    Parameters
    ----------
    observed : str
    delta : float
        Claimed failure probability, in (0, 1).
    confidence : float
    per_point : bool
        Apply the test at every parameter point separately (all must pass) instead of pooling.
    """

    observed: str
    delta: float
    confidence: float = 0.95
    per_point: bool = False
    x: str | None = None
    kind = "bound"

    def __post_init__(self):
        if not (0.0 < self.delta < 1.0):
            raise ValueError(f"HighProbability.delta must be in (0, 1), got {self.delta!r}")
        if not (0.0 < self.confidence < 1.0):
            raise ValueError(f"HighProbability.confidence must be in (0, 1), got {self.confidence!r}")

    def describe(self) -> str:
        return (f"Clopper-Pearson {self.confidence:.0%} upper limit on P({self.observed} > bound) "
                f"<= delta = {self.delta:g}")

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        if not runs:
            return RuleOutcome.undecided("no runs")
        groups = (_group_by(runs, exclude=None) if self.per_point
                  else {"all": sorted(runs, key=lambda r: (params_key(r.params), r.seed_index))})
        passed, details, undecided = True, [], []

        def upper_limit(failures: int, n: int) -> float:
            return float(_stats().binomtest(failures, n).proportion_ci(confidence_level=self.confidence,
                                                                     method="exact").high)

        for key, group in groups.items():
            # A run fails for sure when an entry exceeds the bound at its best case; it may fail when
            # one does at its worst case (NaN or censored entries).
            ranges = [_excess_range(r, self.observed, np.asarray(bound(r.params), dtype=np.float64))
                      for r in group]
            failures = sum(best > 0 for best, _ in ranges)
            possible = sum(worst > 0 for _, worst in ranges)
            upper = upper_limit(failures, len(group))
            ok = upper <= self.delta
            if ok != (upper_limit(possible, len(group)) <= self.delta):
                undecided.append((key, failures, possible, len(group)))
            passed = passed and ok
            details.append({"group": key, "failures": failures, "n": len(group), "upper": upper,
                            "passed": ok, "undecided_runs": possible - failures})
        if undecided:
            key, failures, possible, n = undecided[0]
            return RuleOutcome.undecided(
                f"{failures} to {possible} of {n} runs exceed the bound{'' if key == 'all' else ' at ' + key} "
                "(NaN or censored entries), and the Clopper-Pearson test differs between the two",
                {"groups": details, "delta": self.delta})
        worst = max(details, key=lambda d: d["upper"])
        summary = (f"{worst['failures']}/{worst['n']} runs exceed the bound; Clopper-Pearson upper "
                   f"limit {worst['upper']:.3g} {'<=' if passed else '>'} delta = {self.delta:g}")
        return RuleOutcome(passed, summary, {"groups": details, "delta": self.delta,
                                             "failures": sum(d["failures"] for d in details),
                                             "n": sum(d["n"] for d in details)})


def log_factor_chord(x_min: float, x_max: float, *, power: float = 1.0, scale: float = 1.0) -> float:
    """Log-log chord slope of ``log(scale * x)^power`` between ``x_min`` and ``x_max``.

    The slope a rate picks up from a polylog factor hidden in an O~ bound, over the swept range:
    the natural base for a ``Rate`` tolerance (e.g. ``ln K`` over ``K = 50..200``: about 0.22).
    """
    ratio = math.log(scale * x_max) / math.log(scale * x_min)
    return power * math.log(ratio) / math.log(x_max / x_min)


# ---------------------------------------------------------------------------------------- Envelope
class MissingEnvelope(ValueError):
    """An :class:`EnvelopeTable` has no band for a parameter point (fit it: ``proofs-check envelope``)."""


class EnvelopeTable:
    """The fitted bands of an :class:`Envelope` rule, used as the claim's ``bound``.

    ``table(params)`` returns ``(lo, hi)`` for a parameter point of the table, and raises
    :class:`MissingEnvelope` for any other (the rule then says UNDECIDED: "not fitted").

    Parameters
    ----------
    points : sequence of (dict, float, float)
        ``(params, lo, hi)`` per parameter point; ``lo <= hi``, neither NaN (``-inf`` / ``inf``
        make a one-sided band).
    why : str
        One line: where the bands come from (runs, code version, seeds, quantiles, margin).
        ``proofs-check envelope`` writes it.
    """

    def __init__(self, points, why: str):
        if not isinstance(why, str) or not why.strip():
            raise ValueError("EnvelopeTable.why must say in one line how the bands were fitted")
        bands = {}
        for i, entry in enumerate(points):
            try:
                params, lo, hi = entry
            except (TypeError, ValueError):
                raise ValueError(f"EnvelopeTable.points[{i}] must be (params dict, lo, hi), got {entry!r}") from None
            if not isinstance(params, dict):
                raise ValueError(f"EnvelopeTable.points[{i}]: params must be a dict, got {params!r}")
            for name, v in (("lo", lo), ("hi", hi)):
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or np.isnan(v):
                    raise ValueError(f"EnvelopeTable.points[{i}] ({params_key(params)}): {name} must be a number "
                                     f"(not NaN), got {v!r}")
            if not lo <= hi:
                raise ValueError(f"EnvelopeTable.points[{i}] ({params_key(params)}): lo = {lo!r} > hi = {hi!r}")
            key = params_key(params)
            if key in bands:
                raise ValueError(f"EnvelopeTable.points[{i}]: duplicate parameter point {key}")
            bands[key] = (float(lo), float(hi))
        self.bands, self.why = bands, why

    def __call__(self, params: dict) -> tuple[float, float]:
        key = params_key(params)
        if key not in self.bands:
            raise MissingEnvelope(f"no envelope for {key} (the table has {len(self.bands)} points)")
        return self.bands[key]

    def __repr__(self) -> str:
        return f"EnvelopeTable({sorted(self.bands.items())!r}, why={self.why!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, EnvelopeTable) and self.bands == other.bands and self.why == other.why

    __hash__ = None


#: Statistics over seeds an :class:`Envelope` may use, and the per-run values it may take.
ENVELOPE_CENTERS = ("median", "mean")
ENVELOPE_ENTRIES = ("last", "max", "mean")


def _center(values: np.ndarray, how: str) -> np.ndarray:
    """Median or mean over the last axis (``-inf + inf`` in a median's middle pair gives NaN)."""
    with np.errstate(invalid="ignore"):
        return np.median(values, axis=-1) if how == "median" else np.mean(values, axis=-1)


@dataclass(frozen=True)
class Envelope(Rule):
    """Regression check: the seed statistic of ``observed`` stays in a band fitted from correct runs.

    Not a paper claim. At every parameter point, each run gives one value (``entry`` of its
    ``observed`` array: the last entry, e.g. the final cumulative regret; its maximum; or its
    mean), and the ``center`` (median or mean) over the point's seeds must lie in
    ``bound(params) = (lo, hi)``. The bands come from the correct implementation's full-budget runs
    (:func:`proofs_check.envelope.fit_envelope`): the range the quick-budget statistic takes over
    resamples of quick-many seeds, widened by a stated margin. A bug that moves the statistic by a
    constant factor (regret x 1.3) leaves the band long before it changes a rate.

    Parameters
    ----------
    observed : str
        Key of the observed array.
    justification : str
        Required one-line reason (what the band guards against; how it was fitted).
    entry : {"last", "max", "mean"}
        The value a run contributes.
    center : {"median", "mean"}
        The statistic over seeds.
    x : str or None
        Parameter drawn on the horizontal axis of the figure.

    Notes
    -----
    A NaN value is unknown; a censored one (``observed[name + ":censored"]``) is known on one side.
    The statistic is computed at the best and worst case of each; a point is inside when both are in
    ``[lo, hi]``, outside when neither interval meets it. Any point outside is a FAIL (whatever the
    others), otherwise any point in between is UNDECIDED, as is a point the table has no band for.
    """

    observed: str
    justification: str
    entry: str = "last"
    center: str = "median"
    x: str | None = None
    kind = "envelope"
    #: Labelled as a regression check (describe, report, figures), never as a paper claim.
    regression = True

    def __post_init__(self):
        _require_justification("Envelope", self.justification)
        if self.entry not in ENVELOPE_ENTRIES:
            raise ValueError(f"Envelope.entry must be one of {ENVELOPE_ENTRIES}, got {self.entry!r}")
        if self.center not in ENVELOPE_CENTERS:
            raise ValueError(f"Envelope.center must be one of {ENVELOPE_CENTERS}, got {self.center!r}")

    def describe(self) -> str:
        return (f"REGRESSION CHECK (not a paper claim): the {self.center} over seeds of the {self.entry} entry of "
                f"{self.observed} lies in the envelope fitted from the correct implementation's full-budget runs, "
                f"at every point ({self.justification})")

    def run_range(self, run: Run) -> tuple[float, float]:
        """The run's value at its best and worst case: ``(low, high)``, equal unless NaN or censored."""
        value = _observed(run, self.observed).ravel()
        marks = _censoring(run, self.observed).ravel()
        if value.size == 0:
            raise ValueError(f"Envelope: observed {self.observed!r} of run {run.variant} {params_key(run.params)} "
                             f"seed {run.seed_index} is empty")
        unknown = np.isnan(value)
        low = np.where(unknown | (marks < 0), -np.inf, value)
        high = np.where(unknown | (marks > 0), np.inf, value)
        if self.entry == "last":
            return float(low[-1]), float(high[-1])
        if self.entry == "max":
            return float(np.max(low)), float(np.max(high))
        with np.errstate(invalid="ignore"):
            lo_mean, hi_mean = float(np.mean(low)), float(np.mean(high))
        return (-np.inf if np.isnan(lo_mean) else lo_mean), (np.inf if np.isnan(hi_mean) else hi_mean)

    def statistic(self, values: np.ndarray) -> np.ndarray:
        """The ``center`` over the last axis (seeds) of per-run values, shape ``values.shape[:-1]``."""
        return _center(np.asarray(values, dtype=np.float64), self.center)

    def _band(self, bound, params) -> tuple[float, float]:
        band = bound(params)
        try:
            lo, hi = (float(b) for b in band)
        except (TypeError, ValueError):
            raise ValueError(f"Envelope: bound({params_key(params)}) must return (lo, hi), got {band!r}") from None
        if np.isnan(lo) or np.isnan(hi) or lo > hi:
            raise ValueError(f"Envelope: bound({params_key(params)}) = ({lo!r}, {hi!r}) is not a band lo <= hi")
        return lo, hi

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        if not runs:
            return RuleOutcome.undecided("no runs")
        points, missing = [], []
        for key, point_runs in _group_by(runs, exclude=None).items():
            params = point_runs[0].params
            try:
                lo, hi = self._band(bound, params)
            except MissingEnvelope:
                missing.append(key)
                continue
            ranges = np.array([self.run_range(r) for r in point_runs])
            stat_low, stat_high = float(self.statistic(ranges[:, 0])), float(self.statistic(ranges[:, 1]))
            stat_low = -np.inf if np.isnan(stat_low) else stat_low
            stat_high = np.inf if np.isnan(stat_high) else stat_high
            if lo <= stat_low and stat_high <= hi:
                inside = True
            elif stat_high < lo or stat_low > hi:
                inside = False
            else:
                inside = None
            stat = stat_low if stat_low == stat_high else float("nan")
            width = hi - lo
            position = (stat - lo) / width if np.isfinite(stat) and np.isfinite(width) and width > 0 else float("nan")
            points.append({"group": key, "statistic": stat, "statistic_range": [stat_low, stat_high],
                           "lo": lo, "hi": hi, "position": position, "inside": inside,
                           "n_seeds": len(point_runs),
                           "undecided_runs": int(np.sum(ranges[:, 0] != ranges[:, 1]))})
        outside = [p for p in points if p["inside"] is False]
        between = [p for p in points if p["inside"] is None]
        numbers = {"points": points, "outside": len(outside), "undecided_points": len(between),
                   "unfitted_points": missing, "center": self.center, "entry": self.entry}
        def where(p):
            low, high = p["statistic_range"]
            stat = f"{low:.4g}" if low == high else f"in [{low:.4g}, {high:.4g}] (NaN or censored runs)"
            return f"{stat} vs [{p['lo']:.4g}, {p['hi']:.4g}] at {p['group']}"

        if outside:
            worst = max(outside, key=lambda p: min(abs(p["statistic_range"][0] - p["hi"]),
                                                   abs(p["statistic_range"][1] - p["lo"])))
            stat = worst["statistic_range"][0] if worst["statistic_range"][0] > worst["hi"] else worst["statistic_range"][1]
            return RuleOutcome(False, f"{len(outside)} of {len(points) + len(missing)} points outside the regression "
                                      f"envelope; e.g. {self.center} {self.observed} {stat:.4g} vs "
                                      f"[{worst['lo']:.4g}, {worst['hi']:.4g}] at {worst['group']}", numbers)
        if missing:
            return RuleOutcome.undecided(
                f"no envelope for {len(missing)} of {len(points) + len(missing)} points (first: {missing[0]}): fit it "
                "from the correct implementation's full-budget runs (proofs-check envelope CLAIM --store STORE)",
                numbers)
        if between:
            p = between[0]
            return RuleOutcome.undecided(
                f"{len(between)} of {len(points)} points have NaN or censored runs that put the {self.center} on "
                f"either side of the envelope (first: {self.center} in [{p['statistic_range'][0]:.4g}, "
                f"{p['statistic_range'][1]:.4g}] vs [{p['lo']:.4g}, {p['hi']:.4g}] at {p['group']})", numbers)
        extreme = max(points, key=lambda p: abs(p["position"] - 0.5) if np.isfinite(p["position"]) else 0.0)
        return RuleOutcome(True, f"all {len(points)} points inside the regression envelope; closest to an edge: "
                                 f"{self.center} {self.observed} {where(extreme)}", numbers)
