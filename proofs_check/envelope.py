"""Fit regression envelopes (:class:`~proofs_check.rules.Envelope`) from full-budget runs.

An envelope is the range in which a quick-budget statistic (e.g. the median over 8 seeds of the
final cumulative regret) falls when the implementation is correct. It is fitted from the correct
implementation's stored *full-budget* runs, per parameter point of the claim's quick grid:

1. the per-run values ``v_1..v_n`` (``n`` full-budget seeds) are taken as the distribution of one
   quick run;
2. ``n_resamples`` bootstrap samples of ``seeds_quick`` values (with replacement) give the
   distribution of the quick statistic; its ``tail`` and ``1 - tail`` quantiles (default 0.1% and
   99.9%) are the raw band;
3. the band's width is widened by ``margin`` (default 25%: each end moves out by 12.5% of the
   width), and each end lies at least ``min_half_width * max(1, |statistic|)`` from the full-budget
   statistic (default 1e-9: a deterministic quantity gets a pin, not a zero-width band that
   rounding breaks).

The quick runs of seed indices ``0..seeds_quick-1`` are, at points common to both grids, among the
full runs; the band nevertheless covers *any* quick-many seeds, so a change that only reorders
random draws (same distribution) stays inside it, while a bug that moves the statistic by more
than the band's half-width fails. :func:`envelope_source` prints the bands as Python to paste into a
claims module (``proofs-check envelope CLAIM --store STORE``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .claim import params_key
from .rules import Envelope


@dataclass(frozen=True)
class EnvelopeFit:
    """The fitted band at one parameter point.

    Attributes
    ----------
    params : dict
    lo, hi : float
        The band (raw quantile range widened by the margin).
    raw : tuple of float
        The ``tail`` / ``1 - tail`` quantiles of the bootstrapped quick statistic.
    full_statistic : float
        The statistic over all full-budget seeds (the band's reference).
    n_full : int
        Full-budget runs the band was fitted from.
    """

    params: dict
    lo: float
    hi: float
    raw: tuple
    full_statistic: float
    n_full: int


def fit_envelope(rule: Envelope, runs, points, seeds_quick: int, *, n_resamples: int = 20000,
                 tail: float = 0.001, margin: float = 0.25, min_half_width: float = 1e-9,
                 seed: int = 0) -> list[EnvelopeFit]:
    """Bands for ``rule`` at ``points`` from the correct implementation's (full-budget) ``runs``.

    Parameters
    ----------
    rule : Envelope
        Which value per run (``entry``) and which statistic over seeds (``center``).
    runs : sequence of Run
        The correct implementation's runs (any seeds); every point of ``points`` needs at least 2.
    points : sequence of dict
        Parameter points to fit (the claim's quick grid).
    seeds_quick : int
        Seeds the quick statistic is taken over.
    n_resamples : int
        Bootstrap resamples per point.
    tail : float
        Quantile of each end of the raw band, in (0, 0.5).
    margin : float
        Relative widening of the raw band's width (>= 0): each end moves out by ``margin / 2`` times
        the width.
    min_half_width : float
        Least half-width of the band, relative to ``max(1, |full statistic|)``.
    seed : int
        Seed of the resampling (the fit is reproducible).

    Returns
    -------
    list of EnvelopeFit
        One per point, in the order of ``points``.

    Raises
    ------
    ValueError
        A point with fewer than 2 runs, or a run with a NaN or censored value (a band fitted from
        values that are not known is not a band).
    """
    if not isinstance(rule, Envelope):
        raise TypeError(f"fit_envelope: rule must be an Envelope, got {type(rule).__name__}")
    if isinstance(seeds_quick, bool) or not isinstance(seeds_quick, (int, np.integer)) or seeds_quick < 1:
        raise ValueError(f"fit_envelope: seeds_quick must be an integer >= 1, got {seeds_quick!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ValueError(f"fit_envelope: n_resamples must be an integer >= 100, got {n_resamples!r}")
    if not 0.0 < tail < 0.5:
        raise ValueError(f"fit_envelope: tail must be in (0, 0.5), got {tail!r}")
    if not (np.isfinite(margin) and margin >= 0):
        raise ValueError(f"fit_envelope: margin must be finite and >= 0, got {margin!r}")
    if not (np.isfinite(min_half_width) and min_half_width >= 0):
        raise ValueError(f"fit_envelope: min_half_width must be finite and >= 0, got {min_half_width!r}")
    by_point: dict = {}
    for run in runs:
        by_point.setdefault(params_key(run.params), []).append(run)
    rng = np.random.default_rng(seed)
    fits = []
    for params in points:
        key = params_key(params)
        point_runs = sorted(by_point.get(key, []), key=lambda r: r.seed_index)
        if len(point_runs) < 2:
            raise ValueError(f"fit_envelope: {len(point_runs)} runs at {key}; need >= 2 full-budget runs per point "
                             "of the quick grid (is the point in the full grid, and the store's full budget run?)")
        ranges = np.array([rule.run_range(r) for r in point_runs])
        unknown = np.flatnonzero(ranges[:, 0] != ranges[:, 1])
        if unknown.size:
            r = point_runs[int(unknown[0])]
            raise ValueError(f"fit_envelope: {unknown.size} runs at {key} have a NaN or censored {rule.observed} "
                             f"(first: seed {r.seed_index}); the band needs known values")
        values = ranges[:, 0]
        idx = rng.integers(0, len(values), size=(n_resamples, seeds_quick))
        stats = rule.statistic(values[idx])
        raw_lo, raw_hi = (float(q) for q in np.quantile(stats, [tail, 1.0 - tail]))
        full = float(rule.statistic(values))
        widen = max(0.5 * margin * (raw_hi - raw_lo), 0.0)
        lo, hi = raw_lo - widen, raw_hi + widen
        least = min_half_width * max(1.0, abs(full))
        lo, hi = min(lo, full - least), max(hi, full + least)
        fits.append(EnvelopeFit(dict(params), lo, hi, (raw_lo, raw_hi), full, len(values)))
    return fits


def fit_why(rule: Envelope, *, source: str, version: str, n_full: int, seeds_quick: int, n_resamples: int,
            tail: float, margin: float) -> str:
    """The one-line provenance of a fitted table (``EnvelopeTable.why``)."""
    return (f"{rule.center} over {seeds_quick} seeds of the {rule.entry} {rule.observed}: {tail:.2%}-{1 - tail:.2%} "
            f"quantiles of {n_resamples} bootstrap resamples of {seeds_quick} from {n_full} full-budget runs of "
            f"{source} (code version {version}), band width widened by {margin:.0%}")


def envelope_source(name: str, fits, why: str) -> str:
    """Python source of an :class:`~proofs_check.rules.EnvelopeTable` holding ``fits``, to paste into a
    claims module (``from proofs_check.rules import EnvelopeTable``)."""
    import textwrap

    lines = ["# Regression envelope (not a paper claim), written by `proofs-check envelope`.",
             "# Per point: the full-budget statistic and the raw band; refit after an intended change of behaviour.",
             f"{name} = EnvelopeTable(", "    ["]
    for f in fits:
        params = json.dumps(f.params, sort_keys=True)
        lines.append(f"        # full {f.full_statistic:.6g} (n={f.n_full}); raw [{f.raw[0]:.6g}, {f.raw[1]:.6g}]")
        lines.append(f"        ({params}, {f.lo!r}, {f.hi!r}),")
    pieces = textwrap.wrap(why, 90, drop_whitespace=False) or [why]
    lines += ["    ],", "    why=(" + "\n         ".join(repr(piece) for piece in pieces) + "),", ")"]
    return "\n".join(lines) + "\n"


def fit_from_store(claim, store, *, source=None, n_resamples: int = 20000, tail: float = 0.001,
                   margin: float = 0.25, seed: int = 0, name: str | None = None) -> tuple[str, list]:
    """``(python source, fits)`` of the envelope of ``claim`` from the stored full-budget runs.

    Parameters
    ----------
    claim : Claim
        Its rule must be an :class:`~proofs_check.rules.Envelope`; the bands are fitted at its quick
        grid for its ``seeds_quick``.
    store : ResultStore
    source : Claim, optional
        The claim whose full-budget runs (variant ``"claim"``) are used; default ``claim`` itself
        (e.g. a family's regret claim, when the envelope claim observes the same experiment).
        Runs of its current code version if complete, else of the most recent complete version
        (named in ``why``).
    n_resamples, tail, margin, seed
        See :func:`fit_envelope`.
    name : str, optional
        Python name of the table (default from the claim id).

    Raises
    ------
    ValueError
        The rule is not an Envelope, or the store has no complete full-budget runs of ``source``.
    """
    from .report import _choose_runs, _load_runs, _run_index
    from .runner import code_version

    if not isinstance(claim.rule, Envelope):
        raise ValueError(f"claim {claim.id}: its rule is {type(claim.rule).__name__}, not an Envelope; declare it "
                         "with rule=Envelope(...) and bound=EnvelopeTable([], why='not fitted yet') first")
    source = claim if source is None else source
    status, version, digests, missing, expected = _choose_runs(source, _run_index(store, source.id), "full",
                                                               code_version(source))
    if status not in ("current", "stale"):
        raise ValueError(f"no complete full-budget runs of {source.id} in the store ({missing} of {expected} "
                         f"missing for the current code); run `proofs-check run {source.id} --full --out STORE` first")
    claim_digests = {k: v for k, v in digests.items() if k[0] == "claim"}
    runs, corrupt = _load_runs(source, store, claim_digests, version)
    if corrupt:
        raise ValueError(f"{len(corrupt)} stored full-budget runs of {source.id} are corrupt; rerun them")
    seeds_quick = claim.sweep.seeds_quick
    fits = fit_envelope(claim.rule, runs["claim"], claim.sweep.quick.points(), seeds_quick,
                        n_resamples=n_resamples, tail=tail, margin=margin, seed=seed)
    why = fit_why(claim.rule, source=source.id + ("" if status == "current" else " (stale: older code)"),
                  version=version, n_full=min(f.n_full for f in fits), seeds_quick=seeds_quick,
                  n_resamples=n_resamples, tail=tail, margin=margin)
    short = claim.id.split(".", 1)[1].upper()
    name = name or (short if short.endswith("ENVELOPE") else short + "_ENVELOPE")
    return envelope_source(name, fits, why), fits
