"""Ratio benchmark of the occupancy-measure LP (issue "daily tool", item 8).

Run: ``python benchmarks/bench_lp.py [--H 200] [--old-H H] [--taxi] [--json results.json]``

1. ``solve_lp`` on a FrozenLake-8x8-sized model (S = 64, A = 4, 3 successors per pair, stationary)
   at H = 200 against the previous implementation, kept here (and only here) as
   :func:`old_cvxpy_solve_lp`: the same flow matrix given to cvxpy, solved by HiGHS (highspy)
   with presolve off, as ``mdpkit.solvers.lp`` did before. Target: ratio old / new >= 20, and the
   objective equal to backward induction to 1e-8 relative. The old path takes about a minute at
   H = 200; ``--old-H 50`` times it (and the new path, for the ratio) at H = 50 instead -- the
   report says which H the ratio is at.
2. (``--taxi``) a Taxi-sized model (S = 500, A = 6, 4 random successors, H = 50): the new path
   against backward induction (time ratio and objective agreement); the old path is not run there
   (the issue measured 176 s). Slow: unlike the FrozenLake-sized model, HiGHS's presolve does not
   solve this LP (4348 simplex iterations already at H = 5), so it takes minutes -- see the report.

Both sides of a ratio run in the same process, one after the other; the old path is timed once
(it is slow and its time is dominated by HiGHS's simplex iterations, not by noise), the new one
as the best of 3.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import report  # noqa: E402

import mdpkit  # noqa: E402
from mdpkit.solvers import lp  # noqa: E402


def old_cvxpy_solve_lp(mdp) -> float:
    """The previous ``solve_lp`` formulation: cvxpy over the sparse flow matrix, HiGHS, presolve off.

    Returns the optimal objective. (The presolve was off because HiGHS's presolve misjudged near-tight
    *constrained* LPs as infeasible; the new path keeps presolve on and re-checks such verdicts
    without it.)
    """
    import cvxpy as cp

    q = cp.Variable(mdp.H * mdp.S * mdp.A, nonneg=True)
    problem = cp.Problem(cp.Maximize(mdp.R.ravel() @ q), [lp.flow_matrix(mdp) @ q == lp._flow_rhs(mdp)])
    problem.solve(solver="HIGHS", presolve="off")
    assert problem.status == cp.OPTIMAL, problem.status
    return float(problem.value)


def time_once(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def best_of(fn, repeat=3):
    times, value = [], None
    for _ in range(repeat):
        elapsed, value = time_once(fn)
        times.append(elapsed)
    return min(times), value


def relative_error(value, reference):
    return abs(value - reference) / max(abs(reference), 1e-300)


def frozenlake_sized(H):
    return mdpkit.envs.random_mdp(64, 4, H, n_successors=3, seed=0)


def bench_frozenlake(H, old_H, out):
    mdp = frozenlake_sized(H)
    exact = mdpkit.solve(mdp).value
    t_new, sol = best_of(lambda: lp.solve_lp(mdp))
    rows = [{"name": f"solve_lp S=64 A=4 H={H} objective vs backward induction (relative)",
             "measured": f"{relative_error(sol.value, exact):.1e}", "target": "<= 1e-8",
             "ok": relative_error(sol.value, exact) <= 1e-8},
            {"name": f"solve_lp S=64 A=4 H={H} time (new path)", "measured": f"{t_new:.3f} s",
             "target": "informative", "ok": True}]
    old_mdp = mdp if old_H == H else frozenlake_sized(old_H)
    t_new_at_old = t_new if old_H == H else best_of(lambda: lp.solve_lp(old_mdp))[0]
    t_old, old_value = time_once(lambda: old_cvxpy_solve_lp(old_mdp))
    old_exact = exact if old_H == H else mdpkit.solve(old_mdp).value
    rows += [{"name": f"old cvxpy path S=64 A=4 H={old_H} time", "measured": f"{t_old:.2f} s",
              "target": "informative", "ok": True},
             {"name": f"old cvxpy path H={old_H} objective vs backward induction (relative)",
              "measured": f"{relative_error(old_value, old_exact):.1e}", "target": "informative", "ok": True},
             {"name": f"ratio old / new at H={old_H}", "measured": f"{t_old / t_new_at_old:.1f}x",
              "target": ">= 20x", "ok": t_old / t_new_at_old >= 20}]
    report(f"occupancy LP, FrozenLake-sized (S=64, A=4), H={H}", rows, out)


def bench_taxi(out):
    mdp = mdpkit.envs.random_mdp(500, 6, 50, n_successors=4, seed=0)
    t_bi, exact = best_of(lambda: mdpkit.solve(mdp).value)
    t_new, sol = best_of(lambda: lp.solve_lp(mdp))
    report("occupancy LP, Taxi-sized (S=500, A=6), H=50", [
        {"name": "objective vs backward induction (relative)", "measured": f"{relative_error(sol.value, exact):.1e}",
         "target": "<= 1e-8", "ok": relative_error(sol.value, exact) <= 1e-8},
        {"name": "solve_lp time", "measured": f"{t_new:.3f} s", "target": "informative", "ok": True},
        {"name": "solve_lp / backward induction", "measured": f"{t_new / t_bi:.0f}x",
         "target": "informative (an LP solve vs one sweep)", "ok": True},
    ], out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--H", type=int, default=200, help="horizon of the FrozenLake-sized model (default 200)")
    parser.add_argument("--old-H", type=int, default=None,
                        help="horizon at which the old cvxpy path is timed (default: --H; 50 is ~15x quicker)")
    parser.add_argument("--taxi", action="store_true", help="also the Taxi-sized model (new path only)")
    parser.add_argument("--json", help="append results to this JSON file")
    args = parser.parse_args(argv)
    mdpkit.solve(frozenlake_sized(2))  # numba compilation/cache load outside the timings
    lp.solve_lp(frozenlake_sized(2))   # scipy.optimize import outside the timings
    bench_frozenlake(args.H, args.old_H or args.H, args.json)
    if args.taxi:
        bench_taxi(args.json)


if __name__ == "__main__":
    main()
