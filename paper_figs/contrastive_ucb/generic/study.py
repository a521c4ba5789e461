"""Contrastive UCB on generic low-rank MDPs: online span recovery, measured (issue 12, item 9).

Runs :func:`mdpkit.algorithms.contrastive_ucb.run` on instance draws of
:func:`mdpkit.envs.lowrank.generic_lowrank_mdp` and reads, after the fits of episodes 250, 500,
1000, 2000 (and 5000 where run), per stage on the visited pairs with count weights
(:mod:`mdpkit.lowrank_metrics`): the learned span's largest principal angle and sqrt(mean sin^2)
against the true span; the same for random features (mean of 16 draws), for the rank-d SVD of the
visit-count kernel, and for per-anchor maximum-likelihood features given the TRUE psi (an
oracle reference); the spectral signal-to-noise ratio of the counts; the count-weighted mean TV of
the learner's model, of the count estimate and of one pooled next-state distribution.

Usage (from the repository root; ~10-15 min on 2 shared cores)::

    python paper_figs/contrastive_ucb/generic/study.py [--workers 2] [--quick]

Writes ``results.json``, ``table.md`` and ``recovery.png`` next to this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHECKPOINTS = (250, 500, 1000, 2000, 5000)

#: (label, S, A, H, d, K, instance draws, run keyword arguments)
CONFIGS = [
    ("d3_S40", 40, 4, 3, 3, 2000, (0, 1, 2, 3), {}),
    ("d3_S40_m8", 40, 4, 3, 3, 2000, (0, 1, 2, 3), {"n_negatives": 8}),
    ("d3_S40_warm_only", 40, 4, 3, 3, 2000, (0, 1), {"cold_refits": False}),
    ("d3_S40_stratified", 40, 4, 3, 3, 2000, (0, 1), {"negatives": "stratified"}),
    ("d2_S40", 40, 4, 3, 2, 2000, (0, 1), {}),
    ("d5_S40", 40, 4, 3, 5, 2000, (0, 1), {}),
    ("d3_S20", 20, 4, 3, 3, 2000, (0, 1), {}),
    ("d3_S60", 60, 4, 3, 3, 2000, (0, 1), {}),
    ("d3_S40_K5000", 40, 4, 3, 3, 5000, (0,), {}),
]
QUICK = [("d3_S40", 40, 4, 3, 3, 500, (0,), {}), ("d3_S40_m8", 40, 4, 3, 3, 500, (0,), {"n_negatives": 8})]
KEYS = ("learned_angle", "random_angle", "svd_angle", "oracle_angle", "learned_rms", "random_rms", "svd_rms",
        "oracle_rms", "snr", "learned_tv", "count_tv", "marginal_tv")


def _record_stratified(explorer, h, x, s_next):
    """``_Explorer._record`` with one negative at EVERY state instead of ``m = S`` uniform draws.

    Reconstructed (a measurement, not the library's behaviour): for uniform ``P^-`` this is the
    exact expectation of the negative term of ``m = S`` sampled negatives (the run is called with
    ``n_negatives = S``, so the learner's ``log m`` correction matches), i.e. negatives without
    sampling noise. Mirrors the library's ``_record`` otherwise.
    """
    negatives = np.arange(explorer.S)
    explorer.learner.add(h, x, s_next, 1)
    explorer.learner.add(h, x, negatives, 0)
    explorer.log.append((h, x, s_next, 1))
    explorer.log.extend((h, x, int(t), 0) for t in negatives)
    explorer.anchor_counts[h, x] += 1
    explorer.next_counts[h, x, s_next] += 1
    explorer.new_anchors.append((h, x))


def one_run(job):
    from unittest import mock

    from mdpkit.algorithms import contrastive_ucb
    from mdpkit.envs.lowrank import generic_lowrank_mdp
    from proofs_check.claims._contrastive_generic import online_snapshots, snapshot_metrics

    label, S, A, H, d, K, instance, kwargs = job
    mdp = generic_lowrank_mdp(S, A, H, d, seed=instance)
    run_kwargs = dict(kwargs)
    stratified = run_kwargs.pop("negatives", "sampled") == "stratified"
    if stratified:
        run_kwargs["n_negatives"] = S
    patch = (mock.patch.object(contrastive_ucb._Explorer, "_record", _record_stratified) if stratified
             else contextlib.nullcontext())
    start = time.perf_counter()
    with patch:
        snaps, res = online_snapshots(mdp, K=K, seed=1000 + instance,
                                      checkpoints=[k for k in CHECKPOINTS if k <= K], **run_kwargs)
    wall = time.perf_counter() - start
    rows = []
    for snap in snaps:
        m = snapshot_metrics(mdp, snap, np.random.default_rng([instance, snap["k"]]), diagnostics=True)
        rows.append({"k": snap["k"], **{key: [None if not np.isfinite(v) else float(v) for v in m[key]]
                                         for key in KEYS + ("n_rows",)}})
    return {"label": label, "S": S, "A": A, "H": H, "d": d, "K": K, "instance": instance, "kwargs": kwargs,
            "wall_s": wall, "cold_refit_wins": int(res.extras["cold_refit_wins"]), "snapshots": rows}


def _mean(values):
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else float("nan")


def table(results) -> str:
    """Markdown table: per config and checkpoint, stage-means over draws (finite stages only)."""
    lines = ["| config | k | draws | learned angle | random | count SVD | oracle-psi MLE | learned rms sin | "
             "random | SVD | oracle | SNR | TV learned | TV counts | TV pooled | margin > 0.3 rad | wall s |",
             "|" + "---|" * 17]
    labels = list(dict.fromkeys(r["label"] for r in results))
    for label in labels:
        runs = [r for r in results if r["label"] == label]
        for k in sorted({s["k"] for r in runs for s in r["snapshots"]}):
            snaps = [s for r in runs for s in r["snapshots"] if s["k"] == k]
            per_draw = {key: [_mean(s[key]) for s in snaps] for key in KEYS}
            margins = [_mean([None if (a is None or b is None) else a - b
                              for a, b in zip(s["random_angle"], s["learned_angle"])]) for s in snaps]
            good = sum(m > 0.3 for m in margins)
            cells = [f"{np.mean(per_draw[key]):.2f}" for key in KEYS]
            wall = np.mean([r["wall_s"] for r in runs]) if k == runs[0]["K"] else float("nan")
            lines.append(f"| {label} | {k} | {len(snaps)} | " + " | ".join(cells)
                         + f" | {good}/{len(snaps)} | {'' if np.isnan(wall) else f'{wall:.0f}'} |")
    return "\n".join(lines)


def figure(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r["label"] for r in results))
    n = len(labels)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False, sharey=True)
    styles = {"learned_angle": ("learned", "C0", "-"), "random_angle": ("random features", "0.5", "--"),
              "svd_angle": ("count SVD", "C1", "-."), "oracle_angle": ("oracle-psi MLE", "C2", ":")}
    for ax, label in zip(axes.ravel(), labels):
        runs = [r for r in results if r["label"] == label]
        for key, (name, color, ls) in styles.items():
            for i, r in enumerate(runs):
                ks = [s["k"] for s in r["snapshots"]]
                ys = [_mean(s[key]) for s in r["snapshots"]]
                ax.plot(ks, ys, color=color, ls=ls, marker="o", ms=3, lw=1.2, label=name if i == 0 else None)
        ax.set_xscale("log")
        ticks = sorted({s["k"] for r in runs for s in r["snapshots"]})
        ax.set_xticks(ticks, [str(k) for k in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("episodes k")
        ax.set_ylim(0, np.pi / 2 + 0.05)
    for ax in axes[:, 0]:
        ax.set_ylabel("largest angle (rad), stage mean")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Contrastive UCB on generic low-rank MDPs (A = 4, H = 3): span angle on visited pairs, count weights",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two short runs (smoke test)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these configs; merge into an existing results.json")
    parser.add_argument("--replot", action="store_true", help="only redraw table.md and recovery.png from results.json")
    args = parser.parse_args()
    if args.replot:
        results = json.loads((args.out / "results.json").read_text())
        figure(results, args.out / "recovery.png")
        print(table(results))
        return
    configs = QUICK if args.quick else CONFIGS
    if args.only:
        configs = [c for c in configs if c[0] in args.only]
    jobs = [(label, S, A, H, d, K, i, kw) for label, S, A, H, d, K, draws, kw in configs for i in draws]
    jobs.sort(key=lambda j: -j[5] * j[1] * (1 + j[7].get("n_negatives", 1)))  # longest first
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with ProcessPoolExecutor(args.workers) as pool, open(args.out / "runs.jsonl", "a") as log:
        for result in pool.map(one_run, jobs):  # each finished run kept at once (an interrupted study keeps it)
            results.append(result)
            log.write(json.dumps(result) + "\n")
            log.flush()
    if args.only and (args.out / "results.json").exists():
        kept = [r for r in json.loads((args.out / "results.json").read_text()) if r["label"] not in args.only]
        results = kept + results
    order = {c[0]: i for i, c in enumerate(QUICK if args.quick else CONFIGS)}
    results.sort(key=lambda r: (order[r["label"]], r["instance"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    text = table(results)
    (args.out / "table.md").write_text(text + f"\n\nTotal wall {time.perf_counter() - start:.0f} s, "
                                              f"{args.workers} workers.\n")
    figure(results, args.out / "recovery.png")
    print(text)


if __name__ == "__main__":
    main()
