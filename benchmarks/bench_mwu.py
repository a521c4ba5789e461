"""Ratio benchmark of self-play MWU/Hedge (issue "daily tool", item 8).

Run: ``python benchmarks/bench_mwu.py [--iters 10000] [--json results.json]``

``mwu.run`` (numba kernel, plus input checks and packing the result) against
``mwu.reference_iterates`` -- the previous implementation, a Python loop over ``mwu.step`` -- at
the nash claims' sizes (n = 3 cyclic, n = 6 dice, random n = 10 and 50) and their step
``eta = sqrt(8 log n / (T + 1))``, timed in alternation in one run. Reported: time per iteration of
each, the speed-up (target >= 7x, the lower end the issue measured for the jitted recurrence), and
the largest difference of the iterates and of the running averages.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
from _timing import interleaved_best_times, report  # noqa: E402

from mdpkit.algorithms import mwu  # noqa: E402
from mdpkit.envs import cyclic_game, nontransitive_dice_game, random_preference_game  # noqa: E402


def games():
    return {"cyclic n=3": cyclic_game(3, 0.0, p=0.8, mu="random", seed=0),
            "dice n=6": nontransitive_dice_game(0.0, mu="random", seed=0),
            "random n=10": random_preference_game(10, 0.0, mu="random", seed=0),
            "random n=50": random_preference_game(50, 0.0, mu="random", seed=0)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10000)
    parser.add_argument("--json", help="append results to this JSON file")
    args = parser.parse_args(argv)
    T = args.iters
    rows = []
    for name, game in games().items():
        eta = mwu.default_eta(game.n, T + 1)
        new = lambda: mwu.run(game, iters=T)  # noqa: E731
        old = lambda: mwu.reference_iterates(game, game.log_mu, eta, T)  # noqa: E731
        t_new, t_old = interleaved_best_times([new, old], rounds=3, min_seconds=0.05)
        result, (log_policies, average) = new(), old()
        iterate_gap = float(np.max(np.abs(result.policies - np.exp(log_policies))))
        average_gap = float(np.max(np.abs(result.average - average)))
        rows.append({"name": f"{name}: per iteration kernel {t_new / T * 1e6:.2f} us, Python loop "
                             f"{t_old / T * 1e6:.2f} us; max |diff| iterates {iterate_gap:.1e}, averages "
                             f"{average_gap:.1e}",
                     "measured": f"{t_old / t_new:.1f}x", "target": ">= 7x", "ok": t_old / t_new >= 7})
    report(f"self-play MWU, T = {T}", rows, args.json)


if __name__ == "__main__":
    with threadpool_limits(limits=1):  # both sides on one core (the reference's mat-vec is BLAS)
        main()
