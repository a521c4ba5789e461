"""One figure per claim: what was observed, against what was claimed, and the quantity the rule checks.

Every figure carries, above the plot, the claim id and verdict, a one-line statement, the
provenance (``paper`` or ``reconstructed``) and the rule's summary; below the plot, a caption
says what the lines, bands and markers are. The legend names every parameter setting (colour)
and every variant (line style: the claim solid, each mutant its own dashes and marker).

Layout: the top panel shows the observed quantity over the swept parameter; the bottom panel
shows, per setting and variant, exactly what the rule tests:

``BoundHolds``
    observed - bound (the largest over seeds, or the rule's quantile over seeds); passes <= 0.
``HighProbability``
    the fraction of runs exceeding the bound with its Clopper-Pearson upper limit; passes <= delta.
``Rate``
    the bootstrap confidence interval of the log-log slope against the accepted band. The top
    panel draws the seed mean (the quantity the rule fits) with the rule's least-squares line and
    the claimed exponent at its least-squares level.
``Contraction``
    each run's fitted contraction factor over the claimed one; passes <= 1 + tolerance.
``Envelope`` (a regression check, not a paper claim)
    top: the per-run values with the fitted band (grey) and the rule's statistic (median or mean over
    seeds); bottom: where the statistic lies in the band, ``(statistic - lo) / (hi - lo)``; passes
    in ``[0, 1]``.

A parameter with one value (or non-numeric values) is drawn as categories with the seeds as a
strip of points, never as a one-tick axis. Matplotlib's Agg backend: no display needed. Figures
are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import io
import json
import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .claim import params_key  # noqa: E402

#: Colours of parameter settings (no reds: red and orange are the mutants' when there is one setting).
_SETTING_COLORS = ("tab:blue", "tab:green", "tab:purple", "tab:cyan", "tab:olive", "tab:brown", "tab:pink",
                   "tab:gray", "navy", "darkgreen", "indigo", "teal")
_MUTANT_COLORS = ("tab:red", "tab:orange", "tab:brown", "tab:pink")
#: Line style and marker per variant: the claim solid with circles, mutants dashed.
_VARIANT_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), ((0, (6, 2)), "v"), ((0, (3, 1, 1, 1, 1, 1)), "D"))
#: Style of bounds and claimed references (no variant is dotted).
_REF = dict(color="black", ls=(0, (1, 1.5)), lw=1.6)
_BAND = (0.1, 0.9)


def _nan_quantiles(values: np.ndarray, qs) -> list:
    """Quantiles ``qs`` over axis 0 ignoring NaNs, numpy's default (linear) method; all-NaN -> NaN.

    One sort for every column and quantile (``np.nanquantile`` loops over columns in Python:
    it was the slowest step of drawing a contraction figure).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v.reshape(v.shape[0], -1) if v.ndim > 1 else v[:, None]
    ordered = np.sort(v, axis=0)                      # NaNs sort last
    count = np.sum(~np.isnan(v), axis=0)
    cols = np.arange(v.shape[1])
    out = []
    for q in qs:
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        frac = pos - lo
        a, b = ordered[lo, cols], ordered[hi, cols]
        with np.errstate(invalid="ignore"):
            val = np.where(frac > 0, a + (b - a) * frac, a)   # b may be inf: no 0 * inf
        out.append(np.where(count > 0, val, np.nan))
    return out


def _quantiles(values: np.ndarray, axis: int = 0):
    """Median, 10% and 90% quantiles over axis 0 (NaNs ignored; all-NaN columns give NaN)."""
    if axis != 0:
        raise ValueError(f"_quantiles reduces axis 0, got axis={axis}")
    return tuple(_nan_quantiles(values, (0.5, _BAND[0], _BAND[1])))


def _x_axis(claim) -> str:
    rule = claim.rule
    name = getattr(rule, "param", None) or getattr(rule, "x", None)
    if name:
        return name
    varying = [k for k, v in claim.sweep.full.axes.items() if len(v) > 1]
    return varying[0] if varying else next(iter(claim.sweep.quick.axes))


def _natural(params: dict):
    """Sort key of a parameter point: by name, numbers as numbers (0.5 < 0.9 < 0.99 < 2)."""
    return tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))) for k, v in sorted(params.items()))


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class _Layout:
    """Settings (parameter points without the x axis), their labels and colours; variant styles."""

    def __init__(self, result, x_name):
        self.claim = result.claim
        self.x_name = x_name
        runs = [r for v in result.runs.values() for r in v]
        settings: dict = {}
        for r in runs:
            rest = {k: v for k, v in r.params.items() if k != x_name}
            settings.setdefault(params_key(rest), rest)
        self.settings = dict(sorted(settings.items(), key=lambda kv: _natural(kv[1])))
        keys = sorted({k for s in settings.values() for k in s})
        self.varying = [k for k in keys if len({params_key({k: s.get(k)}) for s in settings.values()}) > 1]
        self.fixed = {k: next(iter(settings.values())).get(k) for k in keys if k not in self.varying}
        self.variants = [v for v in ["claim"] + [m.name for m in result.claim.mutants] if result.runs.get(v)]
        self.one_setting = len(settings) <= 1
        xs = {r.params.get(x_name) for r in runs}
        self.categorical = len(xs) < 2 or not all(isinstance(v, (int, float)) for v in xs)
        self.x_single = len(xs) == 1 and x_name in (runs[0].params if runs else {})
        if self.x_single:
            self.fixed[x_name] = next(iter(xs))

    def setting_label(self, key, sep=", ") -> str:
        s = self.settings[key]
        return sep.join(f"{k}={_fmt(s[k])}" for k in self.varying) or "single setting"

    def color(self, variant, key) -> str:
        if self.one_setting:
            if variant == "claim":
                return "tab:blue"
            return _MUTANT_COLORS[(self.variants.index(variant) - 1) % len(_MUTANT_COLORS)]
        i = list(self.settings).index(key)
        if i < len(_SETTING_COLORS):
            return _SETTING_COLORS[i]
        return plt.get_cmap("viridis")(i / max(1, len(self.settings) - 1))

    def style(self, variant):
        return _VARIANT_STYLES[self.variants.index(variant) % len(_VARIANT_STYLES)]

    def variant_name(self, variant) -> str:
        return "claim (observed)" if variant == "claim" else f"mutant: {variant}"

    def legend_handles(self, extra=()):
        handles = []
        if self.one_setting:
            for v in self.variants:
                ls, mk = self.style(v)
                handles.append(Line2D([], [], color=self.color(v, None), ls=ls, marker=mk, ms=4,
                                      label=self.variant_name(v)))
        else:
            for v in self.variants:
                ls, mk = self.style(v)
                handles.append(Line2D([], [], color="black", ls=ls, marker=mk, ms=4, label=self.variant_name(v)))
            handles.append(Line2D([], [], ls="none", label=f"colour = setting ({', '.join(self.varying)}):"))
            for key in self.settings:
                handles.append(Line2D([], [], color=self.color("claim", key), lw=6, label=self.setting_label(key)))
        return handles + list(extra)


def _runs_by_setting(runs, x_name):
    out: dict = {}
    for r in runs:
        rest = {k: v for k, v in r.params.items() if k != x_name}
        out.setdefault(params_key(rest), []).append(r)
    return out


def _by_setting(layout, runs):
    """``[(setting key, runs)]`` in the layout's (natural) order of settings."""
    grouped = _runs_by_setting(runs, layout.x_name)
    return [(k, grouped[k]) for k in layout.settings if k in grouped]


def _matrix(runs, x_name, value):
    """x values and a (n_seeds, n_x) matrix of ``value(run)`` (NaN where a run is missing)."""
    xs = sorted({r.params[x_name] for r in runs}, key=lambda v: (isinstance(v, str), v))
    seeds = sorted({r.seed_index for r in runs})
    Y = np.full((len(seeds), len(xs)), np.nan)
    for r in runs:
        Y[seeds.index(r.seed_index), xs.index(r.params[x_name])] = value(r)
    return xs, Y


def _max_entry(name):
    return lambda r: float(np.max(np.asarray(r.observed[name], dtype=np.float64)))


# ---------------------------------------------------------------------------------------- entry point
def plot_claim(result, path, *, stale: bool = False) -> Path:
    """Draw the figure of one claim to ``path`` (PNG, written atomically) and return the path.

    Parameters
    ----------
    result : proofs_check.runner.ClaimResult
        The claim, its verdict and its runs (``{variant: [Run, ...]}``).
    path : str or Path
    stale : bool
        The runs are for older code: said in the title.
    """
    # Unhinted glyphs: a fifth less drawing time for the text-heavy figures, visually the same at
    # 100 dpi. Set for this figure only, the caller's rcParams are left alone.
    with plt.rc_context({"text.hinting": "no_hinting"}):
        return _plot_claim(result, path, stale)


def _plot_claim(result, path, stale: bool) -> Path:
    from .report import atomic_write

    claim, verdict = result.claim, result.verdict
    kind = getattr(claim.rule, "kind", "bound")
    fig, (ax, ax_check) = plt.subplots(2, 1, figsize=(10, 7.6), gridspec_kw={"height_ratios": [3, 2]})
    fig.subplots_adjust(left=0.10, right=0.70, top=0.85, bottom=0.14, hspace=0.40)
    if kind == "contraction":
        layout, caption = _plot_contraction(claim, result, ax, ax_check)
    elif kind == "envelope":
        layout, caption = _plot_envelope(claim, result, ax, ax_check)
    elif kind == "rate":
        layout, caption = _plot_rate(claim, result, ax, ax_check)
    else:
        layout, caption = _plot_bound(claim, result, ax, ax_check)
    _header(fig, claim, verdict, stale, layout)
    fig.text(0.09, 0.015, "\n".join(textwrap.wrap(caption, 140)), fontsize=7, va="bottom")
    extra = [h for h in ax.get_legend_handles_labels()[0]]
    ax.legend(handles=layout.legend_handles(extra), fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, frameon=False)
    handles, labels = ax_check.get_legend_handles_labels()
    if handles:
        ax_check.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    for a in (ax, ax_check):
        a.grid(True, which="major", alpha=0.3)
        _plain_log_ticks(a)
    buffer = io.BytesIO()
    # Diverging mutants put huge values through the log transform; they are clipped by the limits.
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # zlib level 3: a third less encoding time than the default 6 for 3% larger files.
        fig.savefig(buffer, format="png", dpi=100, pil_kwargs={"compress_level": 3})
    plt.close(fig)
    return atomic_write(path, buffer.getvalue())


def _plain_log_ticks(ax) -> None:
    """Log axes: decade ticks labelled in plain text, no minor ticks.

    Mathtext tick labels (``10^{-3}``) and minor ticks were most of the drawing time.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            if not isinstance(axis.get_major_locator(), matplotlib.ticker.FixedLocator):
                axis.set_major_locator(LogLocator(base=10, numticks=8))
                axis.set_major_formatter(FuncFormatter(lambda v, _: _tick_text(v) if v >= 1e4 or v < 1e-3
                                                       else f"{v:g}"))
            axis.set_minor_locator(NullLocator())


def _header(fig, claim, verdict, stale, layout) -> None:
    from .report import KIND_COLOURS, verdict_kind

    label = verdict.label if verdict is not None else "NO RESULTS"
    title = f"{claim.id}: {label}" + ("   [STALE: runs for older code]" if stale else "")
    fig.text(0.5, 0.985, title, ha="center", va="top", fontsize=12, weight="bold",
             color=KIND_COLOURS[verdict_kind(verdict)])
    lines = [textwrap.shorten(claim.statement, 160, placeholder=" ..."),
             f"provenance: {claim.provenance.kind} | {textwrap.shorten(claim.paper.cite(), 110, placeholder=' ...')}"]
    if layout.fixed:
        lines.append(textwrap.shorten("fixed: " + ", ".join(f"{k}={_fmt(v)}" for k, v in layout.fixed.items()),
                                      160, placeholder=" ..."))
    if verdict is not None:
        lines.append("rule: " + textwrap.shorten(verdict.summary, 160, placeholder=" ..."))
    fig.text(0.5, 0.955, "\n".join(lines), ha="center", va="top", fontsize=7.5)


def _seeds_text(Y) -> str:
    return f"{Y.shape[0]} seeds"


# ---------------------------------------------------------------------------------------- bounds
def _plot_bound(claim, result, ax, ax_check):
    rule = claim.rule
    x_name = _x_axis(claim)
    layout = _Layout(result, x_name)
    obs = rule.observed
    is_hp = type(rule).__name__ == "HighProbability"
    quantile = getattr(rule, "quantile", None)
    n_seeds = 0
    all_vals, all_bounds = [], []
    xs_all = sorted({r.params[x_name] for v in layout.variants for r in result.runs[v]},
                    key=lambda v: (isinstance(v, str), v))
    cat_keys = _categories(layout, xs_all)
    for vi, variant in enumerate(layout.variants):
        ls, mk = layout.style(variant)
        for key, group in _by_setting(layout, result.runs[variant]):
            color = layout.color(variant, key)
            xs, Y = _matrix(group, x_name, _max_entry(obs))
            n_seeds = max(n_seeds, Y.shape[0])
            params_at = {r.params[x_name]: r.params for r in group}
            bounds = np.array([float(np.max(claim.bound(params_at[x]))) for x in xs])
            # The rule's statistic per point: max over entries of (observed - bound), then the
            # maximum (or the rule's quantile) over seeds.
            excess = np.full(Y.shape, np.nan)
            seeds = sorted({r.seed_index for r in group})
            for r in group:
                b = np.asarray(claim.bound(r.params), dtype=np.float64)
                excess[seeds.index(r.seed_index), xs.index(r.params[x_name])] = float(
                    np.max(np.asarray(r.observed[obs], dtype=np.float64) - b))
            if layout.categorical:
                pos = np.array([cat_keys[(key, x)] for x in xs]) + _offset(vi, len(layout.variants))
                _strip(ax, pos, Y, color, mk)
                ax.plot(pos, _quantiles(Y)[0], ls="none", marker=mk, ms=7, mfc="white", color=color)
                if variant == "claim":
                    for p, b in zip(pos, bounds):
                        ax.plot([p - 0.15, p + 0.15], [b, b], color="black", lw=2)
            else:
                x = np.asarray(xs, dtype=np.float64)
                med, lo, hi = _quantiles(np.where(np.isfinite(Y), Y, np.nan))
                ax.plot(x, med, color=color, ls=ls, marker=mk, ms=3)
                if variant == "claim" or layout.one_setting:
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15 if variant == "claim" else 0.08)
                ax.plot(x, np.nanmax(Y, axis=0), ls="none", marker="x", ms=4, color=color)
                if variant == "claim":
                    ax.plot(x, bounds, **_REF)
            all_vals.append(Y.ravel())
            if variant == "claim":
                all_bounds.append(bounds)
            if not is_hp:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    stat = (np.nanmax(excess, axis=0) if quantile is None else
                            np.array([np.quantile(c[np.isfinite(c)], quantile, method="higher")
                                      if np.isfinite(c).any() else np.nan for c in excess.T]))
                if layout.categorical:
                    ax_check.plot(pos, stat, ls="none", marker=mk, ms=6, color=color)
                else:
                    ax_check.plot(np.asarray(xs, dtype=np.float64), stat, color=color, ls=ls, marker=mk, ms=4)
    ax.plot([], [], **(_REF if not layout.categorical else dict(color="black", lw=2)), label="bound")
    if layout.categorical:
        _categorical_axis(ax, layout, cat_keys)
        what = (f"dots: each of {n_seeds} seeds; open marker: median; black bar: bound")
    else:
        _numeric_axes(ax, x_name, xs_all, np.concatenate(all_vals) if all_vals else np.array([]))
        ax.plot([], [], ls="none", marker="x", color="gray", label="max over seeds")
        what = (f"line: median over {n_seeds} seeds; band: {_BAND[0]:.0%}-{_BAND[1]:.0%} of seeds (the claim's; "
                "every variant's with one setting); x: the largest seed; dotted black: the bound")
    _ylabel(ax, claim.observed + (" (largest entry)" if _is_array(result, obs) else ""))
    if is_hp:
        _plot_failure_rates(claim, result, ax_check, layout)
        check = (f"bottom: fraction of runs above the bound, bar up to its Clopper-Pearson "
                 f"{rule.confidence:.0%} upper limit; passes when the upper limit is <= delta = {rule.delta:g}")
    else:
        ax_check.axhline(0.0, **_REF)
        scale = np.concatenate(all_bounds) if all_bounds else np.array([1.0])
        ref = float(np.nanmedian(np.abs(scale))) if scale.size else 1.0
        _symlog(ax_check, 1e-3 * ref if ref > 1e-6 else 1e-9)
        which = "largest over seeds" if quantile is None else f"{quantile:g}-quantile over seeds"
        ax_check.set_ylabel(f"observed - bound\n({which}; passes <= 0)", fontsize=8)
        if layout.categorical:
            _categorical_axis(ax_check, layout, cat_keys)
        else:
            _numeric_axes(ax_check, x_name, xs_all, None)
            ax_check.set_xlabel(x_name)
        check = (f"bottom: what the rule checks, observed - bound at each point ({which}; symmetric-log "
                 "axis); the claim passes when every point is <= 0")
    return layout, f"Top: {what}. {check}."


def _envelope_band(claim, params):
    """``(lo, hi)`` of the claim's envelope at ``params``; NaNs when the table has no band there."""
    from .rules import MissingEnvelope

    try:
        lo, hi = claim.bound(params)
        return float(lo), float(hi)
    except MissingEnvelope:
        return np.nan, np.nan


def _plot_envelope(claim, result, ax, ax_check):
    """Regression envelope: per-run values and the band on top; the statistic's place in the band below."""
    rule = claim.rule
    x_name = _x_axis(claim)
    layout = _Layout(result, x_name)
    xs_all = sorted({r.params[x_name] for v in layout.variants for r in result.runs[v]},
                    key=lambda v: (isinstance(v, str), v))
    cat_keys = _categories(layout, xs_all)
    n_seeds, all_vals = 0, []

    def value(r):
        low, high = rule.run_range(r)
        return low if low == high else np.nan

    for vi, variant in enumerate(layout.variants):
        ls, mk = layout.style(variant)
        for key, group in _by_setting(layout, result.runs[variant]):
            color = layout.color(variant, key)
            xs, Y = _matrix(group, x_name, value)
            n_seeds = max(n_seeds, Y.shape[0])
            params_at = {r.params[x_name]: r.params for r in group}
            bands = np.array([_envelope_band(claim, params_at[x]) for x in xs])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                stat = np.array([float(rule.statistic(c[np.isfinite(c)])) if np.isfinite(c).any() else np.nan
                                 for c in Y.T])
            width = bands[:, 1] - bands[:, 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                position = np.where(width > 0, (stat - bands[:, 0]) / width, np.nan)
            if layout.categorical:
                pos = np.array([cat_keys[(key, x)] for x in xs]) + _offset(vi, len(layout.variants))
                _strip(ax, pos, Y, color, mk)
                ax.plot(pos, stat, ls="none", marker=mk, ms=7, mfc="white", color=color)
                if variant == "claim":
                    base = np.array([cat_keys[(key, x)] for x in xs], dtype=np.float64)
                    for b, (lo, hi) in zip(base, bands):
                        ax.fill_between([b - 0.4, b + 0.4], [lo, lo], [hi, hi], color="0.5", alpha=0.25, lw=0)
                ax_check.plot(pos, position, ls="none", marker=mk, ms=6, color=color)
            else:
                x = np.asarray(xs, dtype=np.float64)
                _, lo_q, hi_q = _quantiles(np.where(np.isfinite(Y), Y, np.nan))
                ax.plot(x, stat, color=color, ls=ls, marker=mk, ms=3)
                if variant == "claim" or layout.one_setting:
                    ax.fill_between(x, lo_q, hi_q, color=color, alpha=0.12 if variant == "claim" else 0.06)
                if variant == "claim":
                    ax.fill_between(x, bands[:, 0], bands[:, 1], color="0.4", alpha=0.3, lw=0)
                    ax.plot(x, bands[:, 0], color="0.3", lw=0.8)
                    ax.plot(x, bands[:, 1], color="0.3", lw=0.8)
                    # A bar per point too: a band between points with no band of their own is not drawn.
                    ax.vlines(x, bands[:, 0], bands[:, 1], color="0.3", lw=5, alpha=0.35)
                ax_check.plot(x, position, color=color, ls=ls, marker=mk, ms=4)
            all_vals.append(Y.ravel())
    ax.fill_between([], [], [], color="0.4", alpha=0.3, label="regression envelope (fitted band)")
    if layout.categorical:
        _categorical_axis(ax, layout, cat_keys)
        _categorical_axis(ax_check, layout, cat_keys)
        what = (f"dots: each of {n_seeds} seeds; open marker: the {rule.center} over seeds (the statistic); "
                "grey box: the fitted envelope")
    else:
        _numeric_axes(ax, x_name, xs_all, np.concatenate(all_vals) if all_vals else np.array([]))
        _numeric_axes(ax_check, x_name, xs_all, None)
        what = (f"line: the {rule.center} over {n_seeds} seeds (the statistic); coloured band: "
                f"{_BAND[0]:.0%}-{_BAND[1]:.0%} of seeds; grey band: the fitted envelope")
    _ylabel(ax, f"{claim.observed} ({rule.entry} entry)" if _is_array(result, rule.observed) else claim.observed)
    for level in (0.0, 1.0):
        ax_check.axhline(level, **_REF)
    ax_check.axhspan(0.0, 1.0, color="0.4", alpha=0.15, lw=0)
    ax_check.set_ylabel("(statistic - lo) / (hi - lo)\n(passes in [0, 1])", fontsize=8)
    check = ("bottom: where the statistic lies in the envelope; the claim passes when every point is in [0, 1]. "
             "A REGRESSION CHECK, not a paper claim: the band was fitted from the correct implementation's "
             "full-budget runs")
    return layout, f"Top: {what}. {check}."


def _grouped_position(layout, variant, setting) -> float:
    """x of a (variant, setting) item in a bottom panel grouped by variant: settings side by side."""
    keys = list(layout.settings)
    if setting is None or len(keys) <= 1 or setting not in keys:
        return float(layout.variants.index(variant))
    width = 0.7 / len(keys)
    return layout.variants.index(variant) + (keys.index(setting) - (len(keys) - 1) / 2) * width


def _variant_ticks(ax, layout) -> None:
    names = ["claim" if v == "claim" else f"mutant:\n{v}" for v in layout.variants]
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_xlim(-0.6, len(names) - 0.4)
    for i in range(1, len(names)):
        ax.axvline(i - 0.5, color="#dddddd", lw=0.8)


def _symlog(ax, linthresh) -> None:
    """Symmetric-log axis with at most ~4 labelled decades per side (plain, no mathtext)."""
    ax.set_yscale("symlog", linthresh=linthresh)
    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    ticks = [0.0]
    for sign, end in ((1, hi), (-1, lo)):
        if sign * end <= linthresh:
            continue
        first, last = int(np.floor(np.log10(linthresh))), int(np.ceil(np.log10(abs(end))))
        step = max(1, int(np.ceil((last - first + 1) / 3)))
        ticks += [sign * 10.0 ** e for e in range(last, first - 1, -step)]
    ax.set_yticks(sorted(ticks), [_tick_text(t) for t in sorted(ticks)], fontsize=7)


def _tick_text(v) -> str:
    return "0" if v == 0 else f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("1e0", "1")


def _ylabel(ax, text) -> None:
    """Axis label wrapped to the panel height (long observed-quantity names)."""
    ax.set_ylabel("\n".join(textwrap.wrap(text, 45)[:3]), fontsize=9 if len(text) <= 45 else 8)


def _is_array(result, obs) -> bool:
    runs = result.runs.get("claim") or []
    return bool(runs) and np.asarray(runs[0].observed[obs]).size > 1


def _categories(layout, xs_all):
    """Positions of (setting, x) categories when the x axis is categorical."""
    keys = {}
    for key in layout.settings:
        for x in xs_all:
            keys[(key, x)] = len(keys)
    return keys


def _offset(vi, n_variants):
    width = 0.6 / max(1, n_variants)
    return (vi - (n_variants - 1) / 2) * width


def _strip(ax, pos, Y, color, marker):
    """Each seed's value as a point, jittered (fixed generator: figures reproduce); non-finite ones counted."""
    rng = np.random.default_rng(0)
    for j, p in enumerate(pos):
        col = Y[:, j]
        if (~np.isfinite(col)).any():
            ax.annotate(f"{int((~np.isfinite(col)).sum())} not finite", (p, 1.0), xycoords=("data", "axes fraction"),
                        fontsize=6, ha="center", va="bottom", color=color)
        col = col[np.isfinite(col)]
        ax.scatter(p + rng.uniform(-0.06, 0.06, col.size), col, s=8, color=color, alpha=0.5, marker=marker,
                   linewidths=0)


def _categorical_axis(ax, layout, cat_keys):
    labels = []
    for (key, x) in cat_keys:
        parts = [layout.setting_label(key, "\n")] if layout.varying else []
        if not layout.x_single:
            parts.append(f"{layout.x_name}={_fmt(x)}")
        labels.append("\n".join(parts) or "all runs")
    many = len(cat_keys) > 8
    ax.set_xticks(range(len(cat_keys)), labels, fontsize=6 if many else 7, rotation=40 if many else 0,
                  ha="right" if many else "center")
    ax.set_xlim(-0.6, len(cat_keys) - 0.4)
    _auto_log_y(ax)


def _numeric_axes(ax, x_name, xs, values, log_x=False):
    """Log x for a wide positive range (or ``log_x``: a log-log fit is drawn); log y for positive
    data spanning more than a decade."""
    xv = np.asarray([v for v in xs if isinstance(v, (int, float))], dtype=np.float64)
    if xv.size >= 2 and xv.min() > 0 and (log_x or xv.max() / xv.min() >= 8):
        ax.set_xscale("log")
        ax.set_xticks(xv, [_fmt(v) for v in xs], fontsize=7)
    elif xv.size >= 1:
        ax.set_xticks(xv, [_fmt(v) for v in xs], fontsize=7)
    ax.set_xlabel(x_name)
    if values is not None:
        _auto_log_y(ax, values)


def _auto_log_y(ax, values=None):
    if values is None:
        lo, hi = ax.dataLim.y0, ax.dataLim.y1
    else:
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return
        lo, hi = v.min(), v.max()
    if np.isfinite(lo) and lo > 0 and hi / lo >= 20:
        ax.set_yscale("log")


def _plot_failure_rates(claim, result, ax_check, layout):
    """Per point (or pooled): failure fraction and Clopper-Pearson upper limit, per variant, against delta."""
    rule = claim.rule
    verdict = result.verdict
    numbers = {"claim": verdict.numbers if verdict is not None else {}}
    if verdict is not None:
        numbers.update({m.name: m.numbers for m in verdict.mutants})
    groups = []
    for v in layout.variants:
        for g in numbers.get(v, {}).get("groups", []):
            if g["group"] not in groups:
                groups.append(g["group"])
    for vi, v in enumerate(layout.variants):
        ls, mk = layout.style(v)
        color = "tab:blue" if v == "claim" else _MUTANT_COLORS[(vi - 1) % len(_MUTANT_COLORS)]
        for g in numbers.get(v, {}).get("groups", []):
            p = groups.index(g["group"]) + _offset(vi, len(layout.variants))
            frac = g["failures"] / g["n"] if g["n"] else np.nan
            ax_check.plot([p, p], [frac, g["upper"]], color=color, lw=2)
            ax_check.plot(p, frac, marker=mk, color=color, ms=5,
                          label=layout.variant_name(v) if g["group"] == groups[0] else None)
            ax_check.plot(p, g["upper"], marker="_", color=color, ms=10)
    ax_check.axhline(rule.delta, **_REF, label=f"delta = {rule.delta:g}")
    labels = []
    for key in groups:
        try:
            point = json.loads(key)
            labels.append("\n".join(f"{k}={_fmt(val)}" for k, val in point.items()
                                    if k in layout.varying or (k == layout.x_name and not layout.x_single))
                          or "all runs")
        except ValueError:
            labels.append("all runs (pooled)" if key == "all" else key)
    ax_check.set_xticks(range(len(groups)), labels, fontsize=7)
    ax_check.set_xlim(-0.6, max(len(groups), 1) - 0.4)
    ax_check.set_ylim(-0.02, 1.02)
    ax_check.set_ylabel("runs above bound:\nfraction, CP upper limit", fontsize=8)


# ---------------------------------------------------------------------------------------- rates
def _plot_rate(claim, result, ax, ax_check):
    rule = claim.rule
    x_name = rule.param
    layout = _Layout(result, x_name)
    obs = rule.observed
    verdict = result.verdict
    numbers = {"claim": verdict.numbers if verdict is not None else {}}
    if verdict is not None:
        numbers.update({m.name: m.numbers for m in verdict.mutants})
    n_seeds = 0
    claim_vals = []
    ci_points = []   # (label, variant, color, marker, slope, lo, hi)
    xs_all = sorted({r.params[x_name] for v in layout.variants for r in result.runs[v]})
    for variant in layout.variants:
        ls, mk = layout.style(variant)
        fitted = {g["group"]: g for g in numbers.get(variant, {}).get("groups", [])}
        for key, group in _by_setting(layout, result.runs[variant]):
            color = layout.color(variant, key)
            xs, Y = _matrix(group, x_name, _max_entry(obs))
            n_seeds = max(n_seeds, Y.shape[0])
            x = np.asarray(xs, dtype=np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(Y, axis=0)
            _, lo, hi = _quantiles(Y)
            inside = np.array([rule.in_range(v) for v in xs])
            ax.plot(x, mean, color=color, ls=ls, lw=1.5)
            ax.plot(x[inside], mean[inside], ls="none", marker=mk, ms=4, color=color)
            ax.plot(x[~inside], mean[~inside], ls="none", marker=mk, ms=4, mfc="white", color=color)
            if variant == "claim" or layout.one_setting:
                ax.fill_between(x, lo, hi, color=color, alpha=0.15 if variant == "claim" else 0.07)
            if variant == "claim":
                claim_vals.append(Y.ravel())
            g = fitted.get(key)
            ok = inside & (mean > 0) & np.isfinite(mean)
            if g is not None and ok.sum() >= 2:
                lx, ly = np.log(x[ok]), np.log(mean[ok])
                slope = float(g["slope"])
                if variant == "claim":   # mutants' slopes are in the bottom panel
                    level = float(np.mean(ly - slope * lx))
                    ax.plot(x[ok], np.exp(level + slope * lx), color="black", ls="--", lw=1)
                    claimed_level = float(np.mean(ly - rule.exponent * lx))
                    ax.plot(x[ok], np.exp(claimed_level + rule.exponent * lx), **_REF)
                ci_points.append((key, variant, color, mk, slope, *g["ci"]))
    ax.plot([], [], color="black", ls="--", lw=1, label="least-squares line (the rule's slope)")
    ax.plot([], [], **_REF, label=f"claimed {x_name}^{rule.exponent:g}, level fitted")
    if any(not rule.in_range(v) for v in xs_all):
        ax.plot([], [], ls="none", marker="o", mfc="white", color="gray", label="outside the fitted range")
    _numeric_axes(ax, x_name, xs_all, None, log_x=True)
    if claim_vals:
        v = np.concatenate(claim_vals)
        v = v[np.isfinite(v)]
        if v.size and v.min() > 0:
            ax.set_yscale("log")
    _ylabel(ax, claim.observed)
    # Bottom: the slope CIs against the accepted band.
    lo_ok, hi_ok = rule.exponent - rule.tolerance, rule.exponent + rule.tolerance
    if rule.sided == "two":
        ax_check.axhspan(lo_ok, hi_ok, color="tab:green", alpha=0.12,
                         label=f"accepted: {rule.exponent:g} ± {rule.tolerance:g}")
    else:
        ax_check.axhline(hi_ok, color="tab:green", lw=1.5, label=f"accepted: CI top <= {hi_ok:g}")
    ax_check.axhline(rule.exponent, **_REF, label=f"claimed exponent {rule.exponent:g}")
    for setting, variant, color, mk, slope, lo, hi in ci_points:
        pos = _grouped_position(layout, variant, setting)
        ax_check.errorbar(pos, slope, yerr=[[max(slope - lo, 0)], [max(hi - slope, 0)]] if np.isfinite(lo) else None,
                          marker=mk, color=color, capsize=3, ms=5)
    _variant_ticks(ax_check, layout)
    ax_check.set_ylabel(f"log-log slope vs {x_name}\n({rule.confidence:.0%} bootstrap CI)", fontsize=8)
    caption = (f"Top: line and markers: mean over {n_seeds} seeds (the quantity the rule fits); band: "
               f"{_BAND[0]:.0%}-{_BAND[1]:.0%} of seeds; dashed: least-squares line of log mean on log {x_name} "
               "over the fitted range; dotted: the claimed exponent at its least-squares level. "
               "Bottom: what the rule checks, the fitted slope and its bootstrap CI per setting and variant; "
               "the claim passes when every CI lies in the accepted band.")
    return layout, caption


# ---------------------------------------------------------------------------------------- contraction
#: Above this many parameter settings, error curves become unreadable and the top panel shows the
#: fitted against the claimed factor, one point per run.
_MAX_CURVES = 4


def _plot_contraction(claim, result, ax, ax_check):
    rule = claim.rule
    layout = _Layout(result, x_name="\0none")   # every parameter is part of the setting
    obs = rule.observed
    n_seeds = 0
    many = len(layout.settings) > _MAX_CURVES
    claim_err = []
    strip = []   # (label, variant, color, marker, ratios)
    for variant in layout.variants:
        ls, mk = layout.style(variant)
        for key, group in _by_setting(layout, result.runs[variant]):
            color = layout.color(variant, key) if not many else (
                "tab:blue" if variant == "claim" else _MUTANT_COLORS[(layout.variants.index(variant) - 1) % 4])
            n_seeds = max(n_seeds, len(group))
            claimed = float(claim.bound(group[0].params))
            ratios = np.array([rule.fitted_factor(np.asarray(r.observed[obs], dtype=np.float64)) for r in group])
            ratios = ratios / claimed
            if not many:
                strip.append((key, variant, color, mk, ratios))
                curves = [np.asarray(r.observed[obs], dtype=np.float64) for r in group]
                length = max(len(c) for c in curves)
                E = np.full((len(curves), length), np.nan)
                for i, c in enumerate(curves):
                    E[i, :len(c)] = np.where((c > rule.floor) & np.isfinite(c), c, np.nan)
                k = np.arange(length, dtype=np.float64)
                med, lo, hi = _quantiles(E)
                ax.plot(k, med, color=color, ls=ls, lw=1.5)
                if variant == "claim" or layout.one_setting:
                    ax.fill_between(k, lo, hi, color=color, alpha=0.15 if variant == "claim" else 0.07)
                if variant == "claim":
                    with np.errstate(over="ignore", under="ignore"):
                        ref = _quantiles(E[:, :1] * claimed ** k[None, :])[0]
                    ax.plot(k, ref, **_REF)
                    claim_err.append(E.ravel())
            else:
                fitted = ratios * claimed
                ok = np.isfinite(fitted)
                ax.scatter(np.full(ok.sum(), claimed), fitted[ok], s=12, color=color, alpha=0.6,
                           marker=mk)
                strip.append((None, variant, color, mk, ratios))
    if many:
        # Pool per variant in the strip: one column per variant.
        pooled: dict = {}
        for _, variant, color, mk, ratios in strip:
            pooled.setdefault(variant, [None, variant, color, mk, []])[4].append(ratios)
        strip = [(s, v, c, m, np.concatenate(r)) for s, v, c, m, r in pooled.values()]
        lo_hi = [float(claim.bound(r.params)) for r in result.runs.get("claim", [])]
        if lo_hi:
            line = np.linspace(min(lo_hi), max(lo_hi), 2)
            ax.plot(line, line * (1 + rule.tolerance), **_REF, label="claimed factor (passes below)")
        ax.set_xlabel("claimed factor per iteration")
        _ylabel(ax, f"fitted factor of {claim.observed}")
        layout.one_setting = True   # colours are per variant here
        what = f"each point one run ({n_seeds} seeds per setting, {len(layout.settings)} settings)"
    else:
        ax.plot([], [], **_REF, label="claimed factor^k x error_0 (median)")
        ax.set_yscale("log")
        if claim_err:
            v = np.concatenate(claim_err)
            v = v[np.isfinite(v) & (v > 0)]
            if v.size:
                ax.set_ylim(v.min() * 0.1, v.max() * 1e3)
        ax.set_xlabel("iteration k")
        _ylabel(ax, claim.observed)
        what = (f"line: median over {n_seeds} seeds; band: {_BAND[0]:.0%}-{_BAND[1]:.0%} of seeds; errors at or "
                f"below {rule.floor:g} (rounding) are not drawn nor fitted")
    rng = np.random.default_rng(0)
    width = 0.7 / max(1, len(layout.settings)) if not many else 0.5
    for setting, variant, color, mk, ratios in strip:
        pos = _grouped_position(layout, variant, setting)
        r = ratios[np.isfinite(ratios)]
        over = r > 1 + rule.tolerance
        jitter = pos + rng.uniform(-width / 4, width / 4, r.size)
        ax_check.scatter(jitter[~over], r[~over], s=10, color=color, marker=mk, alpha=0.6, linewidths=0)
        ax_check.scatter(jitter[over], r[over], s=28, color=color, marker=mk, edgecolors="black", linewidths=0.8)
        if (~np.isfinite(ratios)).any():   # no fitted factor (e.g. diverged): a violation the strip cannot place
            ax_check.annotate(f"{int((~np.isfinite(ratios)).sum())} not fitted", (pos, 1 + rule.tolerance),
                              fontsize=6, ha="center", va="bottom", color=color)
        if r.size:
            ax_check.plot([pos - width / 2.5, pos + width / 2.5], [np.median(r)] * 2, color=color, lw=2)
    ax_check.axhline(1 + rule.tolerance, **_REF, label=f"claimed x (1 + {rule.tolerance:g}): passes below")
    _variant_ticks(ax_check, layout)
    _auto_log_y(ax_check)
    ax_check.set_ylabel("fitted factor / claimed\n(one point per run)", fontsize=8)
    caption = (f"Top: {what}. Bottom: what the rule checks, each run's least-squares contraction factor over "
               "the claimed one (bar: median; black edge: above the line); the claim passes when every run is "
               "below the dotted line.")
    return layout, caption
