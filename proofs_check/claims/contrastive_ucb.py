"""Claims of "Contrastive UCB" (Qiu, Wang, Bai, Yang & Wang, ICML 2022), arXiv:2207.14800.

Only the abstract (and secondary summaries) were available (``docs/papers/contrastive_ucb.md``):
"the contrastive loss recovers the true representation" and "O~(1/eps^2) episodes for an
eps-optimal policy / eps-approximate Nash equilibrium" are the paper's; the loss, the data
collection, the planners and every executable form below are reconstructed (see
:mod:`mdpkit.algorithms.contrastive` and :mod:`mdpkit.algorithms.contrastive_ucb`).

Every observed quantity is exact: the TV error of ``P_hat`` and the principal angle are computed
against the true factors, policy values and Nash gaps by dynamic programming on the true model.

Instances: :func:`mdpkit.envs.lowrank.random_lowrank_mdp` (a fresh instance per seed) for the
recovery claims; :func:`mdpkit.envs.lowrank.combination_lock` (rank 2, S = 6, V* = 1, reward only at
the last stage) for the suboptimality claim; :func:`~mdpkit.envs.lowrank.random_lowrank_game` for
the Nash-gap claim. Policy claims fix the instance per sweep point (``instance`` axis) and use
common random numbers over K (``Sweep(common_seeds_over=("K",))``: the seed does not depend on K,
so the run at K is the K-episode prefix of one trajectory per seed index, and each seed contributes
a whole curve to the bootstrap; measured with independent runs instead: seed-mean 0.247 -> 0.118
from K = 100 to 400, CI [-1.34, 0.09], two late learners out of 12).

Why the lock, and why these mutants (all measured, ``python`` loops over the same code):

- On random low-rank MDPs (Dirichlet features, rewards at every stage) the myopic policy
  ``argmax_a R_h`` can be optimal (``random_lowrank_mdp(10, 2, 3, 2, seed=0)``: V* = myopic =
  1.6193), so breaking the model need not hurt: the off-by-one buffer and frozen random features
  reached the same gaps as the algorithm (mixture gap ~0.001 at K = 400, slopes -0.38 to -0.54 for
  all three, 24 seeds x 2 instances, before the cold-refit fix). On the lock only a learned model
  finds the key.
- ``random_features`` and ``misaligned_buffer`` plateau on the lock (mixture gap 0.5-0.77 at
  K = 400, slope ~ 0, 12 seeds x 3 instances) while Contrastive UCB's policy is exactly optimal in
  every run from k ~ 100 on (H = 3).
- Removing the bonus (``bonus_scale = 0``) is NOT a mutant: it does not plateau, even on the lock.
  On ``combination_lock(4, 2, 3)`` (3 instances x 6 seeds, K = 400) the greedy variant's mixture gap
  is 0.166 against 0.111 with the bonus, and every run ends optimal. Two mechanisms explore without
  optimism: the uniform action at every stage of every episode, and the learned model itself --
  an anchor never visited keeps its random initial features, i.e. it predicts a random mixture of
  the learned next-state prototypes (here "good block" and "dead block"), which makes untried
  actions look better than tried wrong ones. Before the cold-refit fix in
  :mod:`mdpkit.algorithms.contrastive_ucb` neither variant learned the lock (44% vs 50% of runs
  final-optimal at K = 600, H = 3): the warm-started fit stayed in the basin of its first tiny-data
  fits (feature angle 1.5 rad after 800 episodes; a cold fit on the same data: 0 rad).
- Markov game: the rate holds on random games 0 and 1 but not on game 2, where 3 of 8 runs
  plateau at a Nash gap ~0.007 up to K = 640 (the claim's ``finding``; quick runs game 2).
  Diagnosed: no bug; game 2's stage-0 saddle has action margins of only 0.0069 / 0.0075, below
  the model and bonus errors at K <= 640, and the three runs become exact at k = 1871-4602.
- Markov game: features frozen at random were not separable on random low-rank games (slopes
  -0.53 vs -0.53, 4 instances, K = 40, 160, before the fix; after it, 8 seeds, K = 10..160:
  instance 0 mean gap 0.0033 vs 0.0037 learned at K = 160), so the only mutant is the cooperative
  CCE; a lock game, where a second mutant could separate, was not built (open).

Measured at the quick budget (``proofs-check run contrastive_ucb --quick --workers 2``, 2 cores
shared with other jobs, load ~4): ~46 s wall for these four claims (sum of run times 79 s, of
which the game claim 49 s: its per-state CCE LPs cost ~25 ms per episode). Recovery and
suboptimality PASS with every mutant caught (suboptimality slope CI [-1.00, -0.75], mutants
within [-0.06, 0.08]); the Nash-gap claim reproduces its finding (game 2), its mutant caught.
Full budget (``paper_figs/contrastive_ucb``, 2092 runs, 13-23 min on 2 shared cores): recovery and
suboptimality PASS (six lock settings, slope CIs within [-1.00, -0.78]; mutants within
[-0.11, 0.06]); Nash gap FAIL on game 2 only (see its finding).

"With S >> d, fewer episodes than tabular UCBVI and within a factor of oracle-feature LSVI-UCB" is
the fifth claim (``episodes_vs_baselines``, delayed-reward block MDPs): a documented finding.

Issue 12 added five per-episode claims (``docs/papers/contrastive_ucb.md#contrastive-ucb-per-episode-lemmas``),
checked exactly at every episode of every run from the ``record=True`` trace of the algorithms:
``planning_identity`` (Gram/bonus, one-step backups of both planners and of LSVI-UCB, greedy policy,
exact values, reported hyper-parameters and diagnostics, cold-refit schedule), ``optimism`` (Q >= Q*
everywhere, DEFAULT hyper-parameters), ``data_distribution`` (Monte Carlo: the collected transitions
against the exact occupancies of the recorded roll-in policies), ``information_flow`` (bit-identical
runs on hidden-factor variants of the model, defaults, MDP and game) and ``game_stage_equilibrium``
(per-state CCE and ULCB backups of the game variant). Their audits share no code with
``mdpkit.algorithms`` (plain numpy; scipy for the chi-square tail and the principal angles).
"""


from __future__ import annotations

import contextlib
import copy
from unittest import mock

import numpy as np

# mdpkit.algorithms / mdpkit.envs / mdpkit.lowrank (numba, scipy) are imported inside the functions
# that run experiments: loading the claims (``proofs-check list``, ``report``) must stay cheap.
from ..claim import Claim, Finding, Grid, Mutant, Paper, Provenance, Sweep
from ..claim import Pin
from ..rules import BoundHolds, HighProbability, Rate, log_factor_chord
from . import _contrastive_certificate, _contrastive_generic

PAPER = Paper("Contrastive UCB: Provably Efficient Contrastive Self-Supervised Learning in Online "
              "Reinforcement Learning (Qiu, Wang, Bai, Yang & Wang, ICML 2022)", arxiv="2207.14800",
              where="abstract (representation recovery; O~(1/eps^2) for MDPs and Markov games); "
                    "theorem statements not available")

#: Skew of the wrong negative sampler of the ``wrong_negatives`` mutant: weights rise linearly
#: from 1 to 3 over the states, so the true ratio P / Q is off by up to a factor 3 / 2.
_SKEW = 3.0
#: Practical bonus multiplier of the policy claims: 1/10 of the reconstructed beta = H sqrt(d)
#: (as in docs/tutorials/06_contrastive_lowrank.md). Declared as a sweep parameter, the same at both
#: budgets. Measured on combination_lock(4, 2, 3), 3 instances x 6 seeds, K = 400: mean mixture gap
#: 0.111 (scale 0.1), 0.136 (0.3), 0.242 (1.0); every scale learns the lock, larger ones only
#: lengthen the burn-in (the bonus saturates at the H - h cap for longer), which the quick K
#: range could not afford.
_BONUS_SCALE = 0.1


def _draw(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """One draw from each row of ``rows`` (n, S) by inverse CDF; ``minimum`` guards round-off."""
    cdf = np.cumsum(rows, axis=1)
    u = rng.random(rows.shape[0])[:, None]
    return np.minimum((u > cdf).sum(axis=1), rows.shape[1] - 1)


# ============================================================================ (1)-(2) recovery
def _recovery_run(params, seed, *, negatives: str = "uniform", misaligned: bool = False) -> dict:
    """Fit the contrastive model on ``n`` i.i.d. uniform anchors of one stage of a random instance.

    Each anchor ``x = (s, a)`` (uniform over the ``S A`` pairs) gives one positive ``s' ~ P(.|x)``
    and one negative ``s^- ~ Q``; the learner is always told ``P^- = uniform``.
    """
    from mdpkit.algorithms.contrastive import ContrastiveLearner, feature_angle
    from mdpkit.envs.lowrank import random_lowrank_mdp

    S, A, d, n = params["S"], params["A"], params["d"], params["n"]
    instance_seed, data_seed, init_seed = seed.spawn(3)
    mdp = random_lowrank_mdp(S, A, 1, d, seed=instance_seed)
    N = S * A
    P = mdp.P.reshape(N, S)
    rng = np.random.default_rng(data_seed)
    uniform = np.full(S, 1.0 / S)
    if negatives == "uniform":
        q = uniform
    else:  # the mutant's sampler: a skewed Q, while P_hat is still formed with P^- = uniform
        q = np.linspace(1.0, _SKEW, S)
        q /= q.sum()
    anchors = rng.integers(N, size=n)
    positives = _draw(rng, P[anchors])
    negatives_drawn = _draw(rng, np.broadcast_to(q, (n, S)))
    if misaligned:  # off-by-one in the replay buffer: each anchor gets the previous anchor's s'
        positives = np.roll(positives, 1)
    learner = ContrastiveLearner(1, N, S, d, uniform, max_iter=500, seed=init_seed)
    learner.add(0, anchors, positives, 1)
    learner.add(0, anchors, negatives_drawn, 0)
    fit = learner.fit()
    P_hat = fit.transition_estimate()[0]  # raw ratio estimate, NOT renormalised: the estimator itself
    tv = 0.5 * np.abs(P_hat - P).sum(axis=1).mean()
    angle = feature_angle(fit.phi, mdp.phi.reshape(1, N, d))
    return {"tv_error": np.float64(tv), "feature_angle": np.float64(angle),
            "converged": np.float64(fit.converged)}


def observe_recovery(params, seed):
    """Kernel and span recovery from ``n`` i.i.d. labelled transitions (one stage).

    Returns
    -------
    dict
        ``tv_error`` (scalar): ``mean_x TV(P_hat(.|x), P(.|x))`` over the ``S A`` anchors, with the
        raw estimate ``P_hat = (phi_hat psi_hat) P^-``; ``feature_angle`` (scalar): the largest
        principal angle between ``span(phi_hat)`` and ``span(phi*)`` (``(S A) x d`` matrices,
        uniform anchor weights = the data distribution); ``converged`` (scalar, 0/1): L-BFGS-B status.
    """
    return _recovery_run(params, seed)


def observe_recovery_wrong_negatives(params, seed):
    """Mutant: negatives drawn from a skewed ``Q`` but ``P_hat`` formed with ``P^- = uniform``."""
    return _recovery_run(params, seed, negatives="skewed")


def observe_recovery_misaligned(params, seed):
    """Mutant: each anchor is paired with the previous sample's next state (buffer off by one)."""
    return _recovery_run(params, seed, misaligned=True)


_RECOVERY_SWEEP = Sweep(quick=Grid(S=[10], A=[2], d=[2], n=[500, 2000, 8000]),
                        full=Grid(S=[10], A=[2], d=[2], n=[250, 500, 1000, 2000, 4000, 8000, 16000]),
                        seeds_quick=10, seeds_full=20)

KERNEL_RECOVERY = Claim(
    id="contrastive_ucb.kernel_recovery",
    paper=PAPER,
    statement=("The contrastive (binary NCE) estimate P_hat = (phi_hat psi_hat) P^- of a rank-d kernel, fitted "
               "on n i.i.d. labelled transitions, has mean TV error over the anchors that shrinks at least like "
               "n^(-1/2): the log-log slope of E TV(P_hat, P) against n is <= -1/2 + 0.1."),
    provenance=Provenance("reconstructed",
                          "'The contrastive loss recovers the true transition' is the abstract's; the binary "
                          "logistic loss, i.i.d. uniform anchors and the sqrt(log(|F| n / delta) / n) MLE-style "
                          "rate are reconstructed (docs/papers/contrastive_ucb.md#contrastive-ucb-contrastive-loss)."),
    observe=observe_recovery,
    sweep=_RECOVERY_SWEEP,
    rule=Rate("tv_error", param="n", exponent=-0.5, tolerance=0.1, sided="upper",
              justification=("the rate sqrt(log(|F| n / delta) / n) has local exponent -1/2 + 1/(2 ln(|F| n / delta)) "
                             "<= -0.44 for n >= 500; 0.1 covers it and still rejects a plateau (slope 0)")),
    bound=lambda p: p["n"] ** -0.5,
    mutants=[
        Mutant("wrong_negatives", observe_recovery_wrong_negatives,
               why="negatives come from a skewed Q (weights 1..3) but P_hat is formed with uniform P^-: the fit "
                   "converges to P / Q, so P_hat keeps an O(1) bias and the TV error plateaus (slope ~ -0.1)"),
        Mutant("misaligned_positives", observe_recovery_misaligned,
               why="each anchor is labelled with another anchor's next state: the positives carry only the "
                   "marginal of s', so P(.|x) is never identified and the error plateaus"),
    ],
    observed="mean_x TV(P_hat(.|x), P(.|x))",
)

SPAN_RECOVERY = Claim(
    id="contrastive_ucb.span_recovery",
    paper=PAPER,
    statement=("The learned features recover the true representation up to an invertible d x d transform: the "
               "largest principal angle between span(phi_hat) and span(phi*) over the anchors shrinks at least "
               "like n^(-1/2) (log-log slope <= -1/2 + 0.1)."),
    provenance=Provenance("reconstructed",
                          "'Recovers the true representation' is the abstract's; measuring it by principal angles "
                          "(phi is identified only up to an invertible transform) and the n^(-1/2) rate, inherited "
                          "from the kernel error through a fixed-rank perturbation bound, are reconstructed."),
    observe=observe_recovery,
    sweep=_RECOVERY_SWEEP,
    rule=Rate("feature_angle", param="n", exponent=-0.5, tolerance=0.1, sided="upper",
              justification=("the angle is Lipschitz in the ratio error for a fixed rank-d kernel with a positive d-th "
                             "singular value (Wedin), so it inherits the kernel rate's local exponent <= -0.44")),
    bound=lambda p: p["n"] ** -0.5,
    mutants=[
        Mutant("misaligned_positives", observe_recovery_misaligned,
               why="anchors paired with other anchors' next states carry no information about phi*(x): the "
                   "angle stays near its random-subspace level (~1.4 rad, slope ~ 0)"),
    ],
    observed="largest principal angle (rad)",
)


# ============================================================================ (3) MDP suboptimality
def _lock(params):
    from mdpkit.envs.lowrank import combination_lock

    return combination_lock(params["H"], params["A"], params["obs"], seed=params["instance"])




def _suboptimality_run(params, seed, *, features: str = "learned") -> dict:
    from mdpkit.algorithms import contrastive_ucb

    # The instance is a sweep parameter, NOT drawn from ``seed`` (it must be the same at every K).
    res = contrastive_ucb.run(_lock(params), K=params["K"], seed=seed,
                              bonus_scale=params["bonus_scale"], features=features)
    gap = res.optimal_value - res.values
    return {"avg_suboptimality": np.float64(gap.mean()),
            "final_suboptimality": np.float64(gap[-1]),
            "final_feature_angle": np.float64(res.feature_angle[-1])}


def observe_suboptimality(params, seed):
    """Suboptimality of the output policy (the uniform mixture of ``pi^1..pi^K``) on a combination lock.

    Returns
    -------
    dict
        ``avg_suboptimality`` (scalar): ``V*_1(s_1) - (1/K) sum_k V^{pi^k}_1(s_1)``, exactly the value
        gap of the uniform mixture policy (``V* = 1`` on the lock); ``final_suboptimality`` (scalar,
        diagnostic): the gap of ``pi^K`` alone; ``final_feature_angle`` (scalar, diagnostic, rad).
    """
    return _suboptimality_run(params, seed)


def observe_suboptimality_random_features(params, seed):
    """Mutant: features frozen at their random initialisation (only ``psi`` is fitted)."""
    return _suboptimality_run(params, seed, features="random")


@contextlib.contextmanager
def _misaligned_buffer():
    """Patch ``_Explorer._record`` (restored on exit): each anchor is stored with the PREVIOUS
    transition's next state (the environment's sample is unaffected)."""
    from mdpkit.algorithms import contrastive_ucb

    original = contrastive_ucb._Explorer._record

    def record_previous_next_state(self, h, x, s_next):
        previous = getattr(self, "_previous_next_state", s_next)
        self._previous_next_state = s_next
        original(self, h, x, previous)

    with mock.patch.object(contrastive_ucb._Explorer, "_record", record_previous_next_state):
        yield


def observe_suboptimality_misaligned(params, seed):
    """Mutant: the replay buffer is off by one (each anchor labelled with the previous ``s'``).

    Injected by patching ``_Explorer._record`` for the duration of the run, restored on exit.
    """
    with _misaligned_buffer():
        return _suboptimality_run(params, seed)


SUBOPTIMALITY_RATE = Claim(
    id="contrastive_ucb.suboptimality_rate",
    paper=PAPER,
    statement=("On a rank-2 combination lock with S >> d, Contrastive UCB's output policy (the uniform mixture of "
               "pi^1..pi^K) is O~(K^(-1/2))-suboptimal: the log-log slope of V* - V^{mix_K} against K, over a "
               "K range past the burn-in, is <= -1/2 + 0.25."),
    provenance=Provenance("reconstructed",
                          "O~(1/eps^2) episodes for an eps-optimal policy is the abstract's; the algorithm (roll-in "
                          "+ uniform-action data, model-based optimistic planning, bonus 0.1 H sqrt(d) ||phi||, "
                          "cold refits on a doubling schedule), the mixture output and the combination-lock "
                          "instance are reconstructed (docs/papers/contrastive_ucb.md#contrastive-ucb-online-algorithm)."),
    observe=observe_suboptimality,
    sweep=Sweep(quick=Grid(instance=[0], H=[3], A=[2], obs=[3], bonus_scale=[_BONUS_SCALE], K=[50, 200]),
                full=Grid(instance=[0, 1, 2], H=[3, 4], A=[2], obs=[3], bonus_scale=[_BONUS_SCALE],
                          K=[100, 200, 400, 800]),
                seeds_quick=8, seeds_full=16, common_seeds_over=("K",)),
    rule=Rate("avg_suboptimality", param="K", exponent=-0.5, tolerance=0.25, sided="upper",
              justification=(f"O~ hides a ln K factor, whose log-log chord over K = 100..800 is at most "
                             f"{log_factor_chord(100, 400):.2f} (K = 100..400); 0.25 covers it and still rejects "
                             "a plateau (slope 0); K >= 100 is past the lock's burn-in (measured: every run's "
                             "pi^k is optimal from k ~ 100 on at H = 3)")),
    bound=lambda p: p["K"] ** -0.5,
    mutants=[
        Mutant("random_features", observe_suboptimality_random_features,
               why="features frozen at random cannot express 'this action keeps you on the good chain': the "
                   "model never learns the key, most runs keep a wrong action on some good observation and the "
                   "mixture's gap plateaus (measured 0.5-0.73 at K = 400, slope ~ 0)"),
        Mutant("misaligned_buffer", observe_suboptimality_misaligned,
               why="each anchor is labelled with the previous transition's next state: the model learns only "
                   "the marginal of s', every action looks alike and the gap plateaus (~0.73, slope ~ 0)"),
    ],
    observed="V* - V^{mixture of pi^1..pi^K}",
)


# ============================================================================ (4) Markov game
def _game_run(params, seed) -> dict:
    from mdpkit.algorithms import contrastive_ucb
    from mdpkit.envs.lowrank import random_lowrank_game

    # Fixed instance per sweep point; common random numbers over K (Sweep.common_seeds_over).
    game = random_lowrank_game(params["S"], params["A"], params["B"], params["H"], params["d"],
                               seed=params["instance"])
    res = contrastive_ucb.run_game(game, K=params["K"], seed=seed,
                                   bonus_scale=params["bonus_scale"])
    return {"avg_nash_gap": np.float64(np.mean(res.nash_gap)), "final_nash_gap": np.float64(res.nash_gap[-1])}


def observe_nash_gap(params, seed):
    """Average exact Nash gap of the deployed policies ``(mu^k, nu^k)``, ``k = 1..K``.

    Returns
    -------
    dict
        ``avg_nash_gap`` (scalar): ``(1/K) sum_k [V^{dagger, nu^k} - V^{mu^k, dagger}](s_1)``;
        ``final_nash_gap`` (scalar, diagnostic): the gap of ``(mu^K, nu^K)``.
    """
    return _game_run(params, seed)


def _cooperative_joint(Q_max, Q_min) -> np.ndarray:
    """The mutant's "equilibrium": all mass on the pair maximising ``Q_max`` (the min player's sign lost)."""
    joint = np.zeros(np.shape(Q_max))
    joint[np.unravel_index(int(np.argmax(Q_max)), joint.shape)] = 1.0
    return joint


def observe_nash_gap_cooperative(params, seed):
    """Mutant: the per-state CCE replaced by the joint argmax of ``Q_up`` (the min player maximises too).

    Injected by patching the CCE solver that :func:`contrastive_ucb.run_game` calls, restored on exit
    (the worker process is otherwise unaffected).
    """
    from mdpkit.algorithms import contrastive_ucb

    with mock.patch.object(contrastive_ucb, "coarse_correlated_equilibrium", _cooperative_joint):
        return _game_run(params, seed)


NASH_GAP_RATE = Claim(
    id="contrastive_ucb.nash_gap_rate",
    paper=PAPER,
    statement=("In a low-rank zero-sum Markov game, the Markov-game variant (ULCB + per-state CCE) has average "
               "Nash gap (1/K) sum_k gap(mu^k, nu^k) = O~(K^(-1/2)): log-log slope against K <= -1/2 + 0.25."),
    provenance=Provenance("reconstructed",
                          "O~(1/eps^2) for an eps-approximate NE is the abstract's; ULCB + CCE (Xie et al. 2020) "
                          "with the learned model, and the average of the per-episode gaps as the measured "
                          "quantity, are reconstructed (docs/papers/contrastive_ucb.md#contrastive-ucb-markov-game-variant)."),
    observe=observe_nash_gap,
    sweep=Sweep(quick=Grid(instance=[2], S=[5], A=[2], B=[2], H=[2], d=[2], bonus_scale=[_BONUS_SCALE], K=[40, 160]),
                full=Grid(instance=[0, 1, 2], S=[5], A=[2], B=[2], H=[2], d=[2], bonus_scale=[_BONUS_SCALE],
                          K=[40, 80, 160, 320, 640]),
                seeds_quick=6, seeds_full=8, common_seeds_over=("K",)),
    rule=Rate("avg_nash_gap", param="K", exponent=-0.5, tolerance=0.25, sided="upper",
              justification=(f"O~ hides a ln K factor, whose log-log chord over K = 40..160 is "
                             f"{log_factor_chord(40, 160):.2f}; 0.25 covers it and still rejects a plateau "
                             "(slope 0)")),
    bound=lambda p: p["K"] ** -0.5,
    mutants=[
        Mutant("cooperative_min_player", observe_nash_gap_cooperative,
               why="the min player's sign is lost (both players maximise Q_up): the deployed pair is "
                   "exploitable by the min player's best response at every K, so the gap plateaus (~0.17)"),
    ],
    observed="(1/K) sum_k NashGap(mu^k, nu^k)",
    finding=Finding("Does not hold on instance 2 (a property of this reconstruction, not evidence about the paper): at the "
             "full budget (K = 40..640, 8 seeds, common random numbers) the slope CIs are [-0.71, -0.48] and "
             "[-0.60, -0.30] on instances 0 and 1 (PASS) but [-0.54, -0.20] on instance 2 (FAIL), and the cause is not "
             "noise: 3 of its 8 runs plateau -- the deployed pair's exact gap is 0.0079, 0.0075, 0.0069 at K = 160 "
             "and still 0.0075, 0.0069, 0.0083 at K = 640 (seed indices 0, 3, 7), while the other 5 runs reach gap 0. "
             "Their average gaps (0.0086 -> 0.0080 for seed 0) stay flat. Diagnosed (issue 6, measured on these seeds; "
             "with the current code seed 7 is at gap 0 at K = 160 and wrong in every episode from k = 425 on; the "
             "0.0069 at K = 160 is seed 6's): no bug, no fit floor, no unvisited anchor -- the instance's action gap "
             "is below the estimation error at these K. Only stage 0 at the fixed initial state matters: "
             "Q*_0(s_1) = [[0.8267, 0.8300], [0.8337, 0.8412]] has the pure saddle (a, b) = (1, 0) with margins "
             "0.0069 (max player) and 0.0075 (min player), and the plateau gaps are these margins (0.0079, 0.0083: "
             "plus a 0.0008-0.0010 stage-1 slip); the true NE at stage 0 leaves at most that slip (instances 0 and "
             "1: margins 0.055-0.107). The deployed pair follows the signs of Q_up[1, 0] - Q_up[0, 0] and "
             "Q_low[1, 1] - Q_low[1, 0], perturbed by (i) the model error (P_hat - P) V*_1, largest over the anchors "
             "0.005-0.023 at K = 640 although each of the four anchors has ~160 visits (every reachable anchor is "
             "visited; at K = 2560 a 5000-iteration cold fit reaches the same loss and P_hat), and "
             "(ii) the anchor dependence of beta ||phi_hat||_{Lambda^-1}: 0.011-0.022 at the four anchors at K = 640 "
             "(spread 0.008 even with the true features), which ULCB turns into each player preferring its "
             "higher-bonus action, as designed. Over episodes 480-640 (seeds 0 / 3 / 7) the learned model's own "
             "equilibrium (no bonus) is wrong in 100% / 88% / 0% of episodes and the CCE of the TRUE model with the "
             "run's bonus in 20% / 45% / 100%; the CCE step is exact (true model, no bonus: gap 0; CCE of the "
             "bonus-free learned model: the same gap as its Nash at all 24 snapshots checked). Both perturbations "
             "shrink like K^(-1/2) but reach the margins only at K ~ 10^3-10^4: continued to K = 2560, seed 0 is exact "
             "from k = "
             "1871 on, seeds 3 and 7 are still wrong in 100% / 62% of episodes 1920-2560 (average gaps 0.0053, 0.0067, "
             "0.0050), where model and bonus errors below the margin add up (seed 3: 0.0075 - 0.0069 - 0.0055 < 0); "
             "continued to K = 6400, seeds 7 and 3 are exact from k = 2645 and k = 4602 on (seed 3 is wrong in "
             "74-100% of each 640-episode window before k = 4480), average gaps 0.0050 -> 0.0021 and 0.0067 -> 0.0051 "
             "from K = 2560 to 6400, ~1/K while they stay exact. A "
             "wrong pure action costs exactly the margin, so the gap is quantised (0 or ~0.007) and its average stays "
             "flat until the perturbations fall below it: a pre-asymptotic, gap-dependent regime, not a violation of "
             "the O~(K^(-1/2)) bound -- the algorithm's certificate V_low <= V^(mu, dagger) <= V^(dagger, nu) <= V_up "
             "holds at all 16 (seed, K) checked, and its width V_up - V_low falls from 0.11-0.16 (K = 160) to "
             "0.05-0.07 (K = 640), slope ~ -0.6, 8-9 times the plateau gaps. The "
             "quick budget runs instance 2 so that this is re-checked in CI: slope CI [-0.54, -0.15] with 6 seeds "
             "(the same seed indices), a FAIL that alone would be inconclusive -- the plateau is the evidence. "
             "Instance 0 passes at the quick budget too (CI [-0.78, -0.48]).",
        statistic="claim.groups.instance=2.slope", expect="FAIL",
        quick=Pin(-0.326, (-0.684, -0.027),
                  "instance 2's slope; band = its 95% bootstrap CI over seeds [-0.537, -0.150], each half-width "
                  "x 1.7 (~99.9% for a normal spread)"),
        full=Pin(-0.343, (-0.680, -0.098),
                 "instance 2's slope (paper_figs/contrastive_ucb); band = its 95% bootstrap CI [-0.541, -0.199], "
                 "each half-width x 1.7")),
)




# ============================================================================ (5) vs UCBVI and oracle LSVI-UCB
# Declared before any measurement (issue 6): the target, the bonus scaling, the factor.
#: Target suboptimality of the output (mixture) policy, absolute; V* is about 0.5-0.9 here.
_COMPARE_EPS = 0.1


def delayed_reward_block_mdp(n_latent: int, obs_per_latent: int, A: int, H: int, *, seed):
    """:func:`mdpkit.envs.lowrank.block_mdp` with its reward moved to the last stage.

    ``R_h = 0`` for ``h < H - 1`` and ``R_{H-1}(x, a) = T_{H-1}(z' = 0 | z(x), a)``: reward for
    reaching latent state 0 at the end. Still linear in the true features (``theta_{H-1} = e_0``),
    so LSVI-UCB with oracle features is well specified; ``S = n_latent * obs_per_latent >> d``.

    Returns a :class:`mdpkit.LowRankMDP`.

    Reconstructed: with block_mdp's per-stage rewards the known-reward greedy policy is already
    near-optimal (measured: Contrastive UCB's first episodes have gap ~0.01 on block_mdp(3, 20, 2,
    3)), so "episodes to eps" would not involve learning the transitions at all. Moving the reward
    to the end makes the first H - 1 choices matter only through the transitions.
    """
    from mdpkit.envs.lowrank import block_mdp
    from mdpkit.lowrank import LowRankMDP

    base = block_mdp(n_latent, obs_per_latent, A, H, latent_concentration=0.3, seed=seed)
    R = np.zeros_like(base.R)
    R[H - 1] = base.phi[H - 1, :, :, 0]
    return LowRankMDP(base.phi, base.psi, R, base.mu0, name=f"delayed-reward {base.name}")


def episodes_to_eps(gap, eps: float) -> float:
    """Episodes after which the output policy (the uniform mixture of ``pi^1..pi^K``) stays ``eps``-optimal.

    Parameters
    ----------
    gap : array_like, shape (K,)
        ``V* - V^{pi^k}`` per episode (exact).
    eps : float

    Returns
    -------
    float
        The smallest ``N`` (1-based) such that ``mean(gap[:K']) <= eps`` for EVERY ``K'`` in
        ``N..K`` (the mixture's gap is the mean of the gaps); ``inf`` if the final mixture is not
        ``eps``-optimal (censored at ``K``). "Stays" matters: a lucky first policy (LSVI-UCB's
        data-free greedy policy is 0.1-optimal on some instances) would otherwise count as done.
    """
    gap = np.asarray(gap, dtype=np.float64)
    above = np.flatnonzero(np.cumsum(gap) > eps * np.arange(1, gap.shape[0] + 1))
    if above.size == 0:
        return 1.0
    return float(above[-1] + 2) if above[-1] + 1 < gap.shape[0] else np.inf


def _comparison_run(params, seed, *, features: str = "learned") -> dict:
    from mdpkit.algorithms import contrastive_ucb, lsvi_ucb, ucbvi

    # Fixed instance per sweep point (see _suboptimality_run); ``seed`` drives the three algorithms.
    mdp = delayed_reward_block_mdp(params["Z"], params["obs"], params["A"], params["H"], seed=params["instance"])
    K, scale, eps = params["K"], params["bonus_scale"], params["eps"]
    seed_ucbvi, seed_lsvi, seed_contrastive = seed.spawn(3)
    runs = {"contrastive": contrastive_ucb.run(mdp, K=K, seed=seed_contrastive, bonus_scale=scale,
                                               data="trajectory", features=features),
            "ucbvi": ucbvi.run(mdp.to_tabular(), K=K, seed=seed_ucbvi, bonus_scale=scale),
            "lsvi_ucb": lsvi_ucb.run(mdp, K=K, seed=seed_lsvi, bonus_scale=scale)}
    n = {name: episodes_to_eps(r.optimal_value - r.values, eps) for name, r in runs.items()}
    # A censored baseline needs MORE than K episodes: K + 1 is a lower bound, which can only
    # overstate the ratios (conservative for the claim); a censored Contrastive UCB gives inf.
    n_ucbvi, n_lsvi = (min(n[name], K + 1.0) for name in ("ucbvi", "lsvi_ucb"))
    ratios = np.array([n["contrastive"] / n_ucbvi, n["contrastive"] / (params["A"] * n_lsvi)])
    tail = max(1, K // 10)
    return {"ratios": ratios,
            "episodes": np.array([n["contrastive"], n["ucbvi"], n["lsvi_ucb"]]),
            "final_gap": np.array([float(np.mean(r.optimal_value - r.values[-tail:])) for r in runs.values()])}


def observe_episodes_vs_baselines(params, seed):
    """Episodes to an ``eps``-optimal mixture policy: Contrastive UCB against UCBVI and oracle LSVI-UCB.

    The three algorithms run on the same instance with the same practical bonus multiplier (their
    own theoretical bonus times ``bonus_scale``), one trajectory per episode each (Contrastive UCB
    with ``data="trajectory"``), for ``K`` episodes.

    Returns
    -------
    dict
        ``ratios`` (2,): ``N_c / N_ucbvi`` and ``N_c / (|A| N_lsvi)`` (the claim: both <= 1), with
        ``N`` from :func:`episodes_to_eps` (censored baselines at ``K + 1``); ``episodes`` (3,):
        ``N`` for Contrastive UCB, UCBVI, LSVI-UCB (``inf`` = not reached by ``K``); ``final_gap``
        (3,): mean gap of the last tenth of the episodes, same order (diagnostic).
    """
    return _comparison_run(params, seed)


def observe_episodes_vs_baselines_random_features(params, seed):
    """Mutant: Contrastive UCB with features frozen at their random initialisation."""
    return _comparison_run(params, seed, features="random")


EPISODES_VS_BASELINES = Claim(
    id="contrastive_ucb.episodes_vs_baselines",
    paper=PAPER,
    statement=("With S >> d, Contrastive UCB needs fewer episodes than tabular UCBVI to output an eps-optimal "
               "policy, and at most |A| times as many as LSVI-UCB with oracle features: on a delayed-reward block "
               "MDP (d latent states, S = 10 d or more observations), in a majority of runs both N_c < N_ucbvi and "
               f"N_c <= |A| N_lsvi, N = episodes until the mixture of pi^1..pi^K is eps-optimal (eps = {_COMPARE_EPS})."),
    provenance=Provenance("reconstructed",
                          "The comparison is our reading of the paper's motivation (representation learning "
                          "beats tabular exploration when S >> d; oracle features are the upper reference); the "
                          "instance, eps, the common bonus multiplier 0.1, the one-trajectory data mode, the "
                          "factor |A| (the uniform-action one-step-back argument, docs/papers/contrastive_ucb.md"
                          "#contrastive-ucb-contrastive-loss) and the majority reading are reconstructed."),
    observe=observe_episodes_vs_baselines,
    # Quick: S = 20 = 10 d, the largest size at which Contrastive UCB reaches eps within the quick K
    # (S = 30 and 90 need K ~ 1000, 5-9 s per run; measured).
    sweep=Sweep(quick=Grid(instance=[0], Z=[2], obs=[10], A=[2], H=[3], bonus_scale=[_BONUS_SCALE],
                           eps=[_COMPARE_EPS], K=[300]),
                full=Grid(instance=[0, 1, 2], Z=[2, 3], obs=[10, 30], A=[2], H=[3], bonus_scale=[_BONUS_SCALE],
                          eps=[_COMPARE_EPS], K=[1000]),
                seeds_quick=6, seeds_full=10),
    rule=HighProbability("ratios", delta=0.5, per_point=True),
    bound=lambda p: 1.0,
    mutants=[
        Mutant("random_features", observe_episodes_vs_baselines_random_features,
               why="features frozen at random: the bonus and the model live in the wrong span, so the eps-optimal "
                   "mixture should come later than with oracle features by more than |A|"),
    ],
    observed="N_contrastive / N_ucbvi and N_contrastive / (|A| N_lsvi)",
    finding=Finding("Does not hold for our implementation (verdict FAIL), mainly through the oracle part. Quick budget "
             "(S = 20, d = 2, K = 300, 6 seeds, ~10 s for 12 runs on 2 workers): Contrastive UCB reaches eps in 6/6 runs "
             "(N_c = 111-296) while UCBVI never does (its mixture gap plateaus at 0.35-0.43), so 'fewer than UCBVI' "
             "holds 6/6; but N_c / N_lsvi = 1.1-3.0 (LSVI-UCB: N = 97-105), above |A| = 2 in 3/6 runs; Clopper-Pearson "
             "upper limit 0.88 > 1/2. Random frozen features never reach eps by K = 300 (6/6 censored, final gaps "
             "0.09-0.15), so the mutant separates on the UCBVI part. Full grid at K = 1000, 3 seeds per point (36 "
             "runs, 3 instances x S in {20, 30, 60, 90}, direct runs of this observe function, ~5-12 s each): "
             "Contrastive UCB reaches eps in 22/36 (S = 20: 8/9, 30: 8/9, 60: 3/9, 90: 3/9), UCBVI in 3/36 "
             "(one instance where every policy is nearly optimal: N = 1), LSVI-UCB in 36/36. 'Fewer than UCBVI' "
             "holds 22/36 (every run in which Contrastive UCB reaches eps; at S = 60-90 both are mostly censored "
             "at K = 1000, so that part is undecided there, not refuted); 'within |A| of LSVI-UCB' holds 10/36: "
             "N_c / N_lsvi has median ~2.6 and range 0-11 where both reach eps. Random features: 0/4 reach eps. "
             "Caveats: one common bonus multiplier (0.1) for all three algorithms, Contrastive UCB's "
             "one-trajectory data mode (the per-stage mode costs H(H+1)/2 transitions per episode), delayed-reward "
             "block MDPs only; full budget (paper_figs/contrastive_ucb: 12 points = 3 instances x S in {20, 30, 60, "
             "90}, K = 1000, 10 seeds, 120 runs): Contrastive UCB reaches eps in 68/120 runs, UCBVI in 10/120 (all on "
             "instance 1, S = 60, where Contrastive UCB reaches it in 0/10), LSVI-UCB in 120/120; 'fewer than UCBVI' "
             "holds in 68/120, 'within |A| of LSVI-UCB' in 28/120 (per point 0-7 of 10; median N_c / N_lsvi 0.2-11 by "
             "point), so the majority reading fails at every point but instances 1 and 2 at S = 30 (7/10 each, still "
             "not significant at 10 seeds).",
        statistic="claim.failures", expect="FAIL",
        # The bands are Pin.binomial's (exact scipy.stats.binom quantiles), written out so that loading
        # the claims does not import scipy; tests/test_claims_contrastive_ucb.py recomputes them.
        quick=Pin(3.0, (1.0, 5.0), "runs breaking N_c < N_ucbvi or N_c <= |A| N_lsvi, 3 of 6; at n = 6 a 99.9% "
                                   "band is [0, 6] and would pin nothing, so 95% (a 1-in-32 false alarm) "
                                   "(binomial 95.0% range at rate 3/6)"),
        full=Pin(92.0, (76.0, 106.0), "runs breaking either part, 92 of 120 over 12 points (paper_figs/"
                                      "contrastive_ucb; per-point rates differ, which only narrows the spread) "
                                      "(binomial 99.9% range at rate 92/120)")),
)


# ============================================================================ (6)-(10) per-episode lemmas
# Issue 12: facts the analysis rests on, checked EXACTLY at every episode of every run, so that a
# constant-factor bug (which the rate claims above cannot see) fails a claim. Every audit below
# recomputes from primitives -- the transitions as drawn from the environment (recorded apart from
# the replay buffer), the fitted factors (phi_hat, psi_hat) and the rewards -- in plain numpy that
# shares no code with mdpkit.algorithms; values and gaps are recomputed by plain-numpy dynamic
# programming on the true model.
_LEMMAS = "docs/papers/contrastive_ucb.md#contrastive-ucb-per-episode-lemmas"
#: Absolute tolerance of an identity recomputed in a different summation order (values are <= H = 3;
#: the measured discrepancies of the correct code are <= 1e-14).
_IDENTITY_TOL = 1e-9
#: The CCE LP is solved by HiGHS, whose primal feasibility tolerance is 1e-7: its deviation
#: constraints hold to that, not to round-off.
_CCE_TOL = 1e-6


def _bonus_reference(phi_h: np.ndarray, anchors: np.ndarray, beta: float, cap: float, ridge: float = 1.0):
    """``min(beta ||phi(x)||_{Lambda^-1}, cap)`` for every anchor ``x``, ``Lambda = ridge I + F^T F``.

    ``F`` (n, d) stacks ``phi_h(x_tau)`` of every collected anchor (one row per sample, as the
    analysis writes the Gram matrix); ``phi_h`` (N, d).
    """
    F = phi_h[anchors]
    gram = ridge * np.eye(phi_h.shape[1]) + F.T @ F
    norms_sq = np.einsum("xi,xi->x", phi_h, np.linalg.solve(gram, phi_h.T).T)
    return np.minimum(beta * np.sqrt(np.maximum(norms_sq, 0.0)), cap), gram


def _model_estimate(phi, psi, negative_dist):
    """``P_hat = (phi psi) * P^-``, rows normalised: (H, N, S)."""
    P_hat = np.einsum("hxi,his->hxs", phi, psi) * negative_dist[:, None, :]
    return P_hat / P_hat.sum(axis=2, keepdims=True)


def _policy_value(P, R, mu0, policy) -> float:
    """``mu0 . V^pi_0`` by backward induction (plain numpy); ``policy`` (H, S, A) stochastic."""
    V = np.zeros(P.shape[1])
    for h in range(P.shape[0] - 1, -1, -1):
        V = np.sum(policy[h] * (R[h] + P[h] @ V), axis=1)
    return float(mu0 @ V)


def _optimal_q(P, R) -> np.ndarray:
    """``Q*`` (H, S, A) by backward induction (plain numpy)."""
    H, S, A, _ = P.shape
    Q, V = np.empty((H, S, A)), np.zeros(S)
    for h in range(H - 1, -1, -1):
        Q[h] = R[h] + P[h] @ V
        V = Q[h].max(axis=1)
    return Q


def _greedy_error(policy, Q_ref) -> float:
    """How far ``policy`` (H, S, A) is from a distribution supported on the argmax of ``Q_ref``."""
    not_distribution = max(float(np.max(np.abs(policy.sum(axis=-1) - 1.0))), float(-policy.min()))
    return max(not_distribution, float(np.max(Q_ref.max(axis=-1) - np.sum(policy * Q_ref, axis=-1))))


#: Components of the planning audit (observed ``discrepancy``, one entry each).
PLANNING_CHECKS = ("bookkeeping", "bonus", "backup", "value_max", "policy_greedy", "exact_value", "optimistic_value",
                   "feature_angle")


def _feature_angle_reference(phi_hat, phi_true, log, n_anchors: int) -> float:
    """Largest principal angle (worst stage) between ``span(phi_hat_h)`` and ``span(phi*_h)``, rows
    weighted by the anchor counts of ``log`` (rows (h, x, ...)), anchors without data dropped."""
    from scipy.linalg import subspace_angles

    worst = 0.0
    for h in range(phi_hat.shape[0]):
        counts = np.bincount(log[log[:, 0] == h, 1], minlength=n_anchors).astype(float)
        rows = counts > 0
        if rows.any():
            scale = np.sqrt(counts[rows])[:, None]
            worst = max(worst, float(subspace_angles(scale * phi_hat[h, rows], scale * phi_true[h, rows]).max()))
    return worst


def _reported_as_called(hyper: dict, called: dict) -> bool:
    """Whether ``hyper`` reports every argument of the call as given (beta as its default when not given)."""
    return all(k in hyper and hyper[k] == v for k, v in called.items())


def _audit_contrastive_mdp(mdp, res, planner: str, beta: float, called: dict | None = None) -> np.ndarray:
    """Per-episode audit of :func:`contrastive_ucb.run` (``record=True``), see :data:`PLANNING_CHECKS`.

    ``called``: the hyper-parameters the run must report (``bookkeeping``); ``None`` skips that part.
    """
    H, S, A = mdp.H, mdp.S, mdp.A
    P, R, mu0 = np.asarray(mdp.P), np.asarray(mdp.R), np.asarray(mdp.mu0)
    cap = (H - np.arange(H))[:, None, None].astype(float)
    err = np.zeros(len(PLANNING_CHECKS))
    if called is not None and not (_reported_as_called(res.hyper, called)
                                   and res.extras["transitions_per_episode"] == H * (H + 1) // 2):
        err[0] = 1.0
    trace = res.extras["trace"]
    cold_wins = sum(int(tr["cold_loss"] < tr["warm_loss"]) for tr in trace)   # NaN compares False
    if res.extras["cold_refit_wins"] != cold_wins or not np.array_equal(
            res.extras["fit_iterations"], [tr["n_iterations"] for tr in trace]):
        err[0] = 1.0
    log = np.empty((0, 3), dtype=np.int64)
    for k, tr in enumerate(trace):
        t = tr["transitions"]
        # one transition per stage and episode, anchors and next states in range, default P^- uniform
        shape_ok = sorted(t[:, 0].tolist()) == list(range(H)) and np.all((t[:, 1] >= 0) & (t[:, 1] < S * A)) \
            and np.all((t[:, 2] >= 0) & (t[:, 2] < S))
        # cold fits compete at refits 1, 2, 4, 8, ... (as documented) and the lower loss is kept
        cold_due = res.hyper["cold_refits"] and ((k + 1) & k) == 0
        schedule_ok = np.isnan(tr["cold_loss"]) != cold_due and tr["loss"] == np.nanmin([tr["warm_loss"], tr["cold_loss"]])
        err[0] = max(err[0], 0.0 if shape_ok and schedule_ok else 1.0,
                     float(np.max(np.abs(tr["negative_dist"] - 1.0 / S))),
                     abs(float(np.mean(tr["bonus"].reshape(H, -1)[t[:, 0], t[:, 1]])) - res.extras["mean_bonus"][k]))
        log = np.vstack([log, t])
        phi, Q, V = tr["phi"], tr["Q"], tr["V"]
        Q_ref = np.empty((H, S, A))
        P_hat = _model_estimate(phi, tr["psi"], tr["negative_dist"]) if planner == "model" else None
        for h in range(H):
            rows = log[log[:, 0] == h]
            bonus, gram = _bonus_reference(phi[h], rows[:, 1], beta, float(H))
            err[1] = max(err[1], float(np.max(np.abs(bonus - tr["bonus"][h].ravel()))))
            if planner == "model":
                backup = P_hat[h] @ V[h + 1]
            else:  # least squares on the learned features: w = Lambda^-1 sum_tau phi(x_tau) V_{h+1}(s'_tau)
                w = np.linalg.solve(gram, phi[h][rows[:, 1]].T @ V[h + 1][rows[:, 2]])
                backup = phi[h] @ w
            Q_ref[h] = np.minimum(R[h] + bonus.reshape(S, A) + backup.reshape(S, A), cap[h])
        err[2] = max(err[2], float(np.max(np.abs(Q_ref - Q))))
        err[3] = max(err[3], float(np.max(np.abs(V[:H] - Q.max(axis=2)))), float(np.max(np.abs(V[H]))))
        err[4] = max(err[4], _greedy_error(tr["policy"], Q_ref))
        err[5] = max(err[5], abs(_policy_value(P, R, mu0, tr["policy"]) - res.values[k]))
        err[6] = max(err[6], abs(float(mu0 @ V[0]) - res.extras["optimistic_value"][k]))
        angle = _feature_angle_reference(phi, np.asarray(mdp.phi).reshape(H, S * A, -1), log, S * A)
        err[7] = max(err[7], abs(angle - res.extras["feature_angle"][k]))
    return err


def _lsvi_ucb_beta(d: int, H: int, K: int, bonus_scale: float) -> float:
    """LSVI-UCB's documented default ``beta = d H sqrt(log(2 d K H / 0.05))`` (c = 1), times the scale,
    written out here (not :func:`lsvi_ucb.theoretical_beta`) so the audit shares no code with it."""
    return d * H * np.sqrt(np.log(2.0 * d * K * H / 0.05)) * bonus_scale


def _audit_lsvi_ucb(mdp, res, beta: float) -> np.ndarray:
    """Per-episode audit of :func:`lsvi_ucb.run` (``record=True``): Algorithm 1 of Jin et al. from the
    trajectories of the earlier episodes and the true features; same components as the MDP audit."""
    H, S, A, d = mdp.H, mdp.S, mdp.A, mdp.d
    P, R, mu0, phi = np.asarray(mdp.P), np.asarray(mdp.R), np.asarray(mdp.mu0), np.asarray(mdp.phi)
    err = np.zeros(len(PLANNING_CHECKS))
    K = res.K
    if not (res.hyper.get("beta") == _lsvi_ucb_beta(d, H, K, 1.0) and res.extras["transitions_per_episode"] == H):
        err[0] = 1.0   # the default beta is reported as the documented formula
    log = np.empty((0, 4), dtype=np.int64)
    for k, tr in enumerate(res.extras["trace"]):
        Q, V = tr["Q"], tr["V"]
        Q_ref = np.empty((H, S, A))
        for h in range(H):
            rows = log[log[:, 0] == h]
            F = phi[h][rows[:, 1], rows[:, 2]]                       # (n, d)
            targets = R[h][rows[:, 1], rows[:, 2]] + V[h + 1][rows[:, 3]]
            gram = np.eye(d) + F.T @ F
            w = np.linalg.solve(gram, F.T @ targets)
            flat = phi[h].reshape(S * A, d)
            norms = np.sqrt(np.maximum(np.einsum("xi,xi->x", flat, np.linalg.solve(gram, flat.T).T), 0.0))
            Q_ref[h] = np.minimum((flat @ w + beta * norms).reshape(S, A), float(H))
        t = tr["transitions"]
        ok = t.shape == (H, 4) and np.array_equal(t[:, 0], np.arange(H)) and np.array_equal(
            t[:, 2], tr["policy"][t[:, 0], t[:, 1]]) and np.all(t[1:, 1] == t[:-1, 3])  # a trajectory, on-policy
        err[0] = max(err[0], 0.0 if ok else 1.0)
        log = np.vstack([log, t])
        err[2] = max(err[2], float(np.max(np.abs(Q_ref - Q))))
        err[3] = max(err[3], float(np.max(np.abs(V[:H] - Q.max(axis=2)))), float(np.max(np.abs(V[H]))))
        one_hot = np.eye(A)[tr["policy"]]
        err[4] = max(err[4], _greedy_error(one_hot, Q_ref))
        err[5] = max(err[5], abs(_policy_value(P, R, mu0, one_hot) - res.values[k]))
        err[6] = max(err[6], abs(float(mu0 @ V[0]) - res.extras["optimistic_value"][k]))
    return err


def _planning_run(params, seed) -> dict:
    from mdpkit.algorithms import contrastive_ucb, lsvi_ucb

    mdp = _lock(params)
    K, scale = params["K"], params["bonus_scale"]
    if params["algorithm"] == "lsvi_ucb":
        res = lsvi_ucb.run(mdp, K=K, seed=seed, bonus_scale=scale, record=True)
        err = _audit_lsvi_ucb(mdp, res, _lsvi_ucb_beta(mdp.d, mdp.H, K, scale))
    elif params["algorithm"] == "contrastive_model_defaults":   # the defaults: beta = H sqrt(d), model planner
        res = contrastive_ucb.run(mdp, K=K, seed=seed, record=True)
        called = dict(beta=mdp.H * np.sqrt(mdp.d), bonus_scale=1.0, planner="model", data="per_stage",
                      features="learned", ridge=1.0, n_negatives=1, max_iter=1000, negative_dist="uniform", K=K,
                      cold_refits=True)
        err = _audit_contrastive_mdp(mdp, res, "model", mdp.H * np.sqrt(mdp.d), called)
    else:
        res = contrastive_ucb.run(mdp, K=K, seed=seed, bonus_scale=scale, planner="lsvi", record=True)
        called = dict(beta=mdp.H * np.sqrt(mdp.d), bonus_scale=scale, planner="lsvi", K=K)
        err = _audit_contrastive_mdp(mdp, res, "lsvi", mdp.H * np.sqrt(mdp.d) * scale, called)
    return {"discrepancy": err}


def observe_planning_identity(params, seed):
    """Largest discrepancy, over the episodes of one run, between what the planner recorded and an
    independent plain-numpy recomputation.

    Returns
    -------
    dict
        ``discrepancy`` (8,), in the order of :data:`PLANNING_CHECKS`: ``bookkeeping`` (1 if an
        episode's sampled transitions are not one per stage / out of range / not on-policy, if a cold
        refit competed at other refits than 1, 2, 4, 8, ... or the higher loss was kept, or the
        reported hyper-parameters, transitions per episode, ``cold_refit_wins`` or ``fit_iterations``
        are not those of the call and the trace; otherwise the
        largest deviation of P^- from the documented uniform one and of ``mean_bonus`` from the mean
        recorded bonus at the episode's anchors); ``bonus`` (the Gram matrix ``lambda I + sum_tau phi phi^T`` of the
        CURRENT features over every collected anchor, and ``min(beta ||phi||_{Lambda^-1}, H)``);
        ``backup`` (the one-step identity ``Q_h = min(r_h + b_h + P_hat_h V_{h+1}, H - h)``, model
        planner, or with ``phi_hat w_h``, ``w_h = Lambda_h^-1 sum_tau phi(x_tau) V_{h+1}(s'_tau)``,
        least squares; LSVI-UCB: ``min(phi w + b, H)`` with the true features and targets
        ``r + V_{h+1}``); ``value_max`` (``V_h = max_a Q_h``, ``V_H = 0``); ``policy_greedy`` (the
        deployed policy is a distribution on the argmax of the recomputed ``Q``); ``exact_value``
        (``values[k]`` against plain-numpy policy evaluation on the true model); ``optimistic_value``
        (against ``mu0 . V_0``); ``feature_angle`` (the reported diagnostic against the largest
        principal angle recomputed with scipy from the recorded features, rows weighted by the anchor
        counts of the transition log; LSVI-UCB: 0).
    """
    return _planning_run(params, seed)


def _wrap_bonus(transform):
    """Context manager: ``_Explorer.fit_and_bonus`` with its bonus passed through ``transform``
    ``(bonus, self, beta, fit) -> bonus`` (restored on exit)."""
    from mdpkit.algorithms import contrastive_ucb

    original = contrastive_ucb._Explorer.fit_and_bonus

    def fit_and_bonus(self, beta):
        fit, Lambda_inv, bonus = original(self, beta)
        return fit, Lambda_inv, transform(bonus, self, beta, fit)

    return mock.patch.object(contrastive_ucb._Explorer, "fit_and_bonus", fit_and_bonus)


def _doubled_bonus(bonus, explorer, beta, fit):
    return np.minimum(2.0 * bonus, explorer.H)   # = min(2 beta ||phi||, H): beta off by a factor 2


def observe_planning_bonus_doubled(params, seed):
    """Mutant: the bonus coefficient doubled (Contrastive UCB's ``beta``; LSVI-UCB's theoretical ``beta``)."""
    from mdpkit.algorithms import lsvi_ucb

    original = lsvi_ucb.theoretical_beta
    with _wrap_bonus(_doubled_bonus), mock.patch.object(
            lsvi_ucb, "theoretical_beta", lambda *args, **kwargs: 2.0 * original(*args, **kwargs)):
        return _planning_run(params, seed)


def observe_planning_unnormalised_model(params, seed):
    """Mutant: the model planner plans with the raw ratio estimate ``(phi psi) P^-`` (rows not renormalised)."""
    from mdpkit.algorithms.contrastive import ContrastiveFit

    original = ContrastiveFit.transition_estimate
    with mock.patch.object(ContrastiveFit, "transition_estimate",
                           lambda self, normalize=False: original(self, normalize=False)):
        return _planning_run(params, seed)


def observe_planning_misaligned_buffer(params, seed):
    """Mutant: the replay buffer stores each anchor with the previous transition's next state."""
    with _misaligned_buffer():
        return _planning_run(params, seed)


PLANNING_IDENTITY = Claim(
    id="contrastive_ucb.planning_identity",
    paper=PAPER,
    statement=("Reconstructed lemma (per-episode, exact): in every episode, Contrastive UCB's bonus is "
               "min(beta ||phi_hat(x)||_{Lambda^-1}, H) with Lambda = I + sum over all collected anchors of "
               "phi_hat phi_hat^T in the CURRENT learned features, its Q is the optimistic one-step backup "
               "(model planner: min{r + b + P_hat V_{h+1}, H - h}, P_hat = normalised (phi_hat psi_hat) P^-; least "
               "squares: min{r + phi_hat w + b, H - h}, w the ridge regression of V_{h+1}(s') on phi_hat), V is its "
               "maximum, the deployed policy is a distribution on its argmax and the reported values are exact; "
               "LSVI-UCB (oracle features) satisfies Algorithm 1 of Jin et al. the same way. Every recomputed "
               "quantity agrees to 1e-9."),
    provenance=Provenance("reconstructed",
                          "The paper's analysis rests on this planning step (abstract: UCB bonus on the learned "
                          "representation); its executable form, the H - h cap and the least-squares planner are "
                          f"reconstructed ({_LEMMAS})."),
    observe=observe_planning_identity,
    # The model planner with DEFAULT hyper-parameters (beta = H sqrt(d): the bonus is below the cap
    # H at most visited anchors by K = 25, and the cap itself is then exercised); the least-squares
    # planner and LSVI-UCB with bonus_scale 0.1 (the policy claims' setting): LSVI-UCB's default
    # d H sqrt(iota) ~ 17 would sit at the cap H everywhere, so a wrong bonus would hide behind it.
    sweep=Sweep(quick=Grid(algorithm=["contrastive_model_defaults", "contrastive_lsvi", "lsvi_ucb"], instance=[0],
                           H=[3], A=[2], obs=[3], bonus_scale=[_BONUS_SCALE], K=[25]),
                full=Grid(algorithm=["contrastive_model_defaults", "contrastive_lsvi", "lsvi_ucb"], instance=[0, 1, 2],
                          H=[3, 4], A=[2], obs=[3], bonus_scale=[_BONUS_SCALE], K=[100]),
                seeds_quick=2, seeds_full=4),
    rule=BoundHolds("discrepancy"),
    bound=lambda p: _IDENTITY_TOL,
    mutants=[
        Mutant("bonus_doubled", observe_planning_bonus_doubled,
               why="beta off by a factor 2 (a constant-factor bug no rate claim sees): the recomputed bonus "
                   "differs wherever it is below the cap H"),
        Mutant("unnormalised_model", observe_planning_unnormalised_model,
               why="P_hat's rows are the raw ratio estimate (sums ~0.8-1.2): the model planner's backup differs "
                   "from the normalised one"),
        Mutant("misaligned_buffer", observe_planning_misaligned_buffer,
               why="the buffer's next states are shifted by one transition: the least-squares targets "
                   "V(s') no longer match the sampled transitions"),
    ],
    observed="max |recorded - recomputed| over episodes",
)


# ---------------------------------------------------------------------------- optimism (defaults)
def _optimism_run(params, seed) -> dict:
    from mdpkit.algorithms import contrastive_ucb

    mdp = _lock(params)
    # Default hyper-parameters exactly as a user calls it; record=True only adds the trace
    # (tests/test_claims_contrastive_ucb.py checks that every other output is bit-identical).
    res = contrastive_ucb.run(mdp, K=params["K"], seed=seed, record=True)
    Q_star = _optimal_q(np.asarray(mdp.P), np.asarray(mdp.R))
    deficit = np.array([float(np.max(Q_star - tr["Q"])) for tr in res.extras["trace"]])
    return {"optimism_deficit": np.float64(deficit.max()),
            "initial_deficit": np.float64(np.max(res.optimal_value - res.extras["optimistic_value"]))}


def observe_optimism(params, seed):
    """Optimism of Contrastive UCB's upper ``Q`` against the TRUE ``Q*``, default hyper-parameters.

    Returns
    -------
    dict
        ``optimism_deficit`` (scalar): ``max_k max_{h,s,a} (Q*_h(s, a) - Q^k_h(s, a))`` (<= 0 iff every
        episode's ``Q^k`` is optimistic everywhere); ``initial_deficit`` (scalar, diagnostic):
        ``max_k (V* - mu0 . V^k_0)``.
    """
    return _optimism_run(params, seed)


def observe_optimism_bonus_halved(params, seed):
    """Mutant: the bonus halved (``beta`` off by a factor 1/2)."""
    with _wrap_bonus(lambda bonus, explorer, beta, fit: bonus / 2.0):
        return _optimism_run(params, seed)


def observe_optimism_bonus_dropped(params, seed):
    """Mutant: the bonus term dropped from the backup."""
    with _wrap_bonus(lambda bonus, explorer, beta, fit: np.zeros_like(bonus)):
        return _optimism_run(params, seed)


OPTIMISM = Claim(
    id="contrastive_ucb.optimism",
    paper=PAPER,
    statement=("Reconstructed lemma, with DEFAULT hyper-parameters (contrastive_ucb.run(lock, K=400, seed=...)): "
               "Contrastive UCB is optimistic against the true model at every episode, Q^k_h(s, a) >= Q*_h(s, a) "
               "for every stage, state and action."),
    provenance=Provenance("reconstructed",
                          "UCB-style analyses (LSVI-UCB, Rep-UCB) rest on optimism; with a learned model it holds only "
                          "once the bonus dominates the model error |(P_hat - P) V|, which the default beta = H "
                          "sqrt(d) (no log factors, reconstructed) is not guaranteed to do: this is checked, not "
                          f"assumed ({_LEMMAS})."),
    observe=observe_optimism,
    # Quick: the full grid's point where the finding shows most (lock instance 2, H = 4), seeds 0-3;
    # the runs are the full budget's own (same parameters, same seeds), about 1 s each.
    sweep=Sweep(quick=Grid(instance=[2], H=[4], A=[2], obs=[3], K=[400]),
                full=Grid(instance=[0, 1, 2], H=[3, 4], A=[2], obs=[3], K=[400]),
                seeds_quick=4, seeds_full=8),
    rule=BoundHolds("optimism_deficit"),
    bound=lambda p: 0.0,
    mutants=[
        Mutant("bonus_halved", observe_optimism_bonus_halved,
               why="beta / 2: measured on these locks (6 seeds x 3 instances, K = 80) Q^k < Q* somewhere in 12 of "
                   "18 runs (by up to 0.34) while the default bonus never is"),
        Mutant("bonus_dropped", observe_optimism_bonus_dropped,
               why="no bonus: the learned model's greedy Q underestimates Q* from the first episodes (by "
                   "0.6-1.0 on the lock)"),
    ],
    observed="max_k max_{h,s,a} (Q* - Q^k)",
    finding=Finding(
        "Does not hold with the default beta = H sqrt(d) (a property of the reconstruction's default, not "
        "evidence about the paper): at the full budget (3 locks x H in {3, 4} x 8 seeds, K = 400) Q^k < Q* "
        "somewhere in 5 of 48 runs, by 0.272 and 0.142 (instance 2, H = 4, seeds 3 and 2), 0.123 (instance 2, "
        "H = 3, seed 7), 0.048 (instance 0, H = 3, seed 7) and 0.022 (instance 1, H = 4, seed 2), while the "
        "value at the start state stays optimistic by 0.66-1.18 in those runs. The bonus "
        "beta ||phi_hat||_{Lambda^-1} shrinks with the counts on the shared features, and at rarely visited "
        "anchors the learned model's error |(P_hat - P) V| outgrows it: beta carries no log factor. Not caused "
        "by the issue-12 learner fixes: the learner before them gives 1 of 16 runs on instance 2 (deficit "
        "0.012). Half the bonus breaks optimism in 31 of 48 runs (by up to 0.42), no bonus in 48 of 48. The "
        "quick budget runs the point where it shows most (instance 2, H = 4, seeds 0-3): 2 of 4 runs, "
        "deficits 0.142 and 0.272.",
        statistic="claim.violations", expect="FAIL",
        # Pin.binomial's bands, written out so that loading the claims does not import scipy;
        # tests/test_claims_contrastive_ucb.py recomputes them.
        quick=Pin(2.0, (0.0, 4.0), "runs with Q^k < Q* somewhere, 2 of 4; at n = 4 even a 95% band is [0, 4], "
                                   "so the quick pin only asserts that the failure exists (the FAIL kind); the "
                                   "full pin bounds its frequency (binomial 95.0% range at rate 2/4)"),
        full=Pin(5.0, (0.0, 13.0), "runs with Q^k < Q* somewhere, 5 of 48 over 6 points (half the bonus: 31) "
                                   "(binomial 99.9% range at rate 5/48)")),
)


# ---------------------------------------------------------------------------- data distribution (Monte Carlo)
def _state_occupancy(P, mu0, policy) -> np.ndarray:
    """``d_h(s)`` (H, S) of ``policy`` (H, S, A) from ``mu0`` on the true kernel (plain numpy)."""
    H, S = P.shape[0], P.shape[1]
    occ = np.empty((H, S))
    occ[0] = mu0
    for h in range(H - 1):
        occ[h + 1] = np.einsum("s,sa,sat->t", occ[h], policy[h], P[h])
    return occ


def _expected_transitions(P, mu0, policy, mode: str) -> np.ndarray:
    """Probability (H, S, A, S) of the transition ``(s, a, s')`` recorded at stage ``h`` in one episode
    rolled in with ``policy`` (H, S, A): ``per_stage`` = ``d_h(s) / A * P_h(s'|s, a)``; ``trajectory`` =
    the average over the uniform exploration stage ``u`` of the same with ``policy`` made uniform at ``u``."""
    H, S, A = policy.shape
    uniform = np.full((S, A), 1.0 / A)
    if mode == "per_stage":
        occ = _state_occupancy(P, mu0, policy)
        return np.einsum("hs,hsat->hsat", occ / A, P)
    total = np.zeros((H, S, A, S))
    for u in range(H):
        explored = policy.copy()
        explored[u] = uniform
        occ = _state_occupancy(P, mu0, explored)
        total += np.einsum("hs,hsa,hsat->hsat", occ, explored, P) / H
    return total


def _pearson_p_value(observed: np.ndarray, expected: np.ndarray, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of counts against expectations, cells with expectation below
    ``min_expected`` pooled into one (the usual validity condition); 0 if an impossible cell is hit."""
    from scipy.stats import chi2

    observed, expected = observed.ravel(), expected.ravel()
    big = expected >= min_expected
    O = np.append(observed[big], observed[~big].sum())
    E = np.append(expected[big], expected[~big].sum())
    if O[-1] > 0 and E[-1] <= 1e-12:
        return 0.0
    keep = E > 1e-12
    O, E = O[keep], E[keep]
    if O.size < 2:
        return 1.0
    return float(chi2.sf(np.sum((O - E) ** 2 / E), df=O.size - 1))


def _data_run(params, seed) -> dict:
    from mdpkit.algorithms import contrastive_ucb
    from mdpkit.envs.lowrank import random_lowrank_mdp

    mdp = random_lowrank_mdp(params["S"], params["A"], params["H"], params["d"], seed=params["instance"])
    H, S, A = mdp.H, mdp.S, mdp.A
    P, mu0 = np.asarray(mdp.P), np.asarray(mdp.mu0)
    res = contrastive_ucb.run(mdp, K=params["K"], seed=seed, bonus_scale=params["bonus_scale"],
                              data=params["data"], record=True)
    observed, expected = np.zeros((H, S, A, S)), np.zeros((H, S, A, S))
    policy = np.full((H, S, A), 1.0 / A)   # pi^0, as documented
    for tr in res.extras["trace"]:
        expected += _expected_transitions(P, mu0, policy, params["data"])
        h, x, s_next = tr["transitions"].T
        np.add.at(observed, (h, x // A, x % A, s_next), 1.0)
        policy = tr["policy"]
    # three tests per stage: the anchors (s, a), the next states s', and the triples (s, a, s')
    p_values = np.array([[_pearson_p_value(observed[h].sum(axis=2), expected[h].sum(axis=2)),
                          _pearson_p_value(observed[h].sum(axis=(0, 1)), expected[h].sum(axis=(0, 1))),
                          _pearson_p_value(observed[h], expected[h])] for h in range(H)])
    return {"surprise": np.float64(-np.log10(max(min(1.0, p_values.size * p_values.min()), 1e-300))),
            "p_values": p_values}


def observe_data_distribution(params, seed):
    """Monte Carlo audit of the data collection against the exact occupancy of the deployed policies.

    Returns
    -------
    dict
        ``surprise`` (scalar): ``-log10`` of the smallest Bonferroni-corrected (over ``3 H`` tests)
        Pearson chi-square p-value of the counts of the recorded anchors ``(s_h, a_h)``, next states
        ``s_{h+1}`` and triples ``(s_h, a_h, s_{h+1})`` of each stage against their exact expectation
        ``sum_k Pr_k`` (``Pr_k`` from the roll-in policy ``pi^{k-1}`` recorded by the run, by plain-numpy
        forward recursion on the true kernel); ``p_values`` (H, 3).
    """
    return _data_run(params, seed)


def _buggy_collect(bug: str):
    """``_Explorer.collect`` with one bug (the correct method is read in mdpkit.algorithms.contrastive_ucb)."""
    from mdpkit.algorithms.contrastive_ucb import _sample

    def collect(self, joint_policy, mode):
        self.new_anchors, self.sampled = [], []
        uniform = np.full(self.n_joint, 1.0 / self.n_joint)
        if mode == "per_stage":
            for h in range(self.H):
                s = _sample(self.rng, self.mu0)
                for t in range(h - 1 if bug == "rollin_one_short" else h):
                    j = _sample(self.rng, joint_policy[t, s])
                    s = _sample(self.rng, self.P[t, s * self.n_joint + j])
                j = _sample(self.rng, joint_policy[h, s] if bug == "explore_on_policy" else uniform)
                x = s * self.n_joint + j
                s_next = _sample(self.rng, self.P[h, x])
                self.sampled.append((h, x, s_next))
                self._record(h, x, s_next)
        else:
            explore_stage = int(self.rng.integers(self.H))
            s = _sample(self.rng, self.mu0)
            for h in range(self.H):
                explore = h == explore_stage and bug != "explore_on_policy"
                j = _sample(self.rng, uniform if explore else joint_policy[h, s])
                x = s * self.n_joint + j
                s_next = _sample(self.rng, self.P[h, x])
                self.sampled.append((h, x, s_next))
                self._record(h, x, s_next)
                s = s_next

    return collect


def _with_collect(bug: str, params, seed):
    from mdpkit.algorithms import contrastive_ucb

    with mock.patch.object(contrastive_ucb._Explorer, "collect", _buggy_collect(bug)):
        return _data_run(params, seed)


def observe_data_rollin_one_short(params, seed):
    """Mutant: the per-stage roll-in stops one step early (the stage-h anchor has stage h-1's state law)."""
    return _with_collect("rollin_one_short", params, seed)


def observe_data_explore_on_policy(params, seed):
    """Mutant: the exploration action is drawn from the policy instead of uniformly."""
    return _with_collect("explore_on_policy", params, seed)


#: Surprise threshold: reject at a Bonferroni-corrected p-value below 1e-3 per run.
_SURPRISE = 3.0

DATA_DISTRIBUTION = Claim(
    id="contrastive_ucb.data_distribution",
    paper=PAPER,
    statement=("Reconstructed lemma (Monte Carlo against exact occupancies): the transitions Contrastive UCB "
               "collects are distributed as its data-collection step says -- per stage, s_h from the roll-in of "
               "pi^{k-1}, a_h uniform, s_{h+1} ~ P_h (one random exploration stage per trajectory in the "
               "trajectory mode): Pearson chi-squares of the anchor, next-state and triple counts of every stage "
               f"against sum_k Pr_k, Bonferroni over the 3 H tests, have p >= 10^-{_SURPRISE:g} in every run."),
    provenance=Provenance("reconstructed",
                          "The concentration arguments assume exactly this sampling law (docs/papers/"
                          "contrastive_ucb.md#contrastive-ucb-online-algorithm); the test and its threshold are ours "
                          f"({_LEMMAS})."),
    observe=observe_data_distribution,
    sweep=Sweep(quick=Grid(data=["per_stage", "trajectory"], instance=[0], S=[6], A=[2], H=[3], d=[2],
                           bonus_scale=[_BONUS_SCALE], K=[60]),
                full=Grid(data=["per_stage", "trajectory"], instance=[0, 1, 2], S=[6], A=[2], H=[3], d=[2],
                          bonus_scale=[_BONUS_SCALE], K=[400]),
                # one seed per mode at the quick budget: the mutants' surprise is 12-14 (threshold 3)
                seeds_quick=1, seeds_full=5),
    rule=BoundHolds("surprise"),
    bound=lambda p: _SURPRISE,
    mutants=[
        Mutant("rollin_one_short", observe_data_rollin_one_short,
               why="the stage-h anchor is drawn from stage h-1's state distribution (from mu0 = state 0 at h = 1): "
                   "the stage-1 state counts are far from their expectation"),
        Mutant("explore_on_policy", observe_data_explore_on_policy,
               why="no uniform action: once pi^k is greedy the recorded actions are its argmax, half the "
                   "expected (s, a) mass never appears"),
    ],
    observed="-log10(Bonferroni p-value)",
)


# ---------------------------------------------------------------------------- information flow
def _forged(model, **slots):
    """A copy of a low-rank model with some private fields replaced, bypassing validation: how a
    model whose hidden factors are poisoned while its kernel (what is sampled) is unchanged is built."""
    forged = object.__new__(type(model))
    for name in type(model).__slots__:
        object.__setattr__(forged, name, slots.get(name, getattr(model, name)))
    for cache in ("_tabular", "_game"):
        if cache in type(model).__slots__:
            object.__setattr__(forged, cache, None)
    return forged


def _hidden_variants(model):
    """``(transformed, poisoned)`` models with ``model``'s kernel, rewards and start, different factors.

    ``transformed``: ``phi' = 2 phi Pi``, ``psi' = Pi^T psi / 2`` (``Pi`` reverses the features) --
    a valid model built by the public constructor, whose kernel is the same BIT FOR BIT (power-of-two
    scaling is exact, and the d = 2 sum is commutative); ``poisoned``: random factors (whose product is
    not even the kernel) over the true kernel.
    """
    phi, psi = np.asarray(model.phi), np.asarray(model.psi)
    transformed = type(model)(2.0 * phi[..., ::-1], psi[:, ::-1, :] / 2.0, model.R, model.mu0, name=model.name)
    if not np.array_equal(transformed.P, model.P):
        raise RuntimeError("the transformed factors do not give the same kernel bit for bit: the premise of "
                           "the information-flow check is broken")
    rng = np.random.default_rng(12345)
    poisoned = _forged(model, _phi=rng.dirichlet(np.ones(phi.shape[-1]), size=phi.shape[:-1]),
                       _psi=rng.dirichlet(np.ones(psi.shape[-1]), size=psi.shape[:-1]))
    return transformed, poisoned


def _outputs(res) -> dict:
    """Everything a run returns except ``feature_angle``, the evaluation diagnostic that reads the true
    factors by design (like the exact values read the true kernel)."""
    out = {"values": res.values, "optimal_value": np.float64(res.optimal_value)}
    out.update({k: np.asarray(v, dtype=np.float64) for k, v in res.extras.items() if k != "feature_angle"})
    return out


def _max_difference(a: dict, b: dict) -> float:
    if a.keys() != b.keys():
        return np.inf
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def _peeking_bonus(model):
    """The peeking bug: the bonus computed with the TRUE features of ``model`` (an oracle LSVI-UCB bonus)."""
    H, d = model.H, model.d
    phi_true = np.asarray(model.phi).reshape(H, -1, d)

    def transform(bonus, explorer, beta, fit):
        gram = np.einsum("hxi,hx,hxj->hij", phi_true, explorer.anchor_counts, phi_true) + explorer.ridge * np.eye(d)
        norms = np.sqrt(np.einsum("hxi,hij,hxj->hx", phi_true, np.linalg.inv(gram), phi_true))
        return np.minimum(beta * norms, explorer.H)
    return transform


def _flow_run(params, seed, *, peek: bool = False) -> dict:
    from mdpkit.algorithms import contrastive_ucb
    from mdpkit.envs.lowrank import random_lowrank_game

    if params["setting"] == "mdp":
        model = _lock(params)
        run, K = contrastive_ucb.run, params["K"]
    else:
        model = random_lowrank_game(params["S"], params["A"], params["A"], params["H"], 2, seed=params["instance"])
        run = contrastive_ucb.run_game
        K = params["K_game"]
    outputs = []
    for m in (model, *_hidden_variants(model)):
        # default hyper-parameters; the same seed for the three models (a copy: spawning children
        # from a SeedSequence changes it)
        with (_wrap_bonus(_peeking_bonus(m)) if peek else contextlib.nullcontext()):
            outputs.append(_outputs(run(m, K=K, seed=copy.deepcopy(seed))))
    return {"difference": np.array([_max_difference(outputs[0], o) for o in outputs[1:]])}


def observe_information_flow(params, seed):
    """Runs on three models with the same kernel and different hidden factors, default hyper-parameters.

    Returns
    -------
    dict
        ``difference`` (2,): the largest absolute difference of any output (values, optimal value and
        every extra but ``feature_angle``) between the run on the model and the runs on its
        ``transformed`` and ``poisoned`` variants (:func:`_hidden_variants`), same seed.
    """
    return _flow_run(params, seed)


def observe_information_flow_peeking(params, seed):
    """Mutant: the bonus uses the true features of the model it is given."""
    return _flow_run(params, seed, peek=True)


INFORMATION_FLOW = Claim(
    id="contrastive_ucb.information_flow",
    paper=PAPER,
    statement=("Setting (information flow): Contrastive UCB learns from sampled transitions only -- it never reads "
               "the true factors (phi*, psi*). Runs with default hyper-parameters on a model, on the same model "
               "with invertibly transformed factors (same kernel bit for bit) and on a model whose factors are "
               "random noise over the same kernel are bit-identical in every output but the feature-angle "
               "diagnostic (MDP and Markov-game variants)."),
    provenance=Provenance("reconstructed",
                          "The paper's setting (the representation is unknown and learned from data) is the "
                          f"abstract's; this executable check is ours ({_LEMMAS})."),
    observe=observe_information_flow,
    # K_game: the game's per-state CCE LPs cost ~4 ms each (three runs per observation)
    sweep=Sweep(quick=Grid(setting=["mdp", "game"], instance=[0], H=[2], A=[2], obs=[3], S=[4], K=[12], K_game=[5]),
                full=Grid(setting=["mdp", "game"], instance=[0, 1, 2], H=[3], A=[2], obs=[3], S=[5], K=[60],
                          K_game=[30]),
                seeds_quick=1, seeds_full=4),
    rule=BoundHolds("difference"),
    bound=lambda p: 0.0,
    mutants=[
        Mutant("peeking_bonus", observe_information_flow_peeking,
               why="the bonus reads the model's true features (an oracle bonus): the poisoned model's noise "
                   "factors change the bonus, hence Q, the policy and the data"),
    ],
    observed="max |output(model) - output(hidden-factor variant)|",
)


# ---------------------------------------------------------------------------- Markov game: per-stage CCE
#: Components of the game audit (observed ``discrepancy``).
GAME_CHECKS = ("data", "bonus", "backup", "sigma_distribution", "cce", "value_identity", "exact_value",
               "nash_gap", "feature_angle")


def _game_evaluation(P, R, mu0, mu, nu) -> tuple[float, float]:
    """``V^{mu, nu}`` and the Nash gap ``V^{dagger, nu} - V^{mu, dagger}`` at ``mu0`` (plain numpy).

    ``P`` (H, S, A, B, S), ``R`` (H, S, A, B), ``mu`` (H, S, A), ``nu`` (H, S, B).
    """
    S = P.shape[1]
    V, V_best, V_worst = np.zeros(S), np.zeros(S), np.zeros(S)
    for h in range(P.shape[0] - 1, -1, -1):
        V = np.einsum("sa,sab,sb->s", mu[h], R[h] + P[h] @ V, nu[h])
        V_best = np.einsum("sab,sb->sa", R[h] + P[h] @ V_best, nu[h]).max(axis=1)     # max player's best response
        V_worst = np.einsum("sa,sab->sb", mu[h], R[h] + P[h] @ V_worst).min(axis=1)   # min player's best response
    return float(mu0 @ V), float(mu0 @ V_best - mu0 @ V_worst)


def _audit_game(game, res, beta: float) -> np.ndarray:
    """Per-episode audit of :func:`contrastive_ucb.run_game` (``record=True``), see :data:`GAME_CHECKS`."""
    H, S, A, B = game.H, game.S, game.A, game.B
    P, R, mu0 = np.asarray(game.P), np.asarray(game.R), np.asarray(game.mu0)
    err = np.zeros(len(GAME_CHECKS))
    log = np.empty((0, 3), dtype=np.int64)
    for k, tr in enumerate(res.extras["trace"]):
        t = tr["transitions"]
        ok = sorted(t[:, 0].tolist()) == list(range(H)) and np.all((t[:, 1] >= 0) & (t[:, 1] < S * A * B))
        err[0] = max(err[0], 0.0 if ok else 1.0, float(np.max(np.abs(tr["negative_dist"] - 1.0 / S))))
        log = np.vstack([log, t])
        P_hat = _model_estimate(tr["phi"], tr["psi"], tr["negative_dist"]).reshape(H, S, A, B, S)
        sigma, Q_up, Q_low, V_up, V_low = tr["sigma"], tr["Q_up"], tr["Q_low"], tr["V_up"], tr["V_low"]
        for h in range(H):
            bonus, _ = _bonus_reference(tr["phi"][h], log[log[:, 0] == h, 1], beta, float(H))
            err[1] = max(err[1], float(np.max(np.abs(bonus - tr["bonus"][h].ravel()))))
            bonus = bonus.reshape(S, A, B)
            up = np.minimum(R[h] + P_hat[h] @ V_up[h + 1] + bonus, H - h)
            low = np.maximum(R[h] + P_hat[h] @ V_low[h + 1] - bonus, 0.0)
            err[2] = max(err[2], float(np.max(np.abs(up - Q_up[h]))), float(np.max(np.abs(low - Q_low[h]))))
        err[3] = max(err[3], float(np.max(np.abs(sigma.sum(axis=(2, 3)) - 1.0))), float(-sigma.min()))
        # CCE: no player gains by committing to a fixed action before the draw
        value_up = np.sum(sigma * Q_up, axis=(2, 3))                                   # (H, S)
        value_low = np.sum(sigma * Q_low, axis=(2, 3))
        deviate_max = np.einsum("hsb,hsab->hsa", sigma.sum(axis=2), Q_up).max(axis=2)
        deviate_min = np.einsum("hsa,hsab->hsb", sigma.sum(axis=3), Q_low).min(axis=2)
        err[4] = max(err[4], float(np.max(deviate_max - value_up)), float(np.max(value_low - deviate_min)))
        err[5] = max(err[5], float(np.max(np.abs(value_up - V_up[:H]))), float(np.max(np.abs(value_low - V_low[:H]))),
                     float(np.max(np.abs(V_up[H]))) + float(np.max(np.abs(V_low[H]))),
                     abs(float(mu0 @ V_up[0]) - res.extras["upper_value"][k]),
                     abs(float(mu0 @ V_low[0]) - res.extras["lower_value"][k]))
        value, gap = _game_evaluation(P, R, mu0, sigma.sum(axis=3), sigma.sum(axis=2))
        err[6] = max(err[6], abs(value - res.values[k]))
        err[7] = max(err[7], abs(gap - res.extras["nash_gap"][k]))
        angle = _feature_angle_reference(tr["phi"], np.asarray(game.phi).reshape(H, S * A * B, -1), log, S * A * B)
        err[8] = max(err[8], abs(angle - res.extras["feature_angle"][k]))
    return err


def _game_stage_run(params, seed) -> dict:
    from mdpkit.algorithms import contrastive_ucb
    from mdpkit.envs.lowrank import random_lowrank_game

    game = random_lowrank_game(params["S"], params["A"], params["B"], params["H"], params["d"], seed=params["instance"])
    res = contrastive_ucb.run_game(game, K=params["K"], seed=seed, bonus_scale=params["bonus_scale"], record=True)
    return {"discrepancy": _audit_game(game, res, game.H * np.sqrt(game.d) * params["bonus_scale"])}


def observe_game_stage_equilibrium(params, seed):
    """Largest discrepancy, over the episodes of one game run, between the recorded ULCB planning and an
    independent plain-numpy recomputation.

    Returns
    -------
    dict
        ``discrepancy`` (9,), in the order of :data:`GAME_CHECKS`: ``data``, ``bonus`` (as in
        :func:`observe_planning_identity`, anchors ``(s, a, b)``); ``backup`` (``Q_up = min{r + P_hat V_up
        + b, H - h}``, ``Q_low = max{r + P_hat V_low - b, 0}``); ``sigma_distribution``; ``cce`` (the
        largest gain of a player committing to a fixed action: max player on ``Q_up``, min player on
        ``Q_low``); ``value_identity`` (``V_up = sum sigma Q_up``, ``V_low`` likewise, the reported upper
        and lower values); ``exact_value``, ``nash_gap`` (the reported ``V^{mu, nu}`` and Nash gap of the
        marginals against plain-numpy dynamic programming with best responses); ``feature_angle`` (as
        in :func:`observe_planning_identity`).
    """
    return _game_stage_run(params, seed)


def observe_game_cooperative(params, seed):
    """Mutant: the per-state CCE replaced by the joint argmax of ``Q_up`` (the min player maximises)."""
    from mdpkit.algorithms import contrastive_ucb

    with mock.patch.object(contrastive_ucb, "coarse_correlated_equilibrium", _cooperative_joint):
        return _game_stage_run(params, seed)


def observe_game_bonus_doubled(params, seed):
    """Mutant: the bonus coefficient doubled."""
    with _wrap_bonus(_doubled_bonus):
        return _game_stage_run(params, seed)


GAME_STAGE_EQUILIBRIUM = Claim(
    id="contrastive_ucb.game_stage_equilibrium",
    paper=PAPER,
    statement=("Reconstructed lemma (per-episode, exact): in the Markov-game variant, at every episode, stage and "
               "state, sigma is a distribution and a coarse correlated equilibrium of (Q_up, Q_low) (no player "
               "gains more than 1e-6, the LP's tolerance, by committing to a fixed action), Q_up and Q_low are the "
               "optimistic and pessimistic one-step backups of the learned model with the bonus "
               "min(beta ||phi_hat||_{Lambda^-1}, H), V_up / V_low are their sigma-expectations, and the reported "
               "value and Nash gap of the marginals are exact (all to 1e-9)."),
    provenance=Provenance("reconstructed",
                          "ULCB + per-state CCE (Xie, Chen, Wang, Yang 2020) with the learned model is reconstructed "
                          f"(docs/papers/contrastive_ucb.md#contrastive-ucb-markov-game-variant, {_LEMMAS})."),
    observe=observe_game_stage_equilibrium,
    sweep=Sweep(quick=Grid(instance=[0], S=[4], A=[2], B=[2], H=[2], d=[2], bonus_scale=[_BONUS_SCALE], K=[6]),
                full=Grid(instance=[0, 1, 2], S=[5], A=[2], B=[2], H=[2], d=[2], bonus_scale=[_BONUS_SCALE],
                          K=[60]),
                seeds_quick=2, seeds_full=4),
    rule=BoundHolds("discrepancy"),
    bound=lambda p: np.array([_CCE_TOL if name == "cce" else _IDENTITY_TOL for name in GAME_CHECKS]),
    mutants=[
        Mutant("cooperative_min_player", observe_game_cooperative,
               why="the min player's sign lost: the joint argmax of Q_up is not a CCE wherever the min player "
                   "would rather deviate on Q_low"),
        Mutant("bonus_doubled", observe_game_bonus_doubled,
               why="beta off by a factor 2: the recomputed bonus (and both backups) differ below the cap"),
    ],
    observed="max |recorded - recomputed| over episodes (CCE: largest deviation gain)",
)


#: The cheap per-episode checks first: `proofs-check mutate` stops at the first failing claim.
#: The generic-instance recovery claims (issue 12 item 9) live in their own module, by their own
#: study; they belong to this family.
CLAIMS = [
    PLANNING_IDENTITY, *_contrastive_certificate.CLAIMS, INFORMATION_FLOW, GAME_STAGE_EQUILIBRIUM, OPTIMISM,
    DATA_DISTRIBUTION, KERNEL_RECOVERY, SPAN_RECOVERY, *_contrastive_generic.GENERIC_CLAIMS, SUBOPTIMALITY_RATE,
    NASH_GAP_RATE, EPISODES_VS_BASELINES,
]
