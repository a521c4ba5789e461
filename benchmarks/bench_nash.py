"""Ratio benchmarks for the preference-game code (printed, not asserted).

1. One exact Nash-MP iteration at n = 1000 versus two dense n x n matrix-vector products
   measured in the same run (target: ratio <= 3; the iteration *is* two mat-vecs plus O(n)
   log-domain work).
2. ``regularized_nash`` at n = 1000 for beta = 1e-3 and 1e-4: wall time, fixed-point residual,
   exploitability, and a NaN/inf check.

Run: ``python benchmarks/bench_nash.py [--n 1000] [--reps 200]``.
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from mdpkit.algorithms import nash_mp
from mdpkit.envs.preference import random_preference_game
from mdpkit.games import regularized_nash


def median_time(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args(argv)
    n = args.n

    game = random_preference_game(n, 0.1, seed=0, mu="random")
    P = np.ascontiguousarray(game.P)
    v = game.mu.copy()
    log_pi = game.log_mu.copy()
    nash_mp.step(game, log_pi, 0.2)  # warm-up
    t_matvec2 = median_time(lambda: (P @ v, P @ v), args.reps)
    t_iter = median_time(lambda: nash_mp.step(game, log_pi, 0.2), args.reps)
    print(f"n={n}: two mat-vecs {t_matvec2 * 1e6:.1f} us, one Nash-MP iteration {t_iter * 1e6:.1f} us, "
          f"ratio {t_iter / t_matvec2:.2f} (target <= 3)")

    for beta in (1e-3, 1e-4):
        g = game.with_beta(beta)
        t0 = time.perf_counter()
        sol = regularized_nash(g)
        dt = time.perf_counter() - t0
        finite = bool(np.all(np.isfinite(sol.log_policy)) and np.all(np.isfinite(sol.policy)))
        print(f"regularized_nash n={n} beta={beta:g}: {dt:.2f} s, {sol.iterations} Newton iterations "
              f"({sol.method}), residual {sol.residual:.2e}, exploitability {sol.exploitability:.2e}, "
              f"min log pi {sol.log_policy.min():.1f}, all finite: {finite}")


if __name__ == "__main__":
    # One BLAS thread: both sides of the ratio on one core. With the default two threads on a
    # shared 2-core machine, thread hand-offs dominate an 8 MB gemv and the timings swing 100x.
    with threadpool_limits(limits=1):
        main()
