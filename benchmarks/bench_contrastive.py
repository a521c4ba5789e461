"""Ratio benchmarks for Contrastive UCB (issue 6).

Run: ``python benchmarks/bench_contrastive.py [--json results.json] [--episodes 1000]``

1. Warm-started refits: on a random low-rank MDP with S=200, A=4, H=5, d=4 and the data stream of
   Contrastive UCB's theory version (one uniform-action anchor per stage per episode, one negative
   each), the per-episode refit time after ``--episodes`` episodes is <= 5x that after 10.
   Refits run every episode near both measurement points and every 10 episodes in between (each
   refit is warm-started from the previous one, so this only shortens the benchmark).
2. The per-state CCE LP (scipy HiGHS) for |A| = |B| = 4: time per state, against the zero-sum
   matrix-game LP of the same size, and the whole planning pass of run_game (H * S LPs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, report  # noqa: E402

from mdpkit.algorithms.contrastive import ContrastiveLearner  # noqa: E402
from mdpkit.envs.lowrank import random_lowrank_mdp  # noqa: E402
from mdpkit.markov_game import coarse_correlated_equilibrium, matrix_game  # noqa: E402


def refit_ratio(n_episodes: int, out=None):
    S, A, H, d = 200, 4, 5, 4
    mdp = random_lowrank_mdp(S, A, H, d, seed=0)
    P = mdp.P.reshape(H, S * A, S)
    rng = np.random.default_rng(1)
    learner = ContrastiveLearner(H, S * A, S, d, np.full(S, 1.0 / S), max_iter=200, seed=2)
    windows = {10: [], n_episodes: []}
    iterations = {10: [], n_episodes: []}
    for k in range(1, n_episodes + 5):
        for h in range(H):
            x = int(rng.integers(S * A))
            s_next = min(int(np.searchsorted(np.cumsum(P[h, x]), rng.random(), side="right")), S - 1)
            learner.add(h, x, s_next, 1)
            learner.add(h, x, int(rng.integers(S)), 0)
        near = [w for w in windows if w <= k < w + 5]
        if not (near or k <= 20 or k % 10 == 0 or k >= n_episodes - 20):
            continue
        start = time.perf_counter()
        fit = learner.fit()
        elapsed = time.perf_counter() - start
        for w in near:
            windows[w].append(elapsed)
            iterations[w].append(fit.n_iterations)
    t_early, t_late = np.median(windows[10]), np.median(windows[n_episodes])
    ratio = t_late / t_early
    report("warm-started contrastive refits (S=200, A=4, H=5, d=4)", [
        dict(name="refit after 10 episodes", measured=f"{t_early * 1e3:.1f} ms "
             f"(median of 5; L-BFGS-B iterations {iterations[10]})", target="-", ok=True),
        dict(name=f"refit after {n_episodes} episodes", measured=f"{t_late * 1e3:.1f} ms "
             f"(median of 5; iterations {iterations[n_episodes]}; {learner.n_samples:.0f} samples)",
             target="-", ok=True),
        dict(name="ratio", measured=f"{ratio:.1f}x", target="<= 5x", ok=bool(ratio <= 5.0)),
    ], out)


def cce_timing(out=None):
    rng = np.random.default_rng(0)
    A = B = 4
    pairs = [(rng.random((A, B)), rng.random((A, B))) for _ in range(64)]
    idx = iter(range(10**9))

    def one_cce():
        Q_up, Q_low = pairs[next(idx) % 64]
        coarse_correlated_equilibrium(Q_up, Q_low)

    def one_matrix_game():
        matrix_game(pairs[next(idx) % 64][0])

    t_cce = best_time(one_cce)
    t_mg = best_time(one_matrix_game)
    H, S = 5, 50

    def planning_pass():
        for h in range(H):
            for s in range(S):
                coarse_correlated_equilibrium(*pairs[(h * S + s) % 64])

    t_pass = best_time(planning_pass, repeat=3, min_seconds=0.5)
    report("per-state CCE LP (|A| = |B| = 4, scipy HiGHS)", [
        dict(name="CCE LP per state", measured=f"{t_cce * 1e3:.2f} ms", target="report", ok=True),
        dict(name="zero-sum matrix-game LP (same size, reference)", measured=f"{t_mg * 1e3:.2f} ms",
             target="report", ok=True),
        dict(name=f"planning pass H={H}, S={S} ({H * S} LPs)", measured=f"{t_pass:.3f} s "
             f"({t_pass / (H * S) * 1e3:.2f} ms per state)", target="report", ok=True),
    ], out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="append results to this JSON file")
    parser.add_argument("--episodes", type=int, default=1000)
    args = parser.parse_args(argv)
    cce_timing(args.json)
    refit_ratio(args.episodes, args.json)


if __name__ == "__main__":
    main()
