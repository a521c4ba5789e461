"""StepMix and EpsMix: conservative exploration under an episode-wise constraint.

Li, Huang, Shen & Yang (2023), "Near-optimal Conservative Exploration in Reinforcement Learning
under Episode-wise Constraints", ICML, arXiv:2306.06265. Only the abstract was available: the
goal (a conservative constraint relative to the baseline that holds in every episode w.h.p., with
constraint-free regret order), the names StepMix (a mixture that "smoothly interpolates between the
baseline and the optimistic policy") and EpsMix ("randomisation-based"), and the offline-baseline
extension are the paper's. Everything below marked "Reconstructed:" follows ``docs/papers/stepmix.md#stepmix-reconstructed-steps``.

Reconstructed: the constraint's form ``V^{pi_k}(s_1) >= (1 - alpha) V^b`` (the standard form in
conservative exploration; the abstract gives no formula).

Reconstructed: the mechanisms below -- StepMix's path of policies and its choice rule, and
EpsMix's per-episode coin with its closed-form ``rho_k`` (``docs/papers/stepmix.md#stepmix-the-path-and-its-choice-rule`` and
``#stepmix-epsmix-the-episode-coin``); the abstract names the algorithms but does not describe them.

Pseudocode (per episode ``k``; ``thr = (1 - alpha) V^b``)::

    pi^k, V_bar = UCBVI optimistic plan (ucbvi.py)              # optimistic policy
    W = pessimistic values of pi_b on the empirical model       # L1 (Weissman) bonus
    f_t(rho) = pessimistic value of the path point (t, rho):    # pi^k before t, mixture at t, pi_b after
    StepMix:  if f_{H-1}(1) >= thr: play pi^k
              else for t = H-1 .. 0:
                  if f_t(0) >= thr: rho* = max{rho : f_t(rho) >= thr}; play (t, rho*); stop
              otherwise play pi_b
    EpsMix:   rho_k = 1                                if f_{H-1}(1) >= thr
                      alpha V^b / (V^b - f_{H-1}(1))   otherwise (known V^b)
              play pi^k for the whole episode w.p. rho_k, else pi_b
    add the episode's transitions to the counts

The scan over ``t`` is pruned without changing its result: one ``O(H S^2)`` forward pass gives an
upper bound ``U_t >= f_t(0)`` for every ``t`` (the chord of the clipped backup, see
:func:`._ucbvi_kernels.path_upper_bounds`), and only switch steps with ``U_t >= thr`` are evaluated
exactly -- the skipped ones are certified to fail, so the choice is still the lexicographic maximum.
The same pass bounds ``f_{H-1}(1)`` (``pi^k`` itself), so when the previous episode did not certify
``pi^k`` the bounds are computed first and ``f_{H-1}(1)`` only if its bound reaches ``thr``; when it
did, ``f_{H-1}(1)`` comes first (the bounds are needed only if it fails). Either order gives the
same choice; only the amount of work differs.

Cost per episode: the UCBVI plan (see :mod:`.ucbvi`); the baseline bounds, one ``O(H S A S)`` sweep
over the baseline's support (``A`` times less for a deterministic baseline); ``O(H S^2)`` for
``f_{H-1}(1)`` and ``O(H S^2)`` for all the upper bounds ``U_t``; ``O(H S^2)`` per switch step that
survives the pruning and per Newton step for ``rho``; the exact value of the deployed policy
(``O(t S^2)``) and the roll-out. EpsMix: plan, baseline bounds, ``f_{H-1}(1)``, the exact
``V^{pi^k}`` (``O(H S^2)``) and the roll-out. Counts' inverses are shared with the optimistic
planner, so no sweep divides or takes a square root per pair.

Reconstructed: the pessimistic bonus. UCBVI's bonuses are valid only around the fixed ``V*``; the
policies certified here depend on the data, so the lower bound uses the L1 concentration of the
empirical transition rows (Weissman et al. 2003), which holds for every value function at once:
``b_h(s, a) = (H - h - 1) / 2 * sqrt(2 (S ln 2 + L') / N(s, a))``, ``L' = ln(S A H K / delta')``
(``H - h - 1`` = range of ``V_{h+1}``, 0-indexed steps), ``Q_low = max(0, R + P_hat V_low - b)``.
The digest's form has the full range; the factor 1/2 is the standard centring (``(P_hat - P) V =
(P_hat - P)(V - c)`` for any constant ``c``, so ``|(P_hat - P) V| <= ||P_hat - P||_1 range(V) / 2``).

Reconstructed: confidence split. The optimistic (UCBVI) and pessimistic (Weissman) families each
get ``delta / 2`` (``delta / 3`` each with the offline returns bound), so all hold together w.p.
``>= 1 - delta``; on that event no deployed policy violates the constraint.

Exact value of the deployed policy. The path point ``(t, rho)`` randomises only at step ``t``: one
coin ``Z ~ Bernoulli(rho)`` drawn at step ``t`` decides between ``pi^k_t`` and ``pi_b,t`` there, after
which ``pi_b`` is followed. A single coin at one step is the same as independent per-state
randomisation at that step, so the policy is Markov with ``pi_t(.|s) = rho pi^k_t(.|s) + (1 - rho)
pi_b,t(.|s)``, and its value is exactly

    V^{(t, rho)} = E_{s_t ~ d_t^{pi^k}} [ rho Q^b_t(s_t, pi^k_t(s_t)) + (1 - rho) V^b_t(s_t) ] + E[prefix rewards]
                 = rho V^{(t+1, 0)} + (1 - rho) V^{(t, 0)},

affine in ``rho`` (``Q^b``, ``V^b``: the baseline's true values). The episode loop computes it on the
true model in ``O(t S^2)`` per episode; :func:`path_policy` builds the explicit ``(H, S, A)`` policy so
tests can check it against :func:`mdpkit.evaluate` and Monte Carlo. EpsMix's value is
``rho_k V^{pi^k} + (1 - rho_k) V^b`` exactly (the expectation over its coin).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from .._validation import check_episodes, check_positive_int, check_seed, show  # noqa: F401
from ..mdp import TabularMDP, check_unit_reward_range, validate_policy
from ..simulation import simulate
from ..solvers import evaluate, solve
from ..solvers.exact import check_mdp
from . import _ucbvi_kernels as kern
from .results import RunResult
from .ucbvi import (
    EPISODE_BYTES,
    EpisodeRecord,
    LearnerState,
    check_bonus,
    check_bool,
    check_nonnegative,
    check_open_unit,
    log_term,
    one_episode_chunks,
    uniform_chunks,
)

__all__ = ["VARIANTS", "run", "run_offline", "path_policy", "baseline_probabilities", "behaviour_cloning",
           "pessimistic_radius"]

VARIANTS = ("stepmix", "epsmix")


# ============================================================================ helpers
def baseline_probabilities(baseline, H: int, S: int, A: int, name: str = "baseline") -> np.ndarray:
    """Validate a policy (``(H, S)`` int or ``(H, S, A)``) and return its action distributions, shape (H, S, A)."""
    pol = validate_policy(baseline, H, S, A, name=name)
    if pol.ndim == 3:
        return pol
    probs = np.zeros((H, S, A))
    np.put_along_axis(probs, pol[:, :, None], 1.0, axis=2)
    return probs


def path_policy(policy_k, baseline, t: int, rho: float, *, n_actions: int | None = None) -> np.ndarray:
    """The StepMix path point ``(t, rho)`` as an explicit Markov policy.

    Reconstructed: the path (optimistic prefix, mixture at one step, baseline suffix) is this
    package's reading of "smoothly interpolates" (``docs/papers/stepmix.md#stepmix-the-path-and-its-choice-rule``).

    Parameters
    ----------
    policy_k : array_like, shape (H, S), int
        The optimistic policy.
    baseline : array_like, shape (H, S) int or (H, S, A)
    t : int
        Switch step in ``0..H-1``.
    rho : float
        Weight of ``policy_k`` at step ``t``, in ``[0, 1]``.
    n_actions : int, optional
        ``A``; required when ``baseline`` is deterministic (a stochastic one carries it).

    Returns
    -------
    ndarray, shape (H, S, A)
        ``policy_k`` before ``t``; ``rho policy_k + (1 - rho) baseline`` at ``t``; ``baseline`` after.
    """
    policy_k = np.asarray(policy_k)
    if policy_k.ndim != 2:
        raise ValueError(f"policy_k must have shape (H, S), got {policy_k.shape}")
    H, S = policy_k.shape
    base = np.asarray(baseline)
    if base.ndim == 3:
        A = base.shape[2]
    elif n_actions is None:
        raise ValueError("n_actions is required when baseline is deterministic (shape (H, S))")
    else:
        A = check_positive_int("n_actions", n_actions)
    k_probs = baseline_probabilities(policy_k, H, S, A, name="policy_k")
    b_probs = baseline_probabilities(baseline, H, S, A)
    t = check_positive_int("t", t, minimum=0)
    if t >= H:
        raise ValueError(f"t must be in [0, {H - 1}], got {t}")
    if not 0.0 <= float(rho) <= 1.0:
        raise ValueError(f"rho must be in [0, 1], got {rho!r}")
    out = b_probs.copy()
    out[:t] = k_probs[:t]
    out[t] = rho * k_probs[t] + (1.0 - rho) * b_probs[t]
    return out


def pessimistic_radius(mdp: TabularMDP, n_episodes: int, delta: float) -> float:
    """``sqrt(2 (S ln 2 + L')) / 2`` with ``L' = ln(S A H n_episodes / delta)``: the L1 (Weissman)
    radius of an empirical transition row from ``n`` samples is ``2 x`` this over ``sqrt(n)``; the 1/2
    converts it into a bound on ``|(P_hat - P) V| / range(V)``.

    Reconstructed: union bound over the ``(s, a)`` pairs (per stage if stage-dependent) and the
    ``<= n_episodes H`` possible counts.
    """
    L_w = math.log(mdp.S * mdp.A * mdp.H * n_episodes / delta)
    return 0.5 * math.sqrt(2.0 * (mdp.S * math.log(2.0) + L_w))


def behaviour_cloning(states: np.ndarray, actions: np.ndarray, S: int, A: int) -> np.ndarray:
    """Empirical action frequencies per ``(h, s)`` of a dataset; uniform where ``(h, s)`` is unseen.

    Reconstructed: the paper learns the baseline from offline data; the estimator is not known.

    Parameters
    ----------
    states : ndarray, shape (N, H + 1), int
    actions : ndarray, shape (N, H), int
    S, A : int

    Returns
    -------
    ndarray, shape (H, S, A)
    """
    N, H = actions.shape
    counts = np.zeros((H, S, A))
    np.add.at(counts, (np.broadcast_to(np.arange(H), (N, H)), states[:, :H], actions), 1.0)
    totals = counts.sum(axis=2, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / A)


def _check_alpha(alpha) -> float:
    return check_open_unit("alpha", alpha)


def _check_variant(variant) -> str:
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {show(variant)}")
    return variant


# ============================================================================ core loop
#: The ``extras`` keys ``run(..., record=True)`` adds: :data:`.ucbvi.RECORDED` and these two.
RECORDED_BASELINE = ("lower_baseline_V", "upper_baseline_V")


def _run_mix(mdp, base_probs, *, K, seed, alpha, variant, bonus, bonus_scale, log_L, pess_coef,
             thr_from_model, thr_fixed, baseline_term_exact, state, optimistic_init=True, record=False):
    """Drive :func:`kern.run_mix_chunk` over chunks of pre-drawn uniforms; return the per-episode arrays.

    ``record``: one episode per kernel call, with the learner's state copied between calls (see
    :class:`.ucbvi.EpisodeRecord`); ``out`` then also holds the recorded arrays."""
    H = mdp.H
    P_stages = np.ascontiguousarray(mdp.P_stages)
    P_cdf = _kernels.cumulative_rows(P_stages)
    mu0 = np.ascontiguousarray(mdp.mu0)
    mu0_cdf = _kernels.cumulative_rows(mu0)
    R = np.ascontiguousarray(mdp.R)
    base_cdf = _kernels.cumulative_rows(base_probs)
    base_sol = evaluate(mdp, base_probs)
    Vb_true = np.ascontiguousarray(base_sol.V)
    out = {name: np.empty(K) for name in ("values", "rho", "lower_bound", "threshold_used", "optimistic_values")}
    out["switch_step"] = np.empty(K, dtype=np.int64)
    out["certified"] = np.empty(K, dtype=np.bool_)
    W_low, W_up = np.zeros((H + 1, mdp.S)), np.zeros((H + 1, mdp.S))
    V_buf, dV_buf = np.zeros((2, mdp.S)), np.zeros((2, mdp.S))
    recorder = EpisodeRecord(K, state) if record else None
    if record:
        out["lower_baseline_V"], out["upper_baseline_V"] = np.empty((K, H + 1, mdp.S)), np.empty((K, H + 1, mdp.S))
    chunks = uniform_chunks(seed, K, 2 + 2 * H)
    for start, uniforms in (chunks if recorder is None else one_episode_chunks(chunks)):
        sl = slice(start, start + uniforms.shape[0])
        if recorder is not None:
            recorder.before(start, state)
        kern.run_mix_chunk(P_stages, P_cdf, mu0, mu0_cdf, R, base_probs, base_cdf, Vb_true,
                           log_L, bonus == "bernstein", bonus_scale, optimistic_init, pess_coef, variant == "epsmix",
                           thr_from_model, thr_fixed, alpha, baseline_term_exact, base_sol.value, uniforms,
                           state.counts_sas, state.counts_sa, state.inv_n, state.inv_sqrt_n, state.visits,
                           state.w_next, state.Q, state.V,
                           state.policy, W_low, W_up, V_buf, dV_buf, np.zeros(H), state.V_audit,
                           out["values"][sl], out["switch_step"][sl], out["rho"][sl], out["lower_bound"][sl],
                           out["threshold_used"][sl], out["certified"][sl], out["optimistic_values"][sl])
        if recorder is not None:
            recorder.after(start, state)
            out["lower_baseline_V"][start] = W_low
            out["upper_baseline_V"][start] = W_up
    if recorder is not None:
        out.update(recorder.extras())
    return out, base_sol.value


def _extras(out):
    return {k: v for k, v in out.items() if k != "values"}


# ============================================================================ public API
def run(mdp: TabularMDP, baseline, *, alpha: float, K: int, seed, delta: float = 0.05, variant: str = "stepmix",
        baseline_value_known: bool = True, bonus_scale: float = 1.0, bonus: str = "bernstein",
        pessimism_scale: float = 1.0, optimistic_init: bool = True, record: bool = False) -> RunResult:
    """Run StepMix or EpsMix for ``K`` episodes with a known baseline policy.

    Parameters
    ----------
    mdp : TabularMDP
        The true model (rewards known to the learner, transitions sampled).
    baseline : array_like, shape (H, S) int or (H, S, A)
        The safe baseline policy ``pi_b``.
    alpha : float
        Allowed relative loss in ``(0, 1)``: every episode must keep ``V^{pi_k} >= (1 - alpha) V^b``.
    K : int
    seed : int or numpy.random.SeedSequence
    delta : float
        Total failure probability in ``(0, 1)``.
    variant : {"stepmix", "epsmix"}
    baseline_value_known : bool
        ``True``: the learner is told ``V^b`` (threshold ``(1 - alpha) V^b``). ``False``: it uses
        confidence bounds, threshold ``(1 - alpha) UCB(V^b)`` and (EpsMix) ``LCB(V^b)`` for the
        baseline term. Reconstructed: the paper's assumption is unknown; both modes are offered.
    bonus_scale : float
        Multiplier (``>= 0``) on the optimistic UCBVI bonus only; recorded in ``hyper``.
    bonus : {"bernstein", "hoeffding"}
        Optimistic bonus (UCBVI-BF or UCBVI-CH).
    pessimism_scale : float
        Multiplier (``>= 0``) on the pessimistic (Weissman) bonus; ``1`` = theory. ``0`` certifies on
        the empirical value alone: the "no pessimism" mutant, which is expected to violate.
    optimistic_init : bool
        Optimistic side, as in :func:`mdpkit.algorithms.ucbvi.run` (``False`` with ``bonus_scale=0``:
        the greedy "bonus removed" mutant). Recorded in ``hyper``.
    record : bool
        Also return the learner's per-episode state in ``extras``: the keys of
        :func:`mdpkit.algorithms.ucbvi.run` (counts before each episode, ``Q_k``, ``V_bar_k``,
        ``pi^k``) and ``lower_baseline_V`` / ``upper_baseline_V`` (K, H + 1, S), the baseline's
        pessimistic / optimistic values ``W_low`` / ``W_up`` the episode's safety test used
        (``W_up`` is computed only when ``baseline_value_known`` is False). Every other output is
        bit-identical to ``record=False``.

    Returns
    -------
    RunResult
        ``values`` exact value of the deployed (randomised) policy of each episode; ``baseline_value``,
        ``threshold``, ``violations``; ``extras``: ``switch_step`` (K,) int, ``rho`` (K,),
        ``lower_bound`` (K,) the certified pessimistic value of the deployed policy,
        ``threshold_used`` (K,) the learner's threshold, ``certified`` (K,) bool (False: nothing passed
        the safety test and the baseline was played -- still truly safe), ``optimistic_values`` (K,).
    """
    mdp = check_mdp(mdp)
    check_unit_reward_range(mdp, "stepmix")
    base_probs = baseline_probabilities(baseline, mdp.H, mdp.S, mdp.A)
    alpha = _check_alpha(alpha)
    K = check_episodes(K, EPISODE_BYTES, "the per-episode results")
    seed = check_seed(seed)
    delta = check_open_unit("delta", delta)
    variant = _check_variant(variant)
    baseline_value_known = check_bool("baseline_value_known", baseline_value_known)
    bonus_scale = check_nonnegative("bonus_scale", bonus_scale)
    bonus = check_bonus(bonus)
    pessimism_scale = check_nonnegative("pessimism_scale", pessimism_scale)
    optimistic_init = check_bool("optimistic_init", optimistic_init)
    record = check_bool("record", record)

    log_L = log_term(mdp, K, delta / 2)
    radius = pessimistic_radius(mdp, K, delta / 2)
    V_b = evaluate(mdp, base_probs).value
    out, _ = _run_mix(mdp, base_probs, K=K, seed=seed, alpha=alpha, variant=variant, bonus=bonus,
                      bonus_scale=bonus_scale, log_L=log_L, pess_coef=pessimism_scale * radius,
                      thr_from_model=not baseline_value_known, thr_fixed=(1.0 - alpha) * V_b,
                      baseline_term_exact=baseline_value_known, state=LearnerState(mdp),
                      optimistic_init=optimistic_init, record=record)
    hyper = {"variant": variant, "alpha": alpha, "delta": delta, "baseline_value_known": baseline_value_known,
             "bonus": bonus, "bonus_scale": bonus_scale, "optimistic_init": optimistic_init,
             "pessimism_scale": pessimism_scale, "log_term": log_L,
             "pessimistic_radius": radius, "K": K, "counts": "pooled" if mdp.is_stationary else "per-stage"}
    return RunResult.from_values(variant, out["values"], solve(mdp).value, seed=seed, hyper=hyper,
                                 extras=_extras(out), baseline_value=V_b, alpha=alpha)


def run_offline(mdp: TabularMDP, behaviour_policy, *, n_trajectories: int, alpha: float, K: int, seed,
                delta: float = 0.05, variant: str = "stepmix", bonus_scale: float = 1.0, bonus: str = "bernstein",
                pessimism_scale: float = 1.0, record: bool = False) -> RunResult:
    """StepMix/EpsMix with a baseline learned from ``n_trajectories`` offline episodes of a behaviour policy.

    The constraint is relative to the behaviour policy's value: ``V^{pi_k} >= (1 - alpha) V^beta``.

    Reconstructed (the paper states only that the extension exists and needs a large enough
    dataset): the learner (i) clones the behaviour policy (:func:`behaviour_cloning`) and plays the
    clone ``pi_hat`` as its baseline, (ii) adds the offline transitions to its counts, (iii) uses the
    threshold ``(1 - alpha) UCB(V^beta)`` with the Hoeffding bound ``UCB = mean return
    + H sqrt(ln(1/delta') / (2 N))`` over the dataset's returns, and certifies every deployed policy,
    ``pi_hat`` included, by its pessimistic value. When nothing is certified it plays ``pi_hat``
    anyway (``extras["certified"]`` False): only then can a violation occur, and a large dataset makes
    ``pi_hat`` certifiable from the first episode.

    Parameters
    ----------
    mdp : TabularMDP
    behaviour_policy : array_like, shape (H, S) int or (H, S, A)
        Used only to generate the dataset and, for the audit, its exact value ``V^beta``.
    n_trajectories : int
        Dataset size ``N >= 1``.
    alpha, K, seed, delta, variant, bonus_scale, bonus, pessimism_scale
        As in :func:`run` (``delta`` is split in three: optimistic, pessimistic, returns bound).
    record : bool
        As in :func:`run` (the counts of the first episode are the dataset's), plus the dataset
        (``dataset_states`` (N, H + 1), ``dataset_actions`` (N, H), ``dataset_returns`` (N,)) and
        the played clone ``played_baseline`` (H, S, A). Every other output is bit-identical.

    Returns
    -------
    RunResult
        As :func:`run`, with ``baseline_value = V^beta``; ``extras["played_baseline_value"]`` is
        the exact value of the clone and ``extras["offline_ucb"]`` the dataset's UCB of ``V^beta``.
    """
    mdp = check_mdp(mdp)
    check_unit_reward_range(mdp, "stepmix")
    beta = baseline_probabilities(behaviour_policy, mdp.H, mdp.S, mdp.A, name="behaviour_policy")
    n_trajectories = check_episodes(n_trajectories, 8.0 * (3 * mdp.H + 1), "the sampled trajectories",
                                    name="n_trajectories")
    alpha = _check_alpha(alpha)
    K = check_episodes(K, EPISODE_BYTES, "the per-episode results")
    seed = check_seed(seed)
    delta = check_open_unit("delta", delta)
    variant = _check_variant(variant)
    bonus_scale = check_nonnegative("bonus_scale", bonus_scale)
    bonus = check_bonus(bonus)
    pessimism_scale = check_nonnegative("pessimism_scale", pessimism_scale)
    record = check_bool("record", record)

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # children built explicitly (not root.spawn) so the caller's SeedSequence is not mutated
    data_seed, learner_seed = (np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (i,))
                               for i in range(2))
    data = simulate(mdp, beta, n_trajectories, seed=data_seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    pi_hat = behaviour_cloning(data.states, data.actions, S, A)
    state = LearnerState(mdp)
    G = state.counts_sas.shape[0]
    steps = np.broadcast_to(np.arange(H), (n_trajectories, H))
    g = steps if G > 1 else np.zeros_like(steps)
    s, a, s_next = data.states[:, :H], data.actions, data.states[:, 1:]
    np.add.at(state.counts_sas, (g, s, a, s_next), 1.0)
    np.add.at(state.counts_sa, (g, s, a), 1.0)
    np.add.at(state.visits, (np.broadcast_to(np.arange(H + 1), data.states.shape), data.states), 1.0)

    total = K + n_trajectories  # episodes whose transitions the confidence sets may contain
    log_L = log_term(mdp, total, delta / 3)
    radius = pessimistic_radius(mdp, total, delta / 3)
    offline_ucb = min(float(H), float(data.returns.mean()) + H * math.sqrt(math.log(3.0 / delta)
                                                                             / (2.0 * n_trajectories)))
    V_beta = evaluate(mdp, beta).value
    out, V_hat = _run_mix(mdp, pi_hat, K=K, seed=learner_seed, alpha=alpha, variant=variant, bonus=bonus,
                          bonus_scale=bonus_scale, log_L=log_L, pess_coef=pessimism_scale * radius,
                          thr_from_model=False, thr_fixed=(1.0 - alpha) * offline_ucb,
                          baseline_term_exact=False, state=state, record=record)
    extras = _extras(out)
    extras.update(played_baseline_value=V_hat, offline_ucb=offline_ucb)
    if record:
        extras.update(dataset_states=data.states, dataset_actions=data.actions, dataset_returns=data.returns,
                      played_baseline=pi_hat)
    hyper = {"variant": variant, "alpha": alpha, "delta": delta, "n_trajectories": n_trajectories,
             "bonus": bonus, "bonus_scale": bonus_scale, "pessimism_scale": pessimism_scale, "log_term": log_L,
             "pessimistic_radius": radius, "K": K, "counts": "pooled" if mdp.is_stationary else "per-stage"}
    return RunResult.from_values(f"{variant}_offline", out["values"], solve(mdp).value, seed=seed, hyper=hyper,
                                 extras=extras, baseline_value=V_beta, alpha=alpha)
