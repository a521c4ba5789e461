"""Does reward-free exploration pay for the horizon? HF-UCRL-RFE++ against UCRL-RFE.

Run:  python experiments/reward_free_horizon.py [--out DIR]  (default experiments_out)

The story
---------
In reward-free RL an agent first explores for K episodes without seeing any reward, then must
return a near-optimal policy for *every* reward it is later given. Zhang, Zhang & Gu (ICML 2023)
prove that, when every trajectory collects total reward at most 1, HF-UCRL-RFE++ needs
O~(d^2 / eps^2) episodes on a d-dimensional linear mixture MDP -- no polynomial dependence on the
horizon H -- while the earlier UCRL-RFE needs O~(H^5 d^2 / eps^2) for per-step rewards in
[0, 1]. In normalised units that is, heuristically, about H^3 d^2 / eps'^2 (a reconstructed
reference curve, not a guarantee: per-step guarantees cover only r_h <= 1/H after rescaling).

We measure it. The instance is a two-state chain (``long_horizon_two_state``) whose informative
state is revisited about H times per episode, with a constant relative value gap, so that the
*problem* does not get easier or harder with H -- only the horizon changes. For each H and each
budget k we plan every reward of a fixed battery (single-state, goal, sparse, dense rewards) and
compute the exact gap ``V*_r - V^{pi_r}_r`` by backward induction on the true model: no sampling
error in the evaluation. "Episodes needed" is the first checkpoint k at which the median (over
seeds) of the worst battery gap is <= eps.

Both algorithms run with their confidence radius scaled down (``beta_scale``, recorded): the
theoretical radii are in the thousands (HF) or grow like H (UCRL-RFE), and with them neither
algorithm learns anything at feasible K (see mdpkit/algorithms/hf_rfe.py). The scales were chosen
as the smallest in {0.003, 0.01, 0.03, 0.1, 0.3} at which theta* stayed inside the final
confidence ellipsoids on >= 90% of pilot seeds (H = 30, K = 60) -- a calibration of coverage, not
of the gaps measured here.

What to expect. HF-UCRL-RFE++'s episodes-needed does not grow with H; on this instance it even
*falls* (measured: 50, 50, <= 25, <= 25 episodes at H = 10, 30, 100, 300, i.e. about H^-0.25 on
these coarse doubling checkpoints), because a longer episode visits the informative state more
often, so each episode carries ~H useful transitions and the horizon-free regression wastes none of
them. (proofs_check's ``hf_rfe.horizon_free`` measures the same thing on a finer checkpoint grid
with many seeds.)
UCRL-RFE's radius grows like H (Hoeffding: values up to H), so its optimistic planner is
dominated by the bonus; it reaches eps = 0.01 only at H = 10 (6400 episodes) within the budget.
At H = 300 HF already meets eps at the first checkpoint: that point is an upper bound.

The reference curves are drawn for their *shape* (flat in H for HF; the heuristic H^3 for
UCRL-RFE, reconstructed as above), anchored
at the first measured point: their constants (beta^2 in the thousands squared) are far above any
feasible budget.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mdpkit import audit
from mdpkit.algorithms import hf_rfe, ucrl_rfe
from mdpkit.envs.linear import long_horizon_two_state

HORIZONS = (10, 30, 100, 300)
D = 3
EPS = 0.01
SEEDS = 3
SETUPS = {
    # name: (module, beta_scale, checkpoints)
    "HF-UCRL-RFE++": (hf_rfe, 0.01, (25, 50, 100, 200, 400, 800, 1600)),
    "UCRL-RFE": (ucrl_rfe, 0.3, (25, 50, 100, 200, 400, 800, 1600, 3200, 6400)),
}


def worst_gaps(module, beta_scale, checkpoints, H, seed):
    """Worst exact battery gap at every checkpoint of one run, shape (len(checkpoints),)."""
    lmdp = long_horizon_two_state(D, H, seed=seed).lmdp
    run = module.explore(lmdp, K=checkpoints[-1], seed=seed, beta_scale=beta_scale, checkpoints=checkpoints)
    battery = audit.reward_battery(lmdp, seed=seed)
    return np.array([audit.exact_gaps(snap, battery).worst_gap for snap in (*run.checkpoints, run)])


def episodes_needed(checkpoints, median_gaps, eps):
    """First checkpoint with median worst gap <= eps, or inf if none."""
    hit = np.flatnonzero(median_gaps <= eps)
    return float(checkpoints[hit[0]]) if hit.size else float("inf")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Episodes needed vs horizon: HF-UCRL-RFE++ vs UCRL-RFE")
    parser.add_argument("--out", default="experiments_out", help="output directory")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    results = {}
    for name, (module, beta_scale, checkpoints) in SETUPS.items():
        results[name] = {"beta_scale": beta_scale, "checkpoints": list(checkpoints), "H": {}}
        for H in HORIZONS:
            gaps = np.stack([worst_gaps(module, beta_scale, checkpoints, H, seed) for seed in range(SEEDS)])
            median = np.median(gaps, axis=0)
            needed = episodes_needed(checkpoints, median, EPS)
            results[name]["H"][H] = {"median_worst_gap": median.tolist(), "episodes_needed": needed}
            shown = "more than %d" % checkpoints[-1] if np.isinf(needed) else "%d" % needed
            if needed == checkpoints[0]:
                shown = "at most %d (first checkpoint)" % needed
            print(f"{name:14s} H = {H:3d}: worst gap {median[0]:.3f} -> {median[-1]:.4f}; "
                  f"episodes needed for eps = {EPS}: {shown}")

    # Slopes of log(episodes needed) against log H, where every H reached eps.
    for name in results:
        needed = np.array([results[name]["H"][H]["episodes_needed"] for H in HORIZONS])
        if np.all(np.isfinite(needed)):
            slope = float(np.polyfit(np.log(HORIZONS), np.log(needed), 1)[0])
            results[name]["slope_vs_H"] = slope
            print(f"{name}: episodes needed ~ H^{slope:.2f}")
        else:
            results[name]["slope_vs_H"] = None
            print(f"{name}: did not reach eps = {EPS} within its budget for H = "
                  f"{[H for H, n in zip(HORIZONS, needed) if not np.isfinite(n)]}")

    _figure(results, out / "reward_free_horizon.png")
    results["meta"] = {"d": D, "eps": EPS, "seeds": SEEDS, "horizons": list(HORIZONS),
                       "instance": "long_horizon_two_state(d, H, rel_gap=0.5)",
                       "seconds": time.perf_counter() - start}
    (out / "reward_free_horizon.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out / 'reward_free_horizon.png'} and .json in {results['meta']['seconds']:.0f} s")


def _figure(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_need, ax_gap) = plt.subplots(1, 2, figsize=(11, 4.2))
    Hs = np.array(HORIZONS, dtype=float)
    colours = {"HF-UCRL-RFE++": "C0", "UCRL-RFE": "C3"}
    for name, res in results.items():
        budget = res["checkpoints"][-1]
        needed = np.array([res["H"][H]["episodes_needed"] for H in HORIZONS])
        shown = np.where(np.isfinite(needed), needed, np.nan)
        ax_need.plot(Hs, shown, "o-", color=colours[name], label=f"{name} (measured)")
        censored = ~np.isfinite(needed)
        if censored.any():
            ax_need.plot(Hs[censored], np.full(censored.sum(), budget), "^", color=colours[name], ms=9,
                         label=f"{name}: not reached by K = {budget}")
        for i, H in enumerate(HORIZONS):
            ax_gap.loglog(res["checkpoints"], np.maximum(res["H"][H]["median_worst_gap"], 1e-6), "-",
                          color=colours[name], alpha=0.35 + 0.65 * i / (len(HORIZONS) - 1),
                          label=f"{name}, H = {H}" if i in (0, len(HORIZONS) - 1) else None)
    # Theory curves: shape only, each anchored at its algorithm's measured point at the smallest H.
    anchor = results["HF-UCRL-RFE++"]["H"][HORIZONS[0]]["episodes_needed"]
    if np.isfinite(anchor):
        ax_need.plot(Hs, np.full_like(Hs, anchor), "--", color="C0", label="theory HF: d^2/eps^2 (flat in H)")
    anchor = results["UCRL-RFE"]["H"][HORIZONS[0]]["episodes_needed"]
    if np.isfinite(anchor):
        ax_need.plot(Hs, anchor * (Hs / Hs[0]) ** 3, "--", color="C3", label="UCRL-RFE, heuristic: H^3 d^2/eps^2")
    ax_need.set(xscale="log", yscale="log", xlabel="horizon H", ylabel=f"episodes to worst gap <= {EPS}",
                title="Episodes needed vs horizon (median of seeds)")
    ax_need.legend(fontsize=7)
    ax_gap.axhline(EPS, color="k", lw=0.8, ls=":")
    ax_gap.set(xlabel="exploration episodes k", ylabel="worst exact battery gap (median)",
               title="Worst gap over the reward battery")
    ax_gap.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
