"""Sparse models at scale (issue "check your own algorithm", item 7).

Run: ``python benchmarks/bench_sparse.py [--S 1000000] [--H 100] [--json results.json]``

Each measurement runs in a fresh child process (``python bench_sparse.py --child ...``) so that
its peak resident memory is its own: the child reports ``getrusage(RUSAGE_SELF).ru_maxrss`` and the
parent cross-checks it with ``getrusage(RUSAGE_CHILDREN)``. Every child runs the kernels once on a
tiny model first, so numba's compilation is inside the peak but outside the timings.

Reported:

1. the floor: a child that only imports mdpkit and compiles the kernels;
2. RiverSwim at ``S`` (default 10^6), ``H`` (default 100): build (CSR, never ``(S, A, S)``) and
   ``solve(values="initial", return_q=False, policy_dtype=np.int8)`` -- the acceptance target is a
   peak RSS <= 2 GB -- with the solve time per non-zero per stage; then the exact evaluation of
   the policy found (``values="initial"``, ``return_q=False``) and the peak RSS including it;
3. beside it, the dense path's time per transition entry per stage (dense backward induction on
   RiverSwim with S = 2000, P materialised), and the CSR path on that same model, both serial;
4. the old construction (dense ``(S, A, S)`` then :meth:`TabularMDP.stationary`) against the CSR
   build at S = 5000, where the old one still fits: build time and peak memory of each.

Timings are wall-clock minima over a few repeats; the machine may be shared, so they are
indicative. Both solve paths run on one thread (``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _timing import report  # noqa: E402

GIB = 2.0 ** 30


def _peak_rss_bytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # Linux reports KiB


def _warm_up():
    """Compile (or load from cache) every kernel a child times, on a tiny model."""
    import numpy as np

    import mdpkit

    tiny = mdpkit.envs.riverswim(S=4, H=3)
    mdpkit.solve(tiny, method="sparse", values="initial", return_q=False, policy_dtype=np.int8)
    sol = mdpkit.solve(tiny, method="sparse")
    mdpkit.evaluate(tiny, sol.policy, method="sparse", values="initial", return_q=False)
    dense = mdpkit.TabularMDP.stationary(tiny.P_stages[0], tiny.R[0], 3, 0)
    mdpkit.solve(dense, method="dense")


def _best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def child(task: str, S: int, H: int, repeat: int) -> dict:
    import numpy as np

    import mdpkit

    _warm_up()
    result = {"task": task, "S": S, "H": H}
    if task == "floor":
        pass
    elif task == "riverswim_csr":
        start = time.perf_counter()
        mdp = mdpkit.envs.riverswim(S=S, H=H)
        result["build_s"] = time.perf_counter() - start
        nnz = mdp.sparse_transitions().nnz
        solve = lambda: mdpkit.solve(mdp, method="sparse", values="initial", return_q=False,  # noqa: E731
                                     policy_dtype=np.int8)
        result["solve_s"], sol = _best_of(solve, repeat)
        result.update(nnz=nnz, value=sol.value, ns_per_nnz_stage=result["solve_s"] / (nnz * H) * 1e9,
                      solve_peak_rss_bytes=_peak_rss_bytes())
        # evaluating the optimal policy (validated as an (H, S) int64 copy: 8 bytes per entry)
        start = time.perf_counter()
        evaluation = mdpkit.evaluate(mdp, sol.policy, method="sparse", values="initial", return_q=False)
        result.update(evaluate_s=time.perf_counter() - start, evaluated_value=evaluation.value,
                      dense_materialised=mdp.has_dense_transitions)
    elif task == "dense_vs_csr":  # the same model, both paths, full outputs
        csr_model = mdpkit.envs.riverswim(S=S, H=H)
        dense_model = mdpkit.TabularMDP.stationary(csr_model.P_stages[0], csr_model.R[0], H, 0)
        nnz = csr_model.sparse_transitions().nnz
        t_dense, sol_dense = _best_of(lambda: mdpkit.solve(dense_model, method="dense"), repeat)
        t_csr, sol_csr = _best_of(lambda: mdpkit.solve(csr_model, method="sparse"), repeat)
        A = csr_model.A
        result.update(nnz=nnz, dense_s=t_dense, csr_s=t_csr,
                      ns_per_dense_entry_stage=t_dense / (S * A * S * H) * 1e9,
                      ns_per_nnz_stage=t_csr / (nnz * H) * 1e9,
                      max_value_gap=float(np.max(np.abs(sol_dense.V - sol_csr.V))))
    elif task == "build_old":  # the construction before from_csr: a dense (S, 2, S) array
        start = time.perf_counter()
        P = np.zeros((S, 2, S))
        idx = np.arange(S)
        P[idx, 0, np.maximum(idx - 1, 0)] = 1.0
        inner = idx[1:-1]
        P[inner, 1, inner - 1], P[inner, 1, inner + 1], P[inner, 1, inner] = 0.05, 0.35, 0.6
        P[0, 1, 0], P[0, 1, 1] = 0.4, 0.6
        P[S - 1, 1, S - 2], P[S - 1, 1, S - 1] = 0.4, 0.6
        R = np.zeros((S, 2))
        R[0, 0], R[S - 1, 1] = 0.005, 1.0
        mdpkit.TabularMDP.stationary(P, R, H, 0)
        result["build_s"] = time.perf_counter() - start
    elif task == "build_csr":
        start = time.perf_counter()
        mdpkit.envs.riverswim(S=S, H=H)
        result["build_s"] = time.perf_counter() - start
    else:
        raise ValueError(f"unknown task {task!r}")
    result["peak_rss_bytes"] = _peak_rss_bytes()
    return result


def run_child(task: str, S: int, H: int, repeat: int = 3) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    done = subprocess.run([sys.executable, __file__, "--child", task, "--S", str(S), "--H", str(H),
                           "--repeat", str(repeat)], env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # RUSAGE_CHILDREN is the largest peak of any child waited for so far: an upper bound
    result["children_max_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024.0
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--S", type=int, default=1_000_000)
    parser.add_argument("--H", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="append results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.S, args.H, args.repeat)))
        return

    floor = run_child("floor", 4, 3)
    big = run_child("riverswim_csr", args.S, args.H, args.repeat)
    paths = run_child("dense_vs_csr", 2000, args.H, args.repeat)
    old = run_child("build_old", 5000, args.H, 1)
    new = run_child("build_csr", 5000, args.H, 1)
    rows = [
        {"name": "floor: import mdpkit + compile the kernels, peak RSS",
         "measured": f"{floor['peak_rss_bytes'] / GIB:.2f} GiB", "target": "-", "ok": True},
        {"name": f"RiverSwim S = {args.S}, H = {args.H}: CSR build {big['build_s']:.2f} s, lean solve "
                 f"{big['solve_s']:.2f} s (nnz = {big['nnz']}, V*_0 = {big['value']:.6g}); peak RSS of build "
                 "+ solve",
         "measured": f"{big['solve_peak_rss_bytes'] / GIB:.2f} GiB", "target": "<= 1.86 GiB (2 GB)",
         "ok": big["solve_peak_rss_bytes"] <= 2e9 and not big["dense_materialised"]},
        {"name": f"  then evaluate(values='initial', return_q=False) of that policy: {big['evaluate_s']:.2f} s, "
                 f"value {big['evaluated_value']:.6g}; peak RSS of build + solve + evaluate",
         "measured": f"{big['peak_rss_bytes'] / GIB:.2f} GiB", "target": "<= 1.86 GiB (2 GB)",
         "ok": big["peak_rss_bytes"] <= 2e9 and big["evaluated_value"] == big["value"]},
        {"name": f"RiverSwim S = {args.S}: CSR solve time per non-zero per stage",
         "measured": f"{big['ns_per_nnz_stage']:.2f} ns", "target": "reported", "ok": True},
        {"name": "largest peak of any child so far (getrusage RUSAGE_CHILDREN, parent side)",
         "measured": f"{big['children_max_rss_bytes'] / GIB:.2f} GiB", "target": "-", "ok": True},
        {"name": f"RiverSwim S = 2000, H = {args.H}, same model: dense path {paths['dense_s'] * 1e3:.1f} ms = "
                 f"{paths['ns_per_dense_entry_stage']:.3f} ns per entry per stage; CSR path "
                 f"{paths['csr_s'] * 1e3:.2f} ms = {paths['ns_per_nnz_stage']:.2f} ns per non-zero per stage; "
                 f"max |V dense - V CSR| = {paths['max_value_gap']:.1e}; dense / CSR time",
         "measured": f"{paths['dense_s'] / paths['csr_s']:.0f}x", "target": "reported", "ok": True},
        {"name": f"RiverSwim S = 5000 build: old dense construction {old['build_s']:.2f} s, peak "
                 f"{old['peak_rss_bytes'] / GIB:.2f} GiB; CSR {new['build_s']:.3f} s, peak "
                 f"{new['peak_rss_bytes'] / GIB:.2f} GiB; old / CSR build time",
         "measured": f"{old['build_s'] / new['build_s']:.0f}x", "target": "reported", "ok": True},
    ]
    report("sparse models at scale", rows, args.json)


if __name__ == "__main__":
    main()
