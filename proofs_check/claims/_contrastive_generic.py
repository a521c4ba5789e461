"""Contrastive UCB on generic low-rank MDPs: online span recovery against random and spectral references.

Issue 12, item 9. The recovery claims of :mod:`proofs_check.claims.contrastive_ucb` fit i.i.d. uniform
data on ``d = 2`` instances, where the all-ones vector (shared by every simplex feature map) leaves
a single informative direction. Here the data are the ones :func:`mdpkit.algorithms.contrastive_ucb.run`
collects online, the instances are generic (:func:`mdpkit.envs.lowrank.generic_lowrank_mdp`:
Dirichlet factors, ``d`` in {2, 3, 5}, ``S`` up to 60), and the learned span is read against two
references on the same visited rows and count weights (:mod:`mdpkit.lowrank_metrics`): random
features (what a learner that learned nothing gets) and the rank-``d`` SVD of the visit-count
kernel (a learner-free spectral estimate). Stages with ``<= d`` visited pairs are NaN and skipped.

The learner's features are read from the run's public trace (``record=True``); the run's own
``feature_angle`` is the worst stage's angle and counted stages with no data as 0.

Imports of mdpkit's algorithms and instances happen inside the functions (cheap ``load_claims``).
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from ..claim import Claim, Finding, Grid, Mutant, Paper, Pin, Provenance, Sweep
from ..rules import BoundHolds

PAPER = Paper("Contrastive UCB: Provably Efficient Contrastive Self-Supervised Learning in Online "
              "Reinforcement Learning (Qiu, Wang, Bai, Yang & Wang, ICML 2022)", arxiv="2207.14800",
              where="abstract (the contrastive loss recovers the true representation); theorem statements not "
                    "available")

#: Random-feature draws per snapshot for the reference level (its spread over draws is ~0.05 rad).
_RANDOM_DRAWS = 16
#: Required margin (rad) of the learned largest angle below the random-feature level (issue 12).
MARGIN = 0.3
#: Margin that separates "learned something" from random features at the claim's small budget:
#: random and never-refitted features sit at -0.06..0.03 (measured, 4 draws each), the learner
#: at 0.14..0.37 (8 draws) on the separated instances of SEPARATED_LEARNING.
LEARNING_MARGIN = 0.1


def online_snapshots(lrmdp, *, K: int, seed, checkpoints, **run_kwargs) -> tuple[list[dict], object]:
    """Run Contrastive UCB and read the learner's state after the fits of the given episodes.

    Uses the run's public trace (``record=True``; every other output unchanged): the features and
    right factor of each episode's fit, and the transitions sampled in each episode, from which the
    visit counts are rebuilt.

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
        One per checkpoint, in episode order: ``k``, ``phi`` (H, N, d) learned features, ``P_hat``
        (H, N, S) the row-normalised model ``(phi psi) P^-`` the planner uses, ``anchor_counts``
        (H, N) and ``next_counts`` (H, N, S) of the transitions of episodes ``1..k``.
    result : RunResult
        The run, its ``trace`` removed (it holds every episode's arrays).
    """
    from mdpkit.algorithms import contrastive_ucb

    wanted = sorted(set(int(k) for k in checkpoints))
    if not wanted or wanted[0] < 1 or wanted[-1] > K:
        raise ValueError(f"checkpoints must lie in [1, K = {K}], got {list(checkpoints)}")
    result = contrastive_ucb.run(lrmdp, K=K, seed=seed, record=True, **run_kwargs)
    trace = result.extras.pop("trace")
    H, S, A = lrmdp.H, lrmdp.S, lrmdp.A
    next_counts = np.zeros((H, S * A, S))
    snapshots: list[dict] = []
    for k, episode in enumerate(trace, start=1):
        h, x, s_next = episode["transitions"].T
        np.add.at(next_counts, (h, x, s_next), 1.0)
        if k in wanted:
            P_hat = (episode["phi"] @ episode["psi"]) * episode["negative_dist"][:, None, :]
            snapshots.append({"k": k, "phi": episode["phi"], "P_hat": P_hat / P_hat.sum(axis=2, keepdims=True),
                              "anchor_counts": next_counts.sum(axis=2), "next_counts": next_counts.copy()})
    return snapshots, result


def snapshot_metrics(lrmdp, snapshot: dict, rng: np.random.Generator, *, n_random: int = _RANDOM_DRAWS,
                     diagnostics: bool = False) -> dict:
    """Per-stage recovery metrics of one snapshot (:mod:`mdpkit.lowrank_metrics`), count weights.

    Returns
    -------
    dict of ndarray, each shape (H,)
        ``learned_angle``, ``learned_rms`` (learned features); ``random_angle``, ``random_rms`` (mean
        of ``n_random`` random-feature draws); ``svd_angle``, ``svd_rms`` (rank-d SVD of the count
        kernel); ``learned_tv``, ``count_tv`` (count-weighted mean TV of the learner's normalised
        model and of the count estimate); ``n_rows`` (visited pairs). NaN at stages with ``<= d``
        visited pairs (the kernel errors are defined at every visited stage). With ``diagnostics``
        also ``oracle_angle``, ``oracle_rms`` (per-anchor MLE features given the TRUE psi,
        :func:`mdpkit.lowrank_metrics.oracle_psi_features`), ``snr`` (:func:`~mdpkit.lowrank_metrics.spectral_snr`)
        and ``marginal_tv`` (one pooled next-state distribution for every anchor).
    """
    from mdpkit import lowrank_metrics as lm

    H, S, A, d = lrmdp.H, lrmdp.S, lrmdp.A, lrmdp.d
    phi_true = np.asarray(lrmdp.phi).reshape(H, S * A, d)
    P_true = np.asarray(lrmdp.P).reshape(H, S * A, S)
    w = snapshot["anchor_counts"]
    learned = lm.stage_span_errors(snapshot["phi"], phi_true, w)
    random = lm.random_feature_level(phi_true, w, n_draws=n_random, rng=rng)
    counts = snapshot["next_counts"]
    svd = lm.stage_span_errors(lm.count_svd_features(counts, d), phi_true, w)
    out = {"learned_angle": learned["largest"], "learned_rms": learned["rms_sin"],
           "random_angle": random["largest"], "random_rms": random["rms_sin"],
           "svd_angle": svd["largest"], "svd_rms": svd["rms_sin"],
           "learned_tv": lm.kernel_error(snapshot["P_hat"], P_true, w),
           "count_tv": lm.kernel_error(lm.count_kernel(counts), P_true, w),
           "n_rows": learned["n_rows"]}
    if diagnostics:
        oracle = lm.stage_span_errors(lm.oracle_psi_features(counts, np.asarray(lrmdp.psi)), phi_true, w)
        pooled = counts.sum(axis=1, keepdims=True)  # one next-state distribution for every anchor
        out.update(oracle_angle=oracle["largest"], oracle_rms=oracle["rms_sin"],
                   snr=lm.spectral_snr(counts, P_true, d),
                   marginal_tv=lm.kernel_error(np.broadcast_to(lm.count_kernel(pooled), P_true.shape), P_true, w))
    return out


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


# ============================================================================ observe functions
def _generic_run(params: dict, seed, *, features: str = "learned", never_refit: bool = False) -> dict:
    """One online run on a fresh instance draw (drawn from ``seed``); metrics at episode ``K``.

    ``params``: ``S, A, H, d, K`` and optionally ``phi_c``, ``psi_c`` (Dirichlet concentrations of
    the instance, default 1) and ``m`` (negatives per positive; absent = the run's default). Only
    what the sweep names is passed to :func:`~mdpkit.algorithms.contrastive_ucb.run`, so a grid
    without ``m`` runs the library defaults exactly (``record=True`` changes no output).

    Returns
    -------
    dict
        :func:`snapshot_metrics` (H,) arrays at ``k = K``; ``margin`` (scalar): mean over the stages
        with a finite angle of ``random_angle - learned_angle`` (rad; > 0 = better than random);
        ``shortfall`` = ``MARGIN - margin`` (<= 0 iff the learned span is at least MARGIN below the
        random level); ``svd_margin`` (scalar): the same margin for the count-SVD features.
    """
    from mdpkit.envs.lowrank import generic_lowrank_mdp

    instance_seed, run_seed, metric_seed = seed.spawn(3)
    lrmdp = generic_lowrank_mdp(params["S"], params["A"], params["H"], params["d"], seed=instance_seed,
                                phi_concentration=params.get("phi_c", 1.0), psi_concentration=params.get("psi_c", 1.0))
    run_kwargs = {} if "m" not in params else {"n_negatives": params["m"]}
    if features != "learned":
        run_kwargs["features"] = features
    if never_refit:
        from mdpkit.algorithms.contrastive import ContrastiveLearner

        original_fit = ContrastiveLearner.fit

        def fit_once(learner):  # the bug: only the first fit optimises; later ones return stale parameters
            if learner._fitted:
                learner._changed = []
                return learner.current(loss=0.0)
            return original_fit(learner)

        run_kwargs["cold_refits"] = False  # a cold learner's first fit would otherwise refit
        with mock.patch.object(ContrastiveLearner, "fit", fit_once):
            snapshots, _ = online_snapshots(lrmdp, K=params["K"], seed=run_seed, checkpoints=[params["K"]],
                                            **run_kwargs)
    else:
        snapshots, _ = online_snapshots(lrmdp, K=params["K"], seed=run_seed, checkpoints=[params["K"]], **run_kwargs)
    out = snapshot_metrics(lrmdp, snapshots[-1], np.random.default_rng(metric_seed))

    def margin(angle):
        gap = out["random_angle"] - angle
        return np.float64(np.nanmean(gap)) if np.isfinite(gap).any() else np.float64(np.nan)

    out["margin"] = margin(out["learned_angle"])
    out["svd_margin"] = margin(out["svd_angle"])
    out["shortfall"] = np.float64(MARGIN - out["margin"])
    out["learning_shortfall"] = np.float64(LEARNING_MARGIN - out["margin"])
    return out


def observe_generic_recovery(params, seed):
    """Online span recovery on a generic instance draw (see :func:`_generic_run`)."""
    return _generic_run(params, seed)


def observe_generic_random_features(params, seed):
    """Mutant: features frozen at their random initialisation (``features="random"``)."""
    return _generic_run(params, seed, features="random")


def observe_generic_never_refit(params, seed):
    """Mutant: the learner is fitted once, after the first episode, and never again."""
    return _generic_run(params, seed, never_refit=True)


def _learned_replaced_by_random(observed: dict) -> dict:
    """Derived mutant: the learned features are replaced by random ones (the angle reported is the
    random-feature level), e.g. a fit that returns its initial parameters."""
    out = dict(observed)
    out["learned_angle"] = observed["random_angle"]
    out["margin"] = np.float64(0.0)
    out["shortfall"] = np.float64(MARGIN)
    out["learning_shortfall"] = np.float64(LEARNING_MARGIN)
    return out


# ============================================================================ claims
_GENERIC_NOTE = ("docs/papers/contrastive_ucb.md#contrastive-ucb-generic-instances: online data of "
                 "contrastive_ucb.run, per-stage angles on the visited pairs with count weights (stages with <= d "
                 "visited pairs skipped), random features and the count-SVD on the same rows and weights")

GENERIC_SPAN_VS_RANDOM = Claim(
    id="contrastive_ucb.generic_span_vs_random",
    paper=PAPER,
    statement=(f"On generic low-rank MDPs (Dirichlet(1) factors, d = 3, S = 40, A = 4, H = 3, uniform start), "
               f"Contrastive UCB with its default hyper-parameters learns a representation clearly better than random "
               f"features from K <= 2000 episodes of its own online data: on most instance draws the largest principal "
               f"angle to span(phi*), averaged over stages, is at least {MARGIN} rad below the random-feature level on "
               f"the same visited pairs and count weights."),
    provenance=Provenance("reconstructed",
                          "'The contrastive loss recovers the true representation' is the abstract's; the generic "
                          "instances, the online data, the per-stage weighted angle, the random-feature reference "
                          f"and the {MARGIN} rad margin are reconstructed (issue 12): " + _GENERIC_NOTE),
    observe=observe_generic_recovery,
    sweep=Sweep(quick=Grid(S=[40], A=[4], H=[3], d=[3], K=[150]),
                full=Grid(S=[40], A=[4], H=[3], d=[3], K=[2000]),
                seeds_quick=3, seeds_full=8),
    rule=BoundHolds("shortfall", quantile=0.5),
    bound=lambda p: 0.0,
    mutants=[
        Mutant("learned_replaced_by_random", derive=_learned_replaced_by_random,
               why="the learned features replaced by random ones (a fit returning its initial parameters): margin 0, "
                   "shortfall 0.3. NOT caught, and that is the finding: at these budgets the learner's margin is "
                   "itself ~0, so this check cannot tell learned from random features"),
    ],
    observed=f"{MARGIN} rad - (random-feature angle - learned angle), stage mean; median over draws",
    finding=Finding(
        "Does not hold for our implementation at K <= 2000 (FAIL): the learned span stays at the random level. "
        "Study (paper_figs/contrastive_ucb/generic, d = 3, S = 40, K = 2000, 4 draws, defaults): stage-mean learned "
        "angle 1.46 rad against 1.52 for random features on the same rows and count weights, margins 0.02-0.10 "
        "(0 of 4 draws >= 0.3). Why, with numbers: (i) the data barely carry the span -- per-anchor maximum "
        "likelihood given the TRUE psi reaches 0.89 rad (margin 0.63), but the rank-3 SVD of the visit-count kernel, "
        "which like the learner must also estimate psi, only 1.36 (margin 0.06-0.23); the spectral signal-to-noise "
        "ratio sigma_3(sqrt(W) P) / ||sqrt(W)(P_count - P)|| is 0.48 and grows like sqrt(K), so it reaches 1 (below "
        "which Wedin's bound allows a whole direction to be lost) only at K ~ 2000 / 0.48^2 ~ 8700: 12.5 visits per "
        "anchor over 40 next states, kernel rows differing by ~0.15 TV from their pooled mean; (ii) the contrastive "
        "learner is less efficient than the SVD: at K = 5000 (1 draw) SVD 0.95 rad, learned 1.33 (margin 0.19). "
        "Its kernel error (count-weighted TV 0.32) is below the count estimate's (0.60) but above one pooled next-"
        "state distribution's (0.15): it smooths towards the marginal rather than identifying phi. Measured "
        "improvements (run parameters, defaults unchanged): 8 negatives per positive cut the TV to 0.23 (angle "
        "1.45); one negative at every state (noise-free negatives, m = S) to 0.22, angle 1.34 (margins 0.18-0.19, "
        "2 draws); warm-only fits (no cold refits) 1.48: the refit schedule is not the bottleneck. Other shapes "
        "(K = 2000): d = 2 margin 0.08 (SVD 0.57), d = 5 -0.01 (SVD 0.05), S = 20 0.10 (SVD 0.54), S = 60 0.01 "
        "(SVD 0.07). Full budget (K = 2000, 8 draws): margins -0.002..0.057, median shortfall 0.285. Quick budget "
        "(K = 150, 3 draws): margins -0.02..0.05, median shortfall 0.30.",
        statistic="claim.max_excess", expect="FAIL",
        quick=Pin(0.3, (0.15, 0.45), "median over 3 draws of the shortfall 0.3 - margin; margin's spread over "
                                      "draws at the random level is ~0.05 rad (16-draw random reference), band "
                                      "+-0.15 = 3 spreads"),
        full=Pin(0.285, (0.135, 0.435), "median over 8 draws at K = 2000 (margins -0.002..0.057; the study's 4 "
                                        "draws: 0.02-0.10), band +-0.15 = 3 spreads of a draw's margin")),
)

SEPARATED_LEARNING = Claim(
    id="contrastive_ucb.generic_separated_learning",
    paper=PAPER,
    statement=(f"On generic low-rank MDPs with well-separated factors (Dirichlet(0.2) features and prototypes, d = 3, "
               f"S = 20, A = 4, H = 3, uniform start), Contrastive UCB with 8 negatives per positive learns from its "
               f"own online data: after K = 200 episodes the learned span's largest principal angle, averaged over "
               f"stages, is at least {LEARNING_MARGIN} rad below the random-feature level on the same visited pairs "
               f"and count weights, on most instance draws."),
    provenance=Provenance("reconstructed",
                          "A weak, measurable form of the abstract's 'recovers the true representation' where the "
                          "data carry the signal (separated factors: the count-SVD is 0.3-0.7 rad below random "
                          "there at K = 200); instances, margin, negatives and budget are reconstructed: "
                          + _GENERIC_NOTE),
    observe=observe_generic_recovery,
    sweep=Sweep(quick=Grid(S=[20], A=[4], H=[3], d=[3], phi_c=[0.2], psi_c=[0.2], m=[8], K=[200]),
                full=Grid(S=[20], A=[4], H=[3], d=[3], phi_c=[0.2], psi_c=[0.2], m=[8], K=[200, 500]),
                seeds_quick=3, seeds_full=12),
    rule=BoundHolds("learning_shortfall", quantile=0.5),
    bound=lambda p: 0.0,
    mutants=[
        Mutant("random_features", observe_generic_random_features,
               why="features frozen at their random initialisation: the angle is the random level (margins -0.01..0.02 "
                   "measured), shortfall ~0.1 > 0 on every draw"),
        Mutant("never_refit", observe_generic_never_refit,
               why="the learner is fitted once, after the first episode's 3 transitions, never again: its features "
                   "carry no information about phi*, margin ~0"),
    ],
    observed=f"{LEARNING_MARGIN} rad - (random-feature angle - learned angle), stage mean; median over draws",
)

GENERIC_CLAIMS = [GENERIC_SPAN_VS_RANDOM, SEPARATED_LEARNING]
