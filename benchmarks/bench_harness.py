"""Ratio benchmarks for the exact-audit harness (mdpkit.learners).

Run: ``python benchmarks/bench_harness.py [--json results.json]``

All on a random MDP with S=20, A=4, H=20 (stationary, dense), single-threaded.

1. Harness share <= 25% of the total for a learner that replans with one backward induction per
   episode. The learner (:class:`Replanner`, below) keeps its empirical model current in numba and
   plans with the core kernel ``backward_induction_dense_single`` on ``R + bonus``. The share is
   ``1 - t_bare / t_harness``: ``t_harness`` is ``learners.run`` (plan, roll-out, observe, exact
   audit of every distinct policy, timings, regret); ``t_bare`` calls the same learner's
   ``policy()`` and ``observe()`` on the same episodes (recorded from a harness run; the learner is
   deterministic, so it deploys the same policies) in a bare Python loop -- the learner's own cost.
   The harness's own per-episode records (``learner_time`` vs ``episode_time``) give a second,
   in-run estimate, reported alongside.
2. Native UCBVI through its adapter (:class:`mdpkit.learners.NumbaUCBVI` + ``learners.run``)
   <= 1.5x the native loop (:func:`mdpkit.algorithms.ucbvi.run`), same K and seed (bit-identical
   values, checked here too). Theoretical constants (Bernstein), K = 2000 and K = 20000.
3. Diagnostic: the plain-Python UCBVI (:class:`mdpkit.learners.UCBVI`) per episode against the
   adapter -- the price of readability.

Each ratio is measured in one call of ``interleaved_best_times``: the sides run in alternation
(best of several rounds), so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
from _timing import interleaved_best_times, report  # noqa: E402

from mdpkit import _kernels, envs, learners  # noqa: E402
from mdpkit.algorithms import ucbvi  # noqa: E402
from mdpkit.learners.harness import learner_seed, make_setting  # noqa: E402

S, A, H = 20, 4, 20


@njit(cache=True)
def _count_episode(counts, n, P_hat, R, R_plus, bonus, states, actions):
    """Add an episode to the counts; refresh the touched rows of P_hat and of R + bonus / sqrt(n)."""
    H_, S_ = actions.shape[0], counts.shape[0]
    for h in range(H_):
        s, a = states[h], actions[h]
        counts[s, a, states[h + 1]] += 1.0
        n[s, a] += 1.0
        for y in range(S_):
            P_hat[0, s, a, y] = counts[s, a, y] / n[s, a]
        for g in range(H_):
            R_plus[g, s, a] = R[g, s, a] + bonus / np.sqrt(n[s, a])


class Replanner:
    """Certainty equivalence plus a count bonus: ONE backward induction per episode (the core kernel)."""

    name = "replanner"

    def __init__(self, bonus: float = 0.5):
        self.bonus = bonus

    def start(self, setting, seed):
        S_, A_, H_ = setting.S, setting.A, setting.H
        self.R = np.ascontiguousarray(setting.rewards)
        self.R_plus = self.R + self.bonus
        self.counts = np.zeros((S_, A_, S_))
        self.n = np.zeros((S_, A_))
        self.P_hat = np.full((1, S_, A_, S_), 1.0 / S_)
        self.Q, self.V = np.empty((H_, S_, A_)), np.empty((H_ + 1, S_))
        self.pi = np.empty((H_, S_), dtype=np.int64)

    def policy(self):
        _kernels.backward_induction_dense_single(self.P_hat, self.R_plus, self.Q, self.V, self.pi)
        return self.pi

    def observe(self, states, actions, rewards):
        _count_episode(self.counts, self.n, self.P_hat, self.R, self.R_plus, self.bonus, states, actions)


class Recording:
    def __init__(self, inner):
        self.inner, self.name = inner, inner.name
        self.episodes, self.policies = [], []

    def start(self, setting, seed):
        self.inner.start(setting, seed)

    def policy(self):
        pol = self.inner.policy()
        self.policies.append(pol.copy())
        return pol

    def observe(self, states, actions, rewards):
        self.episodes.append((states, actions, rewards))
        self.inner.observe(states, actions, rewards)


def bare_loop(make, setting, seed, episodes, check=None):
    """The learner alone: ``policy()`` then ``observe()`` on recorded episodes."""
    learner = make()
    learner.start(setting, seed)
    for k, (states, actions, rewards) in enumerate(episodes):
        pol = learner.policy()
        if check is not None:
            assert np.array_equal(pol, check[k]), f"replay diverged at episode {k}"
        learner.observe(states, actions, rewards)


def main(out=None):
    mdp = envs.random_mdp(S, A, H, seed=0)
    K_replan = 2000
    rec = Recording(Replanner())
    learners.run(rec, mdp, K=K_replan, seed=0)
    setting = make_setting(mdp, K_replan, "known")
    seed = learner_seed(np.random.SeedSequence(0))
    bare_loop(Replanner, setting, seed, rec.episodes, check=rec.policies)  # faithful replay
    in_run = learners.run(Replanner(), mdp, K=K_replan, seed=0)
    n_distinct = int(in_run.extras["policy_changed"].sum())
    share_in_run = 1.0 - in_run.extras["learner_time"].sum() / in_run.extras["episode_time"].sum()

    for K in (2000, 20000):  # bit-identity of the adapter (the ratio below compares equal work)
        assert np.array_equal(learners.run(learners.NumbaUCBVI(), mdp, K=K, seed=0).values,
                              ucbvi.run(mdp, K=K, seed=0).values)

    with threadpool_limits(1):
        t_harness, t_bare = interleaved_best_times([
            lambda: learners.run(Replanner(), mdp, K=K_replan, seed=0),
            lambda: bare_loop(Replanner, setting, seed, rec.episodes)], rounds=5, min_seconds=0.2)
        t_adapter, t_native = interleaved_best_times([
            lambda: learners.run(learners.NumbaUCBVI(), mdp, K=2000, seed=0),
            lambda: ucbvi.run(mdp, K=2000, seed=0)], rounds=5, min_seconds=0.2)
        t_adapter_long, t_native_long = interleaved_best_times([
            lambda: learners.run(learners.NumbaUCBVI(), mdp, K=20000, seed=0),
            lambda: ucbvi.run(mdp, K=20000, seed=0)], rounds=3, min_seconds=0.2)
        t_python, t_adapter_py = interleaved_best_times([
            lambda: learners.run(learners.UCBVI(), mdp, K=200, seed=0),
            lambda: learners.run(learners.NumbaUCBVI(), mdp, K=200, seed=0)], rounds=3, min_seconds=0.2)

    us = 1e6
    share = 1.0 - t_bare / t_harness
    r_short, r_long = t_adapter / t_native, t_adapter_long / t_native_long
    rows = [
        {"name": "harness share of a run, learner replanning with one backward induction per episode",
         "measured": round(share, 3), "target": "<= 0.25", "ok": share <= 0.25,
         "detail": f"harness run {t_harness / K_replan * us:.2f} us/episode, learner alone "
                   f"{t_bare / K_replan * us:.2f} us/episode; {n_distinct} distinct policies audited in "
                   f"{K_replan} episodes; in-run estimate from the harness's own timers {share_in_run:.3f}"},
        {"name": "numba UCBVI through its adapter / native loop, K=2000",
         "measured": round(r_short, 3), "target": "<= 1.5", "ok": r_short <= 1.5,
         "detail": f"{t_adapter / 2000 * us:.2f} vs {t_native / 2000 * us:.2f} us/episode (bit-identical values)"},
        {"name": "numba UCBVI through its adapter / native loop, K=20000",
         "measured": round(r_long, 3), "target": "<= 1.5", "ok": r_long <= 1.5,
         "detail": f"{t_adapter_long / 20000 * us:.2f} vs {t_native_long / 20000 * us:.2f} us/episode"},
        {"name": "plain-Python UCBVI / numba adapter, both through the harness, K=200",
         "measured": round(t_python / t_adapter_py, 1), "target": "diagnostic", "ok": True,
         "detail": f"{t_python / 200 * us:.1f} vs {t_adapter_py / 200 * us:.2f} us/episode"},
    ]
    report(f"learner harness S={S} A={A} H={H}", rows, out)
    for row in rows:
        print(f"    {row['name']}: {row['detail']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="append results to this JSON file")
    main(parser.parse_args().json)
