"""Ratio benchmarks for Contrastive UCB (issue 6).

Run: ``python benchmarks/bench_contrastive.py [--json results.json] [--episodes 1000]``

1. Warm-started refits: on a random low-rank MDP with S=200, A=4, H=5, d=4 and the data stream of
   Contrastive UCB's theory version (one uniform-action anchor per stage per episode, one negative
   each), the per-episode refit time after ``--episodes`` episodes is <= 5x that after 10.
   What is timed: ``ContrastiveLearner.fit()`` (including building the returned ``phi``, ``psi``)
   right after one more episode's 10 labelled triples were added to a learner that was refitted
   along the stream (every episode for the first 20 and the last 20 before the snapshot, every
   10th in between; each refit warm-starts from the previous one). Each refit is a genuine refit:
   it ends when the WHOLE problem meets the gtol test (max projected gradient of the mean loss
   <= 1e-6) or after a full L-BFGS pass -- no refit is skipped. The timed refit is repeated on
   copies of the snapshot (best of ``--repeat``), for 7 different next episodes (median
   reported), the early and late snapshots interleaved, with one BLAS thread. Both learner modes
   are measured: the default (``local_first=True``: block passes on the parameters the new data
   touch, certified by the full gradient) and full L-BFGS passes only (``local_first=False``).
2. The per-state CCE LP (scipy HiGHS) for |A| = |B| = 4: time per state, against the zero-sum
   matrix-game LP of the same size, and the whole planning pass of run_game (H * S LPs).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, report  # noqa: E402

from mdpkit.algorithms.contrastive import ContrastiveLearner  # noqa: E402
from mdpkit.envs.lowrank import random_lowrank_mdp  # noqa: E402
from mdpkit.markov_game import coarse_correlated_equilibrium, matrix_game  # noqa: E402

S, A, H, D = 200, 4, 5, 4
NEXT_EPISODES = 7


def _episode(rng, P):
    """One episode of the theory-version stream: (stage, anchor, next state, negative) per stage."""
    out = []
    for h in range(H):
        x = int(rng.integers(S * A))
        s_next = min(int(np.searchsorted(np.cumsum(P[h, x]), rng.random(), side="right")), S - 1)
        out.append((h, x, s_next, int(rng.integers(S))))
    return out


def _add(learner, episode):
    for h, x, s_next, s_neg in episode:
        learner.add(h, x, s_next, 1)
        learner.add(h, x, s_neg, 0)


def _snapshots(local_first: bool, points: list[int]):
    """Learners refitted along one data stream, copied right after the refit at each of ``points``."""
    mdp = random_lowrank_mdp(S, A, H, D, seed=0)
    P = mdp.P.reshape(H, S * A, S)
    rng = np.random.default_rng(1)
    learner = ContrastiveLearner(H, S * A, S, D, np.full(S, 1.0 / S), max_iter=200, seed=2,
                                 local_first=local_first)
    snaps, last_fit = {}, None
    for k in range(1, max(points) + 1):
        _add(learner, _episode(rng, P))
        if k <= 20 or k % 10 == 0 or any(p - 20 <= k <= p for p in points):
            last_fit = learner.fit()
        if k in points:
            snaps[k] = (copy.deepcopy(learner), last_fit)
    following = [_episode(rng, P) for _ in range(NEXT_EPISODES)]  # the same next episodes for every point
    return snaps, following


def refit_ratio(n_episodes: int, repeat: int = 5, out=None):
    rows = []
    for local_first in (True, False):
        with threadpool_limits(limits=1):
            snaps, following = _snapshots(local_first, [10, n_episodes])
            best = {k: np.full(NEXT_EPISODES, np.inf) for k in snaps}
            info = {k: [] for k in snaps}
            for _ in range(repeat):
                for j, episode in enumerate(following):
                    for k, (snap, _) in snaps.items():  # early and late interleaved
                        learner = copy.deepcopy(snap)
                        _add(learner, episode)
                        start = time.perf_counter()
                        fit = learner.fit()
                        best[k][j] = min(best[k][j], time.perf_counter() - start)
                        info[k].append((fit.n_local_iterations, fit.n_iterations, fit.converged))
        t_early, t_late = np.median(best[10]), np.median(best[n_episodes])
        ratio = t_late / t_early
        mode = "default (block passes + full-gradient certificate)" if local_first else "full L-BFGS passes only"
        late_snap, late_fit = snaps[n_episodes]
        its = {k: (int(np.median([i[0] for i in v])), int(np.median([i[1] for i in v])),
                   all(i[2] for i in v)) for k, v in info.items()}
        rows += [
            dict(name=f"[{mode}] refit after 10 episodes", measured=f"{t_early * 1e3:.2f} ms (median over "
                 f"{NEXT_EPISODES} next episodes of best-of-{repeat}; median block / full iterations "
                 f"{its[10][0]} / {its[10][1]}; all converged: {its[10][2]})", target="-", ok=True),
            dict(name=f"[{mode}] refit after {n_episodes} episodes", measured=f"{t_late * 1e3:.2f} ms "
                 f"(block / full iterations {its[n_episodes][0]} / {its[n_episodes][1]}; all converged: "
                 f"{its[n_episodes][2]}; {late_snap.n_distinct} distinct triples; mean loss at the snapshot "
                 f"{late_fit.loss:.4f})", target="-", ok=True),
            dict(name=f"[{mode}] ratio", measured=f"{ratio:.1f}x", target="<= 5x" if local_first else "report",
                 ok=bool(ratio <= 5.0) if local_first else True),
        ]
    report(f"warm-started contrastive refits (S={S}, A={A}, H={H}, d={D})", rows, out)


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
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats of each refit (best kept)")
    args = parser.parse_args(argv)
    cce_timing(args.json)
    refit_ratio(args.episodes, args.repeat, args.json)


if __name__ == "__main__":
    main()
