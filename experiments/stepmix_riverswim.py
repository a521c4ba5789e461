"""Conservative exploration on RiverSwim: StepMix and EpsMix against unconstrained UCBVI.

Run: ``python experiments/stepmix_riverswim.py [--out DIR] [--K 100000]`` (about 20 s).

The story in three panels of ``DIR/stepmix_riverswim.png``:

1. **The constraint binds.** A baseline policy ``pi_b`` (70% the optimal action, 30% "swim left")
   is safe but slow. The episode-wise constraint asks every episode's policy to keep
   ``V^{pi_k} >= (1 - alpha) V^b``. Unconstrained UCBVI explores by optimism and, early on, deploys
   policies far below that line. StepMix and EpsMix never do: every value plotted is the EXACT
   value of the deployed (randomised) policy under the true model, not a sampled return.
2. **The switch step moves later as confidence grows.** StepMix plays ``pi^k`` up to a switch step
   ``t``, mixes with weight ``rho`` at ``t`` and follows ``pi_b`` afterwards; it picks the latest
   ``(t, rho)`` whose *pessimistic* value clears the threshold. As the data along those
   trajectories accumulate, the certificate tightens and ``t + rho`` climbs to ``H``: StepMix then
   plays ``pi^k`` in full, like UCBVI.
3. **The price is a constant.** Cumulative regret of StepMix/EpsMix runs parallel to UCBVI's after
   the conservative phase: an offset that does not grow with K.

Everything uses the theoretical confidence widths (``bonus_scale = pessimism_scale = 1``).

Caveat: only the paper's abstract was available (``shared/papers/stepmix.md``). Its claims are an
episode-wise constraint never violated w.h.p. and regret of the constraint-free order. The rest is
reconstructed: the constraint's form ``(1 - alpha) V^b`` (panel 1), the step-mixing path and its
choice rule (panel 2; also EpsMix's coin) and the constant-offset bound shape (panel 3).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import mdpkit  # noqa: E402
from mdpkit import envs  # noqa: E402
from mdpkit.algorithms import stepmix, ucbvi  # noqa: E402


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    kernel = np.ones(window) / window
    return np.convolve(x, kernel, mode="valid")


def main(out: Path, K: int, seed: int = 0) -> None:
    mdp = envs.riverswim(4, 10)
    H, S, A = mdp.H, mdp.S, mdp.A
    optimal = mdpkit.solve(mdp)
    baseline = np.zeros((H, S, A))
    np.put_along_axis(baseline, optimal.policy[:, :, None], 0.7, axis=2)
    baseline[:, :, 0] += 0.3  # swim left 30% of the time
    alpha = 0.2
    V_b = mdpkit.evaluate(mdp, baseline).value
    print(f"{mdp}: V* = {optimal.value:.3f}, baseline V^b = {V_b:.3f}, alpha = {alpha}: "
          f"every episode must keep V^pi_k >= {(1 - alpha) * V_b:.3f}")

    start = time.perf_counter()
    runs = {
        "UCBVI (unconstrained)": ucbvi.run(mdp, K=K, seed=seed),
        "StepMix": stepmix.run(mdp, baseline, alpha=alpha, K=K, seed=seed),
        "EpsMix": stepmix.run(mdp, baseline, alpha=alpha, K=K, seed=seed, variant="epsmix"),
    }
    print(f"ran 3 x {K} episodes in {time.perf_counter() - start:.1f} s")
    threshold = runs["StepMix"].threshold
    for name, res in runs.items():
        violations = int(np.count_nonzero(res.values < threshold))
        print(f"  {name:22s} violations = {violations:6d}   regret(K) = {res.regret[-1]:9.1f}")

    step = runs["StepMix"].extras
    progress = step["switch_step"] + step["rho"]  # H means "pi^k in full"
    full = np.flatnonzero(step["rho"] >= 1.0)
    first_full = int(full[0]) if full.size else None
    print(f"StepMix: t + rho averaged over the first 1000 episodes = {progress[:1000].mean():.2f}, "
          f"over the last 1000 = {progress[-1000:].mean():.2f} (H = {H}); "
          f"first episode playing pi^k in full: {first_full}")
    eps = runs["EpsMix"].extras
    print(f"EpsMix: mean rho_k over the first 1000 episodes = {eps['rho'][:1000].mean():.2f}, "
          f"over the last 1000 = {eps['rho'][-1000:].mean():.2f}")

    window = max(1, K // 200)
    episodes = np.arange(window, K + 1)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    ax = axes[0]
    for name, res in runs.items():
        ax.plot(episodes, moving_average(res.values, window), label=name, lw=1.2)
    ax.axhline(threshold, color="k", ls="--", lw=1, label=r"$(1-\alpha)V^b$")
    ax.axhline(optimal.value, color="grey", ls=":", lw=1, label=r"$V^*$")
    ax.set(xscale="log", xlabel="episode k", ylabel=r"exact $V^{\pi_k}$ (moving average)",
           title="values of the deployed policies")
    ax.legend(fontsize=8)
    ax = axes[1]
    fine = 20  # short window: the climb of the switch step takes a few hundred episodes
    ax.plot(np.arange(fine, K + 1), moving_average(progress, fine), color="C1", label="StepMix: t + rho")
    ax.plot(np.arange(fine, K + 1), H * moving_average(eps["rho"], fine), color="C2", label=r"EpsMix: $H\rho_k$")
    ax.axhline(H, color="grey", ls=":", lw=1)
    ax.set(xscale="log", xlabel="episode k", ylabel="steps of the optimistic policy",
           title="switch step moves later as confidence grows")
    ax.legend(fontsize=8)
    ax = axes[2]
    for name, res in runs.items():
        ax.plot(np.arange(1, K + 1), res.regret, label=name)
    ax.set(xscale="log", yscale="log", xlabel="episode k", ylabel="cumulative regret", title="regret")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stepmix_riverswim.png"
    fig.savefig(path, dpi=120)
    print(f"figure written to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments_out"), help="output directory")
    parser.add_argument("--K", type=int, default=100_000, help="episodes per algorithm")
    args = parser.parse_args()
    main(args.out, args.K)
