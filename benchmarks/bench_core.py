"""Ratio benchmarks for the mdpkit core (issue 2 targets).

Run: ``python benchmarks/bench_core.py [--json results.json]``

1. Dense backward induction, S=500, A=10, H=100, stationary P: time <= 1.25x the time to stream
   the same bytes of P (a numba sum over P, H times), and no slower than a numpy
   ``R + P @ V`` loop -- both measured in the same run.
2. Sparse RiverSwim, S=2000, H=100: the CSR path >= 50x faster than the dense path.
3. simulate: >= 1e6 transitions/s on one core for S=50, A=5.
4. Crossover of the dense and CSR paths versus density (informs SPARSE_DENSITY_THRESHOLD).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, interleaved_best_times, report  # noqa: E402

import mdpkit  # noqa: E402
from mdpkit import _kernels, envs  # noqa: E402


def dense_backward_induction(out=None):
    S, A, H = 500, 10, 100
    mdp = envs.random_mdp(S, A, H, seed=0)
    R = mdp.R
    P = mdp.P_stages[0]

    def ours():
        mdpkit.solve(mdp, method="dense")

    def stream():
        _kernels.stream_transitions(mdp.P_stages, H)

    def numpy_loop():
        V = np.zeros(S)
        for h in range(H - 1, -1, -1):
            V = (R[h] + P @ V).max(axis=1)
        return V

    t_ours, t_stream, t_numpy = interleaved_best_times([ours, stream, numpy_loop])
    gbps = H * P.nbytes / t_stream / 1e9
    report("dense backward induction S=500 A=10 H=100", [
        {"name": "solve / stream(P, H times)", "measured": round(t_ours / t_stream, 3),
         "target": "<= 1.25", "ok": t_ours / t_stream <= 1.25,
         "detail": f"solve {t_ours * 1e3:.1f} ms, stream {t_stream * 1e3:.1f} ms ({gbps:.1f} GB/s)"},
        {"name": "solve / numpy R + P @ V loop", "measured": round(t_ours / t_numpy, 3),
         "target": "<= 1.0", "ok": t_ours <= t_numpy,
         "detail": f"numpy {t_numpy * 1e3:.1f} ms"},
    ], out)
    print(f"     solve {t_ours * 1e3:.1f} ms; stream {t_stream * 1e3:.1f} ms ({gbps:.1f} GB/s of P); "
          f"numpy {t_numpy * 1e3:.1f} ms")


def sparse_riverswim(out=None):
    mdp = envs.riverswim(2000, 100)
    t_dense, t_sparse = interleaved_best_times([lambda: mdpkit.solve(mdp, method="dense"),
                                                lambda: mdpkit.solve(mdp, method="sparse")], rounds=5)
    assert np.allclose(mdpkit.solve(mdp, method="dense").V, mdpkit.solve(mdp, method="sparse").V)
    report("sparse RiverSwim S=2000 H=100", [
        {"name": "dense / sparse time", "measured": round(t_dense / t_sparse, 1), "target": ">= 50",
         "ok": t_dense / t_sparse >= 50,
         "detail": f"dense {t_dense * 1e3:.1f} ms, sparse {t_sparse * 1e3:.3f} ms, density {mdp.density:.2e}"},
    ], out)
    print(f"     dense {t_dense * 1e3:.1f} ms; sparse {t_sparse * 1e3:.3f} ms; auto picks "
          f"{mdpkit.solve(mdp).method}")


def simulation_throughput(out=None):
    S, A, H, n = 50, 5, 20, 50_000
    mdp = envs.random_mdp(S, A, H, seed=1)
    policy = mdpkit.solve(mdp).policy
    t = best_time(lambda: mdpkit.simulate(mdp, policy, n, seed=2), repeat=3)
    rate = n * H / t
    report("simulate S=50 A=5", [
        {"name": "transitions per second (one core)", "measured": f"{rate:.3g}", "target": ">= 1e6",
         "ok": rate >= 1e6, "detail": f"{n} episodes x H={H} in {t * 1e3:.1f} ms"},
    ], out)


def density_crossover(out=None):
    S, A, H = 400, 8, 20
    rows = []
    for k in (2, 10, 40, 80, 160, 400):
        mdp = envs.random_mdp(S, A, H, n_successors=k, seed=3)
        t_d = best_time(lambda: mdpkit.solve(mdp, method="dense"), repeat=3, min_seconds=0.1)
        t_s = best_time(lambda: mdpkit.solve(mdp, method="sparse"), repeat=3, min_seconds=0.1)
        rows.append({"name": f"density {mdp.density:.3f}: dense/sparse", "measured": round(t_d / t_s, 2),
                     "target": "informative", "ok": True})
    report("dense vs CSR crossover S=400 A=8 H=20", rows, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="append results to this JSON file")
    args = parser.parse_args(argv)
    dense_backward_induction(args.json)
    sparse_riverswim(args.json)
    simulation_throughput(args.json)
    density_crossover(args.json)


if __name__ == "__main__":
    main()
