"""Ratio benchmarks for UCBVI and StepMix/EpsMix (issue 4 targets).

Run: ``python benchmarks/bench_ucbvi.py [--json results.json]``

All on a random MDP with S=20, A=4, H=20 (stationary, dense), Bernstein bonus, theoretical constants.

1. UCBVI time per episode <= 2x one backward induction of the same size (the replanning limit).
   The measured episode INCLUDES the exact audit of its policy (one extra H S^2 sweep on the true
   model) and the roll-out: the whole per-episode cost of ``ucbvi.run``.
2. Per-episode time at K = 1e5 within 1.2x of K = 1e3 (no growth with K).
3. ``ucbvi.run`` >= 100x more episodes/s than a straightforward Python reference (environment step
   in Python, planning vectorised in numpy) defined below.
4. A StepMix (and EpsMix) episode <= 3x a UCBVI episode. Measured in the regime where StepMix
   cannot certify pi^k yet and scans every switch step each episode (its most expensive case).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, report  # noqa: E402

import mdpkit  # noqa: E402
from mdpkit import _kernels, envs  # noqa: E402
from mdpkit.algorithms import stepmix, ucbvi  # noqa: E402

S, A, H = 20, 4, 20


def python_reference_ucbvi(mdp, K, seed, delta=0.05):
    """UCBVI-BF the straightforward way: a Python loop over steps, numpy planning per stage."""
    rng = np.random.default_rng(seed)
    L = ucbvi.log_term(mdp, K, delta)
    P, R = np.asarray(mdp.P_stages[0]), np.asarray(mdp.R)
    counts = np.zeros((S, A, S))
    visits = np.zeros((H + 1, S))
    Q_prev = np.broadcast_to((H - np.arange(H, dtype=float))[:, None, None], (H, S, A)).copy()
    values = np.empty(K)
    for k in range(K):
        n = counts.sum(axis=2)
        P_hat = counts / np.maximum(n, 1)[:, :, None]
        V = np.zeros((H + 1, S))
        policy = np.zeros((H, S), dtype=int)
        c = 1e4 * H ** 3 * S ** 2 * A * L ** 2
        for h in range(H - 1, -1, -1):
            mean = P_hat @ V[h + 1]
            var = np.maximum(P_hat @ V[h + 1] ** 2 - mean ** 2, 0)
            w = np.where(visits[h + 1] > 0, np.minimum(c / np.maximum(visits[h + 1], 1), H ** 2), H ** 2)
            nn = np.maximum(n, 1)
            b = np.sqrt(8 * L * var / nn) + 14 * H * L / (3 * nn) + np.sqrt(8 * (P_hat @ w) / nn)
            q = np.where(n > 0, np.minimum(R[h] + mean + b, H - h), H - h)
            Q_prev[h] = np.minimum(Q_prev[h], q)
            V[h] = Q_prev[h].max(axis=1)
            policy[h] = Q_prev[h].argmax(axis=1)
        values[k] = mdpkit.evaluate(mdp, policy).value
        s = rng.choice(S, p=mdp.mu0)
        visits[0, s] += 1
        for h in range(H):
            a = policy[h, s]
            s2 = rng.choice(S, p=P[s, a])
            counts[s, a, s2] += 1
            visits[h + 1, s2] += 1
            s = s2
    return values


def per_episode(fn, K, repeat=3):
    fn(10)  # compile / warm caches
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(K)
        best = min(best, (time.perf_counter() - start) / K)
    return best


def main(out=None):
    mdp = envs.random_mdp(S, A, H, seed=0)
    Q, V, pol = np.empty((H, S, A)), np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    R = np.ascontiguousarray(mdp.R)
    t_bi = best_time(lambda: _kernels.backward_induction_dense_single(mdp.P_stages, R, Q, V, pol))

    def ucb(K):
        return ucbvi.run(mdp, K=K, seed=0)

    t_1e3 = per_episode(ucb, 1_000, repeat=5)
    t_1e5 = per_episode(ucb, 100_000, repeat=2)
    t_hoeff = per_episode(lambda K: ucbvi.run(mdp, K=K, seed=0, bonus="hoeffding"), 10_000)
    t_ref = per_episode(lambda K: python_reference_ucbvi(mdp, K, 0), 100, repeat=1)

    opt = mdpkit.solve(mdp).policy
    base = np.full((H, S, A), 0.5 / A)
    np.put_along_axis(base, opt[:, :, None], 0.5 + 0.5 / A, axis=2)
    t_step = per_episode(lambda K: stepmix.run(mdp, base, alpha=0.1, K=K, seed=0), 10_000)
    t_eps = per_episode(lambda K: stepmix.run(mdp, base, alpha=0.1, K=K, seed=0, variant="epsmix"), 10_000)
    det_base = opt.copy()
    det_base[:, ::2] = (det_base[:, ::2] + 1) % A  # a worse deterministic baseline
    t_step_det = per_episode(lambda K: stepmix.run(mdp, det_base, alpha=0.1, K=K, seed=0), 10_000)
    t_ucb_1e4 = per_episode(ucb, 10_000)
    scan = stepmix.run(mdp, base, alpha=0.1, K=1000, seed=0)
    scanning = float(np.mean(scan.extras["rho"] < 1.0))

    us = 1e6
    report(f"UCBVI episode S={S} A={A} H={H} (Bernstein, theoretical constants)", [
        {"name": "UCBVI episode (incl. exact audit + roll-out) / one backward induction",
         "measured": round(t_1e3 / t_bi, 3), "target": "<= 2", "ok": t_1e3 / t_bi <= 2,
         "detail": f"episode {t_1e3 * us:.2f} us, backward induction {t_bi * us:.2f} us, "
                   f"Hoeffding episode {t_hoeff * us:.2f} us"},
        {"name": "per-episode time K=1e5 / K=1e3", "measured": round(t_1e5 / t_1e3, 3), "target": "<= 1.2",
         "ok": t_1e5 / t_1e3 <= 1.2, "detail": f"{t_1e5 * us:.2f} us vs {t_1e3 * us:.2f} us"},
        {"name": "episodes/s: ucbvi.run / Python reference", "measured": round(t_ref / t_1e3, 1),
         "target": ">= 100", "ok": t_ref / t_1e3 >= 100, "detail": f"reference {t_ref * 1e3:.2f} ms/episode"},
        {"name": "StepMix episode / UCBVI episode", "measured": round(t_step / t_ucb_1e4, 3), "target": "<= 3",
         "ok": t_step / t_ucb_1e4 <= 3,
         "detail": f"StepMix {t_step * us:.2f} us, UCBVI {t_ucb_1e4 * us:.2f} us; "
                   f"{scanning:.0%} of episodes in the scanning regime"},
        {"name": "StepMix episode (deterministic baseline) / UCBVI episode",
         "measured": round(t_step_det / t_ucb_1e4, 3), "target": "<= 3", "ok": t_step_det / t_ucb_1e4 <= 3,
         "detail": f"StepMix {t_step_det * us:.2f} us"},
        {"name": "EpsMix episode / UCBVI episode", "measured": round(t_eps / t_ucb_1e4, 3), "target": "<= 3",
         "ok": t_eps / t_ucb_1e4 <= 3, "detail": f"EpsMix {t_eps * us:.2f} us"},
    ], out)
    print(f"     backward induction {t_bi * us:.2f} us; UCBVI episode {t_1e3 * us:.2f} us (K=1e3), "
          f"{t_1e5 * us:.2f} us (K=1e5); Python reference {t_ref * 1e3:.2f} ms/episode; "
          f"StepMix {t_step * us:.2f} us; EpsMix {t_eps * us:.2f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="append results to this JSON file")
    main(parser.parse_args().json)
