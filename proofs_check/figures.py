"""One figure per claim: observed (median, 10-90% band over seeds) against the bound, mutants alike.

Layout: the top panel shows the observed quantity and the bound curve; the bottom panel shows
the ratio observed / bound, in which a bound that holds (or a rate that matches) is a flat line.
Mutants are drawn on the same axes, dashed, in warm colours. Rate claims use log-log axes and
contraction claims a log error axis. Matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .claim import params_key  # noqa: E402

_CLAIM_COLORS = ("tab:blue", "tab:green", "tab:purple", "tab:cyan", "tab:olive")
_MUTANT_COLORS = ("tab:red", "tab:orange", "tab:brown", "tab:pink")


def _quantiles(values: np.ndarray, axis: int = 0):
    """Median, 10% and 90% quantiles along ``axis`` (NaNs ignored; all-NaN columns give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.nanmedian(values, axis=axis), np.nanquantile(values, 0.1, axis=axis),
                np.nanquantile(values, 0.9, axis=axis))


def _x_axis(claim) -> str:
    rule = claim.rule
    name = getattr(rule, "param", None) or getattr(rule, "x", None)
    if name:
        return name
    axes = claim.sweep.quick.axes
    varying = [k for k, v in claim.sweep.full.axes.items() if len(v) > 1]
    return varying[0] if varying else next(iter(axes))


def _groups(runs, exclude):
    out = {}
    for r in runs:
        rest = {k: v for k, v in r.params.items() if k != exclude}
        out.setdefault(params_key(rest), []).append(r)
    return out


def _curve_by_x(runs, x_name, value):
    """x values and a (n_seeds, n_x) matrix of ``value(run)`` (NaN where a run is missing)."""
    xs = sorted({r.params[x_name] for r in runs})
    seeds = sorted({r.seed_index for r in runs})
    Y = np.full((len(seeds), len(xs)), np.nan)
    for r in runs:
        Y[seeds.index(r.seed_index), xs.index(r.params[x_name])] = value(r)
    return np.asarray(xs, dtype=np.float64), Y


def _draw_band(ax, x, Y, color, label, dashed):
    Y = np.where(np.isfinite(Y), Y, np.nan)   # diverging mutants: draw up to overflow, no further
    med, lo, hi = _quantiles(Y)
    ax.plot(x, med, color=color, ls="--" if dashed else "-", marker="o" if not dashed else "s", ms=3,
            label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.15 if not dashed else 0.1)
    return med


def _limit_to_claim(ax, claim_values, above=1e3, below=1e-1):
    """Keep the claim's data readable: mutants far outside it leave the frame instead of squashing it."""
    v = np.asarray(claim_values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        ax.set_ylim(v.min() * below, v.max() * above)


def _variants(result):
    out = [("claim", result.runs.get("claim", []), _CLAIM_COLORS, False)]
    for i, m in enumerate(result.claim.mutants):
        out.append((m.name, result.runs.get(m.name, []), (_MUTANT_COLORS[i % len(_MUTANT_COLORS)],), True))
    return out


def plot_claim(result, path) -> Path:
    """Draw the figure of one claim to ``path`` (PNG) and return the path.

    Parameters
    ----------
    result : proofs_check.runner.ClaimResult
    path : str or Path
    """
    claim, verdict = result.claim, result.verdict
    kind = getattr(claim.rule, "kind", "bound")
    many_settings = kind == "contraction" and len(_groups(result.runs.get("claim", []), None)) > _MAX_CURVES
    fig, (ax, ax_ratio) = plt.subplots(2, 1, figsize=(7, 7), sharex=not many_settings,
                                       gridspec_kw={"height_ratios": [2, 1]})
    if many_settings:
        _plot_contraction_factors(claim, result, ax, ax_ratio)
    elif kind == "contraction":
        _plot_contraction(claim, result, ax, ax_ratio)
    else:
        _plot_against_param(claim, result, ax, ax_ratio, kind)
    label = verdict.label if verdict is not None else "NO RESULTS"
    fig.suptitle(f"{claim.id}: {label}", fontsize=12)
    if verdict is not None:
        ax.set_title(textwrap.shorten(verdict.summary, 300), fontsize=7, wrap=True)
    ax.legend(fontsize=7, loc="best")
    ax_ratio.grid(True, which="both", alpha=0.3)
    ax.grid(True, which="both", alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Diverging mutants put huge values through the log transform; they are clipped by the limits.
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # tight_layout with long wrapped titles
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_against_param(claim, result, ax, ax_ratio, kind):
    x_name = _x_axis(claim)
    obs = claim.rule.observed
    # A bound of (about) zero, e.g. "gap - certificate <= 1e-9", makes a ratio meaningless:
    # the lower panel then shows the excess observed - bound, which passes below 0.
    claim_runs = result.runs.get("claim", [])
    use_excess = kind != "rate" and bool(claim_runs) and \
        float(np.max(np.abs(claim.bound(claim_runs[0].params)))) < 1e-6
    for variant, runs, colors, dashed in _variants(result):
        if not runs:
            continue
        groups = sorted(_groups(runs, x_name).items())
        for gi, (gkey, group) in enumerate(groups):
            color = colors[gi % len(colors)]
            # One legend entry per variant (many settings would bury the plot under the legend).
            suffix = (f" ({len(groups)} settings of {', '.join(k for k in group[0].params if k != x_name)})"
                      if len(groups) > 1 else "")
            x, Y = _curve_by_x(group, x_name, lambda r: float(np.max(r.observed[obs])))
            params_at = {r.params[x_name]: r.params for r in group}
            bound = np.array([float(np.max(claim.bound(params_at[xi]))) for xi in x])
            if kind == "rate":
                # Anchor the rate curve at the first point: only its shape is claimed.
                med0 = _quantiles(Y[:, :1])[0][0]
                bound = bound * (med0 / bound[0])
            label = ("observed" if variant == "claim" else f"mutant: {variant}") + suffix if gi == 0 else None
            _draw_band(ax, x, Y, color, label, dashed)
            if variant == "claim":
                ax.plot(x, bound, color="black", ls=":", lw=1.5,
                        label=("claimed rate (anchored)" if kind == "rate" else "bound") if gi == 0 else None)
            _draw_band(ax_ratio, x, Y - bound[None, :] if use_excess else Y / bound[None, :], color, None, dashed)
    positive = all(np.all(np.asarray(r.observed[obs]) > 0) for r in result.runs.get("claim", []))
    x_vals = [v for v in claim.sweep.full.axes.get(x_name, (1,)) if isinstance(v, (int, float))]
    wide = len(x_vals) > 1 and min(x_vals) > 0 and max(x_vals) / min(x_vals) >= 8
    if kind == "rate" or wide:
        ax.set_xscale("log")
    if kind == "rate" or positive:
        ax.set_yscale("log")
    ax.set_ylabel(claim.observed)
    ax_ratio.set_xlabel(x_name)
    if use_excess:
        ax_ratio.axhline(0.0, color="black", ls=":", lw=1)
        ax_ratio.set_yscale("symlog", linthresh=1e-6)
        ax_ratio.set_ylabel("observed - bound")
        return
    ax_ratio.axhline(1.0, color="black", ls=":", lw=1)
    ax_ratio.set_yscale("log")
    ax_ratio.set_ylabel("observed / rate" if kind == "rate" else "observed / bound")


#: Above this many parameter settings, error curves become unreadable and a contraction claim is
#: drawn as fitted versus claimed factor, one point per run.
_MAX_CURVES = 4


def _plot_contraction_factors(claim, result, ax, ax_ratio):
    """Fitted per-run contraction factor against the claimed one (points below the diagonal pass)."""
    rule = claim.rule
    variants = [(v, runs, colors, dashed) for v, runs, colors, dashed in _variants(result) if runs]
    lo, hi = np.inf, -np.inf
    for vi, (variant, runs, colors, dashed) in enumerate(variants):
        claimed = np.array([float(claim.bound(r.params)) for r in runs])
        fitted = np.array([rule.fitted_factor(np.asarray(r.observed[rule.observed], dtype=np.float64))
                           for r in runs])
        ok = np.isfinite(fitted) & np.isfinite(claimed)
        label = "observed" if variant == "claim" else f"mutant: {variant}"
        ax.scatter(claimed[ok], fitted[ok], s=12, color=colors[0], marker="s" if dashed else "o",
                   alpha=0.6, label=f"{label} ({ok.sum()} runs)")
        ratio = fitted[ok] / claimed[ok]
        jitter = np.random.default_rng(vi).uniform(-0.15, 0.15, ratio.size)   # fixed: figures reproduce
        ax_ratio.scatter(vi + jitter, ratio, s=8, color=colors[0], alpha=0.6)
        if ok.any():
            lo, hi = min(lo, claimed[ok].min()), max(hi, claimed[ok].max())
    if np.isfinite(lo):
        line = np.linspace(lo, hi, 2)
        ax.plot(line, line * (1 + rule.tolerance), color="black", ls=":", lw=1.5,
                label="claimed factor (pass below)")
        ax.set_ylim(min(lo, ax.get_ylim()[0]), min(ax.get_ylim()[1], 2 * hi))
    ax.set_xlabel("claimed factor per iteration")
    ax.set_ylabel(f"fitted factor of {claim.observed}")
    ax_ratio.axhline(1.0 + rule.tolerance, color="black", ls=":", lw=1)
    ax_ratio.set_xticks(range(len(variants)), [v[0] for v in variants], fontsize=8)
    ax_ratio.set_ylabel("fitted / claimed")


def _plot_contraction(claim, result, ax, ax_ratio):
    obs = claim.rule.observed
    claim_err, claim_ratio = [], []
    for variant, runs, colors, dashed in _variants(result):
        if not runs:
            continue
        groups = sorted(_groups(runs, None).items())
        for gi, (gkey, group) in enumerate(groups):
            color = colors[gi % len(colors)]
            curves = [np.asarray(r.observed[obs], dtype=np.float64) for r in group]
            length = max(len(c) for c in curves)
            E = np.full((len(curves), length), np.nan)
            for i, c in enumerate(curves):
                E[i, :len(c)] = np.where((c > claim.rule.floor) & np.isfinite(c), c, np.nan)
            k = np.arange(length, dtype=np.float64)
            factor = float(claim.bound(group[0].params))
            ref = E[:, :1] * factor ** k[None, :]          # gamma^k ||V_0 - V*|| per run
            suffix = f" ({len(groups)} settings)" if len(groups) > 1 else ""
            label = ("observed" if variant == "claim" else f"mutant: {variant}") + suffix if gi == 0 else None
            _draw_band(ax, k, E, color, label, dashed)
            if variant == "claim":
                ax.plot(k, _quantiles(ref)[0], color="black", ls=":", lw=1.5,
                        label="claimed factor^k x error_0" if gi == 0 else None)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                _draw_band(ax_ratio, k, E / ref, color, None, dashed)
            if variant == "claim":
                claim_err.append(E)
                with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                    claim_ratio.append(E / ref)
    ax.set_yscale("log")
    ax_ratio.set_yscale("log")
    ax_ratio.axhline(1.0, color="black", ls=":", lw=1)
    if claim_err:
        _limit_to_claim(ax, np.concatenate([e.ravel() for e in claim_err]))
        _limit_to_claim(ax_ratio, np.r_[1.0, np.concatenate([r.ravel() for r in claim_ratio])], below=0.3,
                        above=30)
    ax.set_ylabel(claim.observed)
    ax_ratio.set_ylabel("error / (factor^k error_0)")
    ax_ratio.set_xlabel("iteration k")
