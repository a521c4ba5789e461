"""Claims of "Optimal Horizon-Free Reward-Free Exploration for Linear Mixture MDPs" (ICML 2023).

Every observed quantity is exact: gaps ``V*_r - V^{pi_r}_r`` come from backward induction on the
true tabular model (``mdpkit.audit.exact_gaps``) for a fixed, seeded reward battery.
Both algorithms run with a scaled confidence radius (``beta_scale``; the theoretical one makes
exploration uninformed at feasible K -- see mdpkit/algorithms/hf_rfe.py); the scale is part of
the claim's parameters.

Claims: (a) ``certificate`` -- the planner's certificate bounds the true gap; (b) ``horizon_free``
-- episodes needed flat in H on the long-horizon chain; (c) ``gap_rate`` -- worst gap over the
hard-instance family decays like K^-1/2; (d) ``d_scaling`` -- episodes needed grow at most like d^2.

History (issue 5): (c) and (d) were documented findings while the relaxed oracle broke its ties
by lowest action index. With the practical radius the truncated objective ``min{1, beta ||psi||}``
is saturated on the three-state instances for the whole budget, every first-step action is a
maximiser, and the lowest-index rule played the sign actions one at a time. The oracle now plays a
uniformly random maximiser (seeded; ``hf_rfe.explore(tie_break=...)``); the checks were also
corrected: (c) scans the instances up to the hardest perturbation for the budget, (d) fits the
rate in the number of unknown sign directions ``d - 1`` and measures the episodes after which the
gap *stays* below eps. Both now hold at the quick and full budgets (full: gap_rate slope CI
[-0.631, -0.448] (d=3), [-0.630, -0.510] (d=5); d_scaling [1.406, 1.801]; mutants caught).

Resolved (issue 5, ``horizon_free``): with the random tie-break the old check (first *doubling*
checkpoint 25, 50, 100, ... with gap <= eps) passed at quick but failed at full in one of four groups
(d=4, eps=0.01: slope CI [0.058, 0.310] vs 0.15; means 46 / 66 / 54 / 101 episodes at H = 10 / 30 /
100 / 300): a measurement sitting on its first checkpoints, a lucky first dip counted as learned,
and a tolerance of 0.15 that contradicted its own justification (log^2(7KH) changes by 1.92x over
H in [10, 300] at K = 100, a chord slope of 0.19, not < 0.15). Now: episodes after which the gap
*stays* <= eps, on a 2^(1/4)-geometric grid from 8 episodes, d in {4, 5} (at d = 3 many runs settle
at the first checkpoint), 40 seeds, budget 2048 (never censored), tolerance = the chord of log^2(7KH)
at K = 100 (0.191), fixed before the re-run. Full: slope CI [-0.187, 0.083] (d=4; means 98 / 97 /
70 / 93) and [-0.081, 0.129] (d=5; 186 / 199 / 169 / 218); UCRL-RFE mutant caught ([0.606, 0.639],
[0.452, 0.501]). Both groups would also pass the old 0.15.

Quick budget of the module (224 runs on 2 workers): 44 s wall at load average 5 (the old module
took 23 s wall at load 2.5 and 61 s at load 5). horizon_free alone: 60 runs, 17 s of run time,
11.5 s wall at load 2 (was 40 runs, 10 s); d_scaling's quick seeds went 10 -> 8 to pay for it.
The full horizon_free run (640 runs) took 34 min wall at load 5-8, 82% of it the UCRL-RFE mutant
at its 16x budget (32768 episodes at H = 300).
"""

from __future__ import annotations


import numpy as np

from mdpkit import audit
from mdpkit._validation import check_positive_int
from mdpkit.algorithms import hf_rfe, ucrl_rfe
from mdpkit.envs.linear import long_horizon_two_state, random_linear_mixture, three_state_hard
from mdpkit.linear import plan_with_ellipsoids

from ..claim import Claim, Grid, Mutant, Paper, Provenance, Sweep
from ..rules import BoundHolds, Rate, log_factor_chord

PAPER = Paper("Optimal Horizon-Free Reward-Free Exploration for Linear Mixture MDPs (Zhang, Zhang & Gu, ICML 2023)",
              arxiv="2303.10165", where="Thm 2.6.3 and Lemma 2.8.7 (W. Zhang's thesis numbering)")

#: First checkpoint of every episodes-needed measurement; checkpoints double from it up to the budget.
_FIRST_CHECKPOINT = 25
#: The UCRL-RFE mutant gets a 16x larger budget (it only helps it), so that it resolves the small horizons.
_BASELINE_BUDGET_FACTOR = 16


def doubling_checkpoints(k_max: int) -> tuple:
    """``(25, 50, 100, ..., k_max)``: episode counts at which a run's snapshot is audited.

    Parameters
    ----------
    k_max : int
        The budget; must be ``25 * 2^j`` for some ``j >= 0``.
    """
    k_max = check_positive_int("k_max", k_max, minimum=_FIRST_CHECKPOINT)
    ratio = k_max // _FIRST_CHECKPOINT
    if k_max % _FIRST_CHECKPOINT or ratio & (ratio - 1):
        raise ValueError(f"k_max = {k_max} must be {_FIRST_CHECKPOINT} times a power of 2")
    return tuple(_FIRST_CHECKPOINT * 2 ** j for j in range(ratio.bit_length()))


# ============================================================================ (a) certificate
def _certificate_run(params, seed, *, honest: bool):
    lmdp = random_linear_mixture(5, 3, 4, params["H"], seed=seed.spawn(1)[0])
    run = hf_rfe.explore(lmdp, K=params["K"], seed=seed, beta_scale=params["beta_scale"], tie_break="random")
    battery = audit.reward_battery(lmdp, seed=0, exploration=run)
    result = audit.exact_gaps(run, battery)
    certificates = result.certificates
    if not honest:  # plan the same rewards, certify with a zero-width confidence set
        details = plan_with_ellipsoids(lmdp, battery.rewards, plan_theta=run.plan_theta,
                                       centres=run.plan_theta[None], inverse_grams=run.inverse_grams[:1],
                                       radius=0.0, planner="plugin")
        certificates = details.certificate
    return {"gap_minus_certificate": result.gaps - certificates,
            "theta_covered": np.array([float(run.theta_star_covered())])}


def observe_certificate(params, seed):
    """``gap - certificate`` for every battery reward (<= 0 when the certificate is valid)."""
    return _certificate_run(params, seed, honest=True)


def observe_certificate_without_uncertainty(params, seed):
    """Mutant: the certificate ignores estimation uncertainty (ellipsoid radius 0 at the plug-in model)."""
    return _certificate_run(params, seed, honest=False)


CERTIFICATE = Claim(
    id="hf_rfe.certificate",
    paper=PAPER,
    statement=("On the good event (theta* in the confidence set), the algorithm's certificate upper-bounds "
               "the true suboptimality V*_r - V^{pi_r}_r of its planned policy for every reward r."),
    provenance=Provenance("reconstructed", "The thesis certifies gap <= 4 V_hat_K through its exact oracle "
                                           "(Lemma 2.8.7); with the relaxed oracle the certificate is the "
                                           "per-reward optimistic-minus-pessimistic value over the final "
                                           "ellipsoids (Lemma 2.8.1's argument), for the plug-in policy in "
                                           "theta_tilde[0] (reconstructed; the thesis plans in the oracle's "
                                           "theta_K)."),
    observe=observe_certificate,
    sweep=Sweep(quick=Grid(H=[10, 30], K=[30, 200], beta_scale=[0.01]),
                full=Grid(H=[10, 30, 100], K=[30, 100, 300, 1000], beta_scale=[0.003, 0.01, 1.0]),
                seeds_quick=5, seeds_full=20),
    rule=BoundHolds("gap_minus_certificate", x="K"),
    bound=lambda p: 1e-9,  # rounding of two exact sweeps
    mutants=[Mutant("no_uncertainty", observe_certificate_without_uncertainty,
                    why="a certificate from the fitted model alone (radius 0) is 0 while the true gap is "
                        "positive at small K: the bound must be violated")],
    observed="gap - certificate",
)


# ============================================================================ (b) horizon-free
#: First checkpoint of the fine horizon_free grid and its points per doubling (ratio 2^(1/4)).
_FINE_FIRST, _FINE_PER_OCTAVE = 8, 4
#: Episode scale of the horizon_free measurement, at which its polylog tolerance is evaluated:
#: mean episodes needed were 46-101 in the full run of 2026-11-21 (before this check was derived).
_HF_EPISODE_SCALE = 100
#: Horizons of the horizon_free sweep.
_HF_HORIZONS = (10, 30, 100, 300)


def fine_checkpoints(k_max: int, per_octave: int = _FINE_PER_OCTAVE) -> tuple:
    """``round(8 * 2^(j/4))`` for ``j = 0 .. 4 log2(k_max / 8)``: 8, 10, 11, 13, 16, 19, ..., ``k_max``.

    A geometric grid with ratio ``2^(1/4)`` (about 19% apart; every rounded value is distinct),
    fine enough that the episodes-needed measurement is not limited by the grid when the learner
    needs tens to hundreds of episodes.

    Parameters
    ----------
    k_max : int
        The budget; must be ``8 * 2^i`` for some ``i >= 0``.
    per_octave : int
        Checkpoints per doubling (ratio ``2^(1/per_octave)``); 1 gives 8, 16, 32, ..., ``k_max``.
    """
    k_max = check_positive_int("k_max", k_max, minimum=_FINE_FIRST)
    per_octave = check_positive_int("per_octave", per_octave)
    ratio = k_max // _FINE_FIRST
    if k_max % _FINE_FIRST or ratio & (ratio - 1):
        raise ValueError(f"k_max = {k_max} must be {_FINE_FIRST} times a power of 2")
    if per_octave > 4:  # beyond 4 per doubling the rounded values of the first octave repeat
        raise ValueError(f"per_octave = {per_octave} must be <= 4")
    n = per_octave * (ratio.bit_length() - 1)
    return tuple(int(round(_FINE_FIRST * 2.0 ** (j / per_octave))) for j in range(n + 1))


def polylog_chord(k: float, h_min: float, h_max: float) -> float:
    """Log-log chord slope in ``H`` of ``log^2(7 k H)`` between ``h_min`` and ``h_max``.

    Reconstructed: ``log^2(7 K H)`` is *our* reference polylog for the horizon_free tolerance, not
    a factor the paper names. Thm 2.6.3's O~ carries H through ``iota``, ``tau`` and
    ``M = ceil(log2(7 K H))``; its explicit episodes bound (Cor 2.6.4, leading term
    ``~ beta_K^2 d iota / eps^2``) has a log-log slope of about 0.42 in H over [10, 300] at
    K = 100 (d = 4, 5; ``confidence_radius``), so this chord is the stricter allowance. An
    algorithm whose episodes needed grow exactly like ``log^2(7 K H)`` has this log-log slope over
    ``[h_min, h_max]`` at ``k`` episodes; it decreases with ``k``.
    """
    return log_factor_chord(h_min, h_max, power=2.0, scale=7.0 * k)


def _episodes_needed(module, params, seed, checkpoints, **kwargs):
    H = params["H"]
    lmdp = long_horizon_two_state(params["d"], H, seed=seed.spawn(1)[0]).lmdp
    run = module.explore(lmdp, K=checkpoints[-1], seed=seed, checkpoints=checkpoints[:-1], **kwargs)
    battery = audit.reward_battery(lmdp, seed=0)
    gaps = np.array([audit.exact_gaps(snap, battery).worst_gap for snap in (*run.checkpoints, run)])
    hit = np.flatnonzero(gaps <= params["eps"])
    # Censored runs count as twice the budget: a lower bound, so a positive slope is not manufactured.
    needed = settled_checkpoint(checkpoints, gaps, params["eps"])
    return {"episodes_needed": np.array(needed),
            "first_hit": np.array(float(checkpoints[hit[0]]) if hit.size else 2.0 * checkpoints[-1]),
            "censored": np.array(float(needed > checkpoints[-1])),
            "worst_gap_per_checkpoint": gaps}


def observe_hf_episodes_needed(params, seed):
    """Episodes after which the worst exact battery gap stays <= eps (HF-UCRL-RFE++).

    Returns ``episodes_needed`` (:func:`settled_checkpoint` on :func:`fine_checkpoints`;
    ``2 k_max`` if censored), ``first_hit`` (first checkpoint with gap <= eps, same censoring),
    ``censored`` (1.0 or 0.0) and ``worst_gap_per_checkpoint``, shape (n_checkpoints,).
    """
    return _episodes_needed(hf_rfe, params, seed, fine_checkpoints(params["k_max"]), beta_scale=0.01,
                            tie_break="random")


def observe_ucrl_episodes_needed(params, seed):
    """Mutant: the horizon-dependent baseline UCRL-RFE in place of HF-UCRL-RFE++ (budget 16 k_max,
    doubling checkpoints from 8)."""
    # Doubling checkpoints: its episodes needed are thousands or censored, and 4 audits per
    # doubling at a 16x budget would cost more than the claim's runs.
    return _episodes_needed(ucrl_rfe, params, seed,
                            fine_checkpoints(_BASELINE_BUDGET_FACTOR * params["k_max"], per_octave=1),
                            beta_scale=0.3)


_HF_TOLERANCE = polylog_chord(_HF_EPISODE_SCALE, _HF_HORIZONS[0], _HF_HORIZONS[-1])

HORIZON_FREE = Claim(
    id="hf_rfe.horizon_free",
    paper=PAPER,
    statement=("The number of exploration episodes needed for an eps-optimal policy for every reward "
               "(sum of rewards <= 1) is O~(d^2 eps^-2): at most polylogarithmic in H."),
    provenance=Provenance("reconstructed", "The H-independence is Thm 2.6.3 / Cor 2.6.4 of the paper; the test "
                                           "is reconstructed: the relaxed exploration oracle (random tie-breaking "
                                           "among its maximisers, seeded), the two-state "
                                           "long-horizon chain of docs/papers/hf_rfe.md#hf-rfe-instances, and a "
                                           "practical radius beta_scale=0.01 (0.3 for the UCRL-RFE mutant) "
                                           "because the theorem's radius leaves exploration uninformed at any "
                                           "feasible K. Episodes needed = the checkpoint from which the worst "
                                           "exact battery gap stays <= eps, on a 2^(1/4)-geometric grid from 8 "
                                           "episodes. eps = 0.01: the worst gap is bimodal (full run: >= 0.095 while "
                                           "the plan has a wrong sign; once right < 0.008, and < 0.003 except at "
                                           "2% of the d=4, H=10 checkpoints), so eps = 0.01 measures "
                                           "sign identification; a much smaller eps would measure the "
                                           "H-dependent residual of a right plan instead. d >= 4 because at d=3 "
                                           "many runs settle at the first checkpoint. "
                                           "The rule is one-sided (an upper bound in H). Tolerance: the chord of "
                                           "log^2(7KH), our reference polylog (reconstructed, not a factor the "
                                           "paper names; fixed before the full run, see the module's history). It "
                                           "is stricter than the theorem: Cor 2.6.4's explicit leading term "
                                           "beta_K^2 d iota grows with a log-log slope of about 0.42 in H over "
                                           "[10, 300] at K = 100, so a FAIL here would not by itself refute the "
                                           "paper. Planning uses the plug-in model theta_tilde[0] "
                                           "(reconstructed; the thesis plans in the oracle's theta_K)."),
    observe=observe_hf_episodes_needed,
    # d >= 4: at d = 3 many runs settle at the first checkpoint (8 episodes), a floored measurement.
    # Quick: one group, H <= 100 (H = 300 would triple its cost), budget 512 (d = 4 settled within
    # 181 episodes in every run probed; UCRL-RFE gets 8192); 17 s of run time. The tolerance stays the
    # [10, 300] chord, stricter than the [10, 100] one (0.201).
    sweep=Sweep(quick=Grid(H=list(_HF_HORIZONS[:3]), d=[4], eps=[0.01], k_max=[512]),
                full=Grid(H=list(_HF_HORIZONS), d=[4, 5], eps=[0.01], k_max=[2048]),
                seeds_quick=10, seeds_full=40),
    rule=Rate("episodes_needed", param="H", exponent=0.0, tolerance=_HF_TOLERANCE, sided="upper",
              justification=(f"log-log chord of log^2(7KH) over H in [10, 300], {_HF_TOLERANCE:.3f} at the "
                             f"measured scale K = {_HF_EPISODE_SCALE} (our reference polylog; stricter than "
                             "Cor 2.6.4's explicit bound, whose leading term has a slope of about 0.42)")),
    bound=lambda p: 1.0,
    mutants=[Mutant("ucrl_rfe", observe_ucrl_episodes_needed,
                    why="UCRL-RFE's radius grows like H: episodes needed grow with H (or exceed the budget, "
                        "counted as 2x budget), a clearly positive slope")],
    observed="episodes after which the worst gap stays <= eps",
)


# ============================================================================ (c) gap rate in K
#: Exploration budget of the fixed-budget mutant, whatever K.
_FIXED_BUDGET = 25


def hard_instance_for_budget(d: int, H: int, K: int, seed):
    """Thm 2.6.8's instance for budget ``K``: ``three_state_hard`` with ``Delta^2 = 1 / (192 K)``."""
    return three_state_hard(d, H, (192.0 * K) ** -0.5, seed=seed)


def first_step_actions_tried(run) -> int:
    """Number of distinct actions the exploration played at the first step (the only decision of
    ``three_state_hard``); ``d`` of them, in general position, are needed to identify ``mu``."""
    return int(np.unique(run.diagnostics["actions"][:, 0]).size)


#: ``delta0`` of ``three_state_hard`` (the thesis's 1/6): the family is valid for ``(d - 1) Delta <= delta0``.
_DELTA0 = 1.0 / 6.0


def scanned_deltas(params) -> tuple:
    """Perturbations of the scanned hard instances, largest first.

    ``Delta_j = delta0 / (d - 1) * scan_factor^-j`` for ``j = 0, 1, ...`` while
    ``Delta_j >= (192 scan_floor_K)^-1/2``: from the largest perturbation the family allows down to
    Thm 2.6.8's ``Delta`` for the budget ``scan_floor_K``. The instance hardest for a learner with
    ``K`` episodes has ``Delta ~ c / sqrt(K)`` with ``c`` set by the noise (measured about 0.3 here,
    above the lower bound's ``1 / sqrt(192)``), so the scan must reach well above Thm 2.6.8's values.
    """
    d, factor, floor_K = params["d"], params["scan_factor"], params["scan_floor_K"]
    if not factor > 1:
        raise ValueError(f"scan_factor = {factor!r} must be > 1")
    # Just inside the validity limit: at (d - 1) Delta = delta0 exactly the worst action reaches x3
    # with probability 0, which rounding can make -1e-18.
    top, floor = (1 - 1e-3) * _DELTA0 / (d - 1), (192.0 * floor_K) ** -0.5
    if top < floor:
        raise ValueError(f"scan_floor_K = {floor_K} gives Delta {floor!r} above the largest valid {top!r}")
    out = [top]
    while out[-1] / factor >= floor:
        out.append(out[-1] / factor)
    return tuple(out)


def _gap_rate_run(params, seed, *, episodes: int):
    deltas = scanned_deltas(params)
    worst, tried = np.empty(len(deltas)), np.empty(len(deltas))
    for j, (Delta, child) in enumerate(zip(deltas, seed.spawn(len(deltas)))):
        inst = three_state_hard(params["d"], params["H"], Delta, seed=child, delta0=_DELTA0)
        run = hf_rfe.explore(inst.lmdp, K=episodes, seed=seed, beta_scale=params["beta_scale"],
                             tie_break="random")
        battery = audit.reward_battery(inst.lmdp, seed=0, exploration=run)
        worst[j] = audit.exact_gaps(run, battery).worst_gap
        tried[j] = first_step_actions_tried(run)
    return {"worst_gap": np.array(worst.max()), "worst_gap_per_instance": worst,
            "first_step_actions_tried": tried}


def observe_gap_rate(params, seed):
    """Worst exact battery gap after ``K`` episodes, worst over the scanned hard instances.

    Returns ``worst_gap`` (scalar), ``worst_gap_per_instance`` and ``first_step_actions_tried``,
    shape (n_scanned,), one entry per ``Delta`` of :func:`scanned_deltas` (same order).
    """
    return _gap_rate_run(params, seed, episodes=params["K"])


def observe_gap_rate_fixed_budget(params, seed):
    """Mutant: exploration runs a fixed 25 episodes whatever ``K`` (the budget is not passed through)."""
    return _gap_rate_run(params, seed, episodes=_FIXED_BUDGET)


GAP_RATE = Claim(
    id="hf_rfe.gap_rate",
    paper=PAPER,
    statement=("The worst suboptimality over rewards after K exploration episodes is O~(d^2/K + d/sqrt(K)) "
               "(Thm 2.6.3): worst-case over instances, it decays at least like K^-1/2."),
    provenance=Provenance("reconstructed", "The rate is Thm 2.6.3; the test is reconstructed: the relaxed "
                                           "oracle with random tie-breaking among its maximisers (hf_rfe.explore "
                                           "tie_break='random', seeded) and beta_scale=0.01 (the theorem's radius "
                                           "leaves exploration uninformed at feasible K), the worst gap over a "
                                           "finite battery for the sup over rewards, and for the sup over instances "
                                           "the worst of Thm 2.6.8's three-state instances over a fixed geometric "
                                           "scan of Delta, from just inside the validity limit delta0/(d-1) down "
                                           "to Thm 2.6.8's Delta for the largest budget. The hardest Delta for a "
                                           "budget K is about 0.3/sqrt(K) (measured), above Thm 2.6.8's "
                                           "1/sqrt(192 K): a scan restricted to Delta^2 = 1/(192 K') with K' >= 100 "
                                           "misses it and flattens the curve (slope about -0.3 with the same "
                                           "learner), and one instance per K cannot fail (self-similar: a learner "
                                           "frozen after 25 episodes also passes). Planning uses the plug-in model "
                                           "theta_tilde[0] (reconstructed; the thesis plans in the oracle's theta_K)."),
    observe=observe_gap_rate,
    sweep=Sweep(quick=Grid(K=[100, 400, 1600], d=[4], H=[3], beta_scale=[0.01],
                           scan_factor=[2], scan_floor_K=[1600]),
                full=Grid(K=[100, 200, 400, 800, 1600, 3200], d=[3, 5], H=[3], beta_scale=[0.01],
                          scan_factor=[2], scan_floor_K=[3200]),
                seeds_quick=10, seeds_full=20),
    rule=Rate("worst_gap", param="K", exponent=-0.5, tolerance=0.15, sided="upper",
              justification="chosen tolerance, stricter than the logs allow: Thm 2.6.3's sqrt(K) term "
                            "beta_K sqrt(iota) grows with a log-log slope of 0.18-0.20 over K in [100, 3200] "
                            "(d = 3-5, H = 3) and log^2(KH) with 0.27, so a FAIL would not by itself refute the "
                            "paper; one-sided because the d^2/K term only steepens the decay"),
    bound=lambda p: p["K"] ** -0.5,
    mutants=[Mutant("fixed_budget", observe_gap_rate_fixed_budget,
                    why="25 exploration episodes whatever K: on the fixed scan of instances its gaps do not "
                        "decay at all (slope about 0)")],
    observed="worst battery gap (worst scanned instance)",
)


# ============================================================================ (d) d-scaling
#: Instances of the d-scaling claim: Delta = factor * eps / (d - 1), so that a wrong sign costs a
#: fixed share of eps spread over the d - 1 directions (the lower bound's gap ~ Delta (d - 1));
#: the factors scan for the hardest one (valid while 4 eps <= delta0 = 1/6).
_DELTA_FACTORS = (1.0, 2.0 ** 0.5, 2.0, 2.0 ** 1.5, 4.0)


def settled_checkpoint(checkpoints, gaps, eps) -> float:
    """First checkpoint from which the gap stays ``<= eps`` at every later checkpoint.

    ``gaps[i]`` is the gap at ``checkpoints[i]``. A gap that dips below ``eps`` by luck and rises
    again does not count: (eps, delta)-learnability asks for an eps-optimal answer at the budget,
    not at one lucky earlier budget. Returns ``2 * checkpoints[-1]`` (censored: a lower bound) when
    the last gap exceeds ``eps``.
    """
    needed = 2.0 * checkpoints[-1]
    for k, gap in zip(checkpoints[::-1], gaps[::-1]):
        if gap > eps:
            break
        needed = float(k)
    return needed


def _d_scaling_run(params, seed, *, thinned: bool):
    n_signs, eps = params["n_signs"], params["eps"]
    d = n_signs + 1
    checkpoints = doubling_checkpoints(params["k_max"])
    # The thinned mutant answers at checkpoint k with the snapshot after k // (d - 1) episodes.
    read_at = {k: max(k // n_signs, 1) if thinned else k for k in checkpoints}
    needed, tried = np.empty(len(_DELTA_FACTORS)), np.empty(len(_DELTA_FACTORS))
    for j, (factor, child) in enumerate(zip(_DELTA_FACTORS, seed.spawn(len(_DELTA_FACTORS)))):
        inst = three_state_hard(d, params["H"], factor * eps / n_signs, seed=child)
        run = hf_rfe.explore(inst.lmdp, K=checkpoints[-1], seed=seed, beta_scale=params["beta_scale"],
                             tie_break="random", checkpoints=sorted(set(read_at.values()) - {checkpoints[-1]}))
        snapshots = {snap.K: snap for snap in (*run.checkpoints, run)}
        battery = audit.reward_battery(inst.lmdp, seed=0)
        gaps = {k: audit.exact_gaps(snap, battery).worst_gap for k, snap in snapshots.items()}
        # Censored runs count as twice the budget: a lower bound, so a steep slope is not manufactured.
        needed[j] = settled_checkpoint(checkpoints, [gaps[read_at[k]] for k in checkpoints], eps)
        tried[j] = first_step_actions_tried(run)
    return {"episodes_needed": np.array(needed.max()), "episodes_needed_per_instance": needed,
            "censored": np.array(float(needed.max() > checkpoints[-1])), "first_step_actions_tried": tried}


def observe_d_scaling(params, seed):
    """Episodes after which the worst exact battery gap stays <= eps (:func:`settled_checkpoint`),
    worst over the scanned ``Delta`` factors; ``d = n_signs + 1``.

    Returns ``episodes_needed`` (scalar), ``episodes_needed_per_instance`` (one per factor of
    ``_DELTA_FACTORS``), ``censored`` (1.0 if the worst instance never reached eps) and
    ``first_step_actions_tried`` (per instance, over the whole budget).
    """
    return _d_scaling_run(params, seed, thinned=False)


def observe_d_scaling_thinned(params, seed):
    """Mutant: at checkpoint k the planner holds only the data of the first k/(d-1) episodes."""
    return _d_scaling_run(params, seed, thinned=True)


D_SCALING = Claim(
    id="hf_rfe.d_scaling",
    paper=PAPER,
    statement=("The episodes needed for an eps-optimal policy for every reward grow at most like d^2 "
               "(Thm 2.6.3, Cor 2.6.4; matched by the lower bound Thm 2.6.8)."),
    provenance=Provenance("reconstructed", "The d^2 is Cor 2.6.4; the test is reconstructed: the relaxed "
                                           "oracle with random tie-breaking among its maximisers (seeded) and "
                                           "beta_scale=0.01 (the theorem's radius leaves exploration uninformed "
                                           "at feasible K), the worst gap over a finite battery, Thm 2.6.8's "
                                           "three-state instance with Delta = c eps/(d-1), worst over "
                                           "c in {1, 2^0.5, 2, 2^1.5, 4}, H=3 (the only decision is the first "
                                           "step). Episodes needed = first doubling checkpoint from which the "
                                           "gap stays <= eps (a lucky early dip does not count). The rate is "
                                           "fitted in n_signs = d - 1, the number of unknown sign directions: "
                                           "this family's sample complexity is Theta((d-1)^2 eps^-2) "
                                           "(reconstructed: Thm 2.6.8 gives only the Omega, via this "
                                           "construction, as a linear bandit in d - 1 signs), and (d-1)^2 has a log-log slope of 2.6-3.2 "
                                           "in d over d in [2, 6], so a slope test in d fails an optimal learner. "
                                           "Limitation: (d-1)^2 <= d^2, but on d <= 6 a learner growing like "
                                           "d^3 is not distinguishable from (d-1)^2 by any fit; one growing like "
                                           "(d-1)^3 (the mutant) is. Planning uses the plug-in model theta_tilde[0] "
                                           "(reconstructed; the thesis plans in the oracle's theta_K)."),
    observe=observe_d_scaling,
    # Quick: 8 seeds (10 until issue 5's follow-up, to pay for horizon_free's finer check); on the
    # quick run the claim's CI upper end moved 1.99 -> 1.89 and the mutant's 2.47 -> 2.48 (vs 2.3).
    sweep=Sweep(quick=Grid(n_signs=[1, 2, 3, 4], eps=[0.04], H=[3], beta_scale=[0.01], k_max=[1600]),
                full=Grid(n_signs=[1, 2, 3, 4, 5], eps=[0.04], H=[3], beta_scale=[0.01], k_max=[6400]),
                seeds_quick=8, seeds_full=20),
    rule=Rate("episodes_needed", param="n_signs", exponent=2.0, tolerance=0.3, sided="upper",
              justification="log factors (d in log(1 + KH/(d lam alpha^2)), log^2 of the budget, the union "
                            "over d - 1 signs) change the slope by < 0.3 over d - 1 in [1, 5]"),
    bound=lambda p: 100.0 * p["n_signs"] ** 2,
    mutants=[Mutant("thinned_data", observe_d_scaling_thinned,
                    why="only one episode in d-1 reaches the regression (a learner that informs one sign "
                        "direction per episode): d-1 times more episodes, a slope one larger")],
    observed="episodes after which the worst gap stays <= eps (worst scanned instance)",
)

CLAIMS = [CERTIFICATE, HORIZON_FREE, GAP_RATE, D_SCALING]
