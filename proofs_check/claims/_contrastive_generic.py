"""Contrastive UCB on generic low-rank MDPs: online span recovery against random and spectral references.

Issue 12, item 9. The recovery claims of :mod:`proofs_check.claims.contrastive_ucb` fit i.i.d. uniform
data on ``d = 2`` instances, where the all-ones vector (shared by every simplex feature map) leaves
a single informative direction. Here the data are the ones :func:`mdpkit.algorithms.contrastive_ucb.run`
collects online, the instances are generic (:func:`mdpkit.envs.lowrank.generic_lowrank_mdp`:
Dirichlet factors, ``d`` in {2, 3, 5}, ``S`` up to 60), and the learned span is read against two
references on the same visited rows and count weights (:mod:`mdpkit.lowrank_metrics`): random
features (what a learner that learned nothing gets) and the rank-``d`` SVD of the visit-count
kernel (a learner-free spectral estimate). Stages with ``<= d`` visited pairs are NaN and skipped.

The learner's final features are read by wrapping ``_Explorer.fit_and_bonus`` (the run returns
only the worst-stage angle per episode, which counts empty stages as 0); the wrapper changes
nothing in the run (tested: values bit-identical with and without it).

Imports of mdpkit's algorithms and instances happen inside the functions (cheap ``load_claims``).
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from ..claim import Claim, Finding, Grid, Mutant, Paper, Pin, Provenance, Sweep
from ..rules import HighProbability

PAPER = Paper("Contrastive UCB: Provably Efficient Contrastive Self-Supervised Learning in Online "
              "Reinforcement Learning (Qiu, Wang, Bai, Yang & Wang, ICML 2022)", arxiv="2207.14800",
              where="abstract (the contrastive loss recovers the true representation); theorem statements not "
                    "available")

#: Random-feature draws per snapshot for the reference level (its spread over draws is ~0.05 rad).
_RANDOM_DRAWS = 16
#: Required margin (rad) of the learned largest angle below the random-feature level (issue 12).
MARGIN = 0.3


def online_snapshots(lrmdp, *, K: int, seed, checkpoints, **run_kwargs) -> tuple[list[dict], object]:
    """Run Contrastive UCB and keep the learner's state after the fits of the given episodes.

    Parameters
    ----------
    lrmdp : LowRankMDP
    K : int
        Episodes.
    seed : int or SeedSequence
        The run's seed.
    checkpoints : sequence of int
        Episode counts ``k`` (1-based, ``<= K``) after whose fit a snapshot is taken.
    **run_kwargs
        Passed to :func:`mdpkit.algorithms.contrastive_ucb.run`.

    Returns
    -------
    snapshots : list of dict
        One per checkpoint: ``k``, ``phi`` (H, N, d) learned features, ``P_hat`` (H, N, S) the
        normalised model the planner uses, ``anchor_counts`` (H, N), ``next_counts`` (H, N, S).
    result : RunResult
    """
    from mdpkit.algorithms import contrastive_ucb

    wanted = set(int(k) for k in checkpoints)
    snapshots: list[dict] = []
    original = contrastive_ucb._Explorer.fit_and_bonus

    def fit_and_bonus(explorer, beta):
        fit, Lambda_inv, bonus = original(explorer, beta)
        if explorer.n_fits in wanted:
            snapshots.append({"k": explorer.n_fits, "phi": fit.phi.copy(),
                              "P_hat": fit.transition_estimate(normalize=True),
                              "anchor_counts": explorer.anchor_counts.copy(),
                              "next_counts": explorer.next_counts.copy()})
        return fit, Lambda_inv, bonus

    with mock.patch.object(contrastive_ucb._Explorer, "fit_and_bonus", fit_and_bonus):
        result = contrastive_ucb.run(lrmdp, K=K, seed=seed, **run_kwargs)
    return snapshots, result


def snapshot_metrics(lrmdp, snapshot: dict, rng: np.random.Generator, *, n_random: int = _RANDOM_DRAWS) -> dict:
    """Per-stage recovery metrics of one snapshot (:mod:`mdpkit.lowrank_metrics`), count weights.

    Returns
    -------
    dict of ndarray, each shape (H,)
        ``learned_angle``, ``learned_rms`` (learned features); ``random_angle``, ``random_rms`` (mean
        of ``n_random`` random-feature draws); ``svd_angle``, ``svd_rms`` (rank-d SVD of the count
        kernel); ``learned_tv``, ``count_tv`` (count-weighted mean TV of the learner's normalised
        model and of the count estimate); ``n_rows`` (visited pairs). NaN at stages with ``<= d``
        visited pairs (the kernel errors are defined at every visited stage).
    """
    from mdpkit import lowrank_metrics as lm

    H, S, A, d = lrmdp.H, lrmdp.S, lrmdp.A, lrmdp.d
    phi_true = np.asarray(lrmdp.phi).reshape(H, S * A, d)
    P_true = np.asarray(lrmdp.P).reshape(H, S * A, S)
    w = snapshot["anchor_counts"]
    learned = lm.stage_span_errors(snapshot["phi"], phi_true, w)
    random = lm.random_feature_level(phi_true, w, n_draws=n_random, rng=rng)
    svd = lm.stage_span_errors(lm.count_svd_features(snapshot["next_counts"], d), phi_true, w)
    return {"learned_angle": learned["largest"], "learned_rms": learned["rms_sin"],
            "random_angle": random["largest"], "random_rms": random["rms_sin"],
            "svd_angle": svd["largest"], "svd_rms": svd["rms_sin"],
            "learned_tv": lm.kernel_error(snapshot["P_hat"], P_true, w),
            "count_tv": lm.kernel_error(lm.count_kernel(snapshot["next_counts"]), P_true, w),
            "n_rows": learned["n_rows"]}


def generic_recovery(params: dict, seed, **run_kwargs) -> dict:
    """One online run on instance draw ``params["instance"]``; metrics at the final episode.

    Parameters
    ----------
    params : dict
        ``S, A, H, d, K, instance`` (the instance seed; fixed per sweep point).
    seed : SeedSequence
        Spawns the run's seed and the random-feature draws.

    Returns
    -------
    dict
        The :func:`snapshot_metrics` arrays (H,) at ``k = K``, and ``margin`` (scalar): the mean over
        stages with a finite metric of ``random_angle - learned_angle`` (rad; > 0 = better than random).
    """
    from mdpkit.envs.lowrank import generic_lowrank_mdp

    lrmdp = generic_lowrank_mdp(params["S"], params["A"], params["H"], params["d"], seed=params["instance"])
    run_seed, metric_seed = seed.spawn(2)
    snapshots, _ = online_snapshots(lrmdp, K=params["K"], seed=run_seed, checkpoints=[params["K"]], **run_kwargs)
    out = snapshot_metrics(lrmdp, snapshots[-1], np.random.default_rng(metric_seed))
    gap = out["random_angle"] - out["learned_angle"]
    out["margin"] = np.float64(np.nanmean(gap)) if np.isfinite(gap).any() else np.float64(np.nan)
    return out
