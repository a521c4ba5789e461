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
"""

from __future__ import annotations

from unittest import mock

import numpy as np

from mdpkit.algorithms import contrastive_ucb, lsvi_ucb, ucbvi
from mdpkit.algorithms.contrastive import ContrastiveLearner, feature_angle
from mdpkit.envs.lowrank import block_mdp, combination_lock, random_lowrank_game, random_lowrank_mdp
from mdpkit.lowrank import LowRankMDP

from ..claim import Claim, Finding, Grid, Mutant, Paper, Provenance, Sweep
from ..claim import Pin
from ..rules import HighProbability, Rate, log_factor_chord

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
    return combination_lock(params["H"], params["A"], params["obs"], seed=params["instance"])




def _suboptimality_run(params, seed, *, features: str = "learned") -> dict:
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


_ORIGINAL_RECORD = contrastive_ucb._Explorer._record


def _record_previous_next_state(self, h, x, s_next):
    """The bug: the buffer stores each anchor with the PREVIOUS transition's next state."""
    previous = getattr(self, "_previous_next_state", s_next)
    self._previous_next_state = s_next
    _ORIGINAL_RECORD(self, h, x, previous)


def observe_suboptimality_misaligned(params, seed):
    """Mutant: the replay buffer is off by one (each anchor labelled with the previous ``s'``).

    Injected by patching ``_Explorer._record`` for the duration of the run, restored on exit.
    """
    with mock.patch.object(contrastive_ucb._Explorer, "_record", _record_previous_next_state):
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


def delayed_reward_block_mdp(n_latent: int, obs_per_latent: int, A: int, H: int, *, seed) -> LowRankMDP:
    """:func:`mdpkit.envs.lowrank.block_mdp` with its reward moved to the last stage.

    ``R_h = 0`` for ``h < H - 1`` and ``R_{H-1}(x, a) = T_{H-1}(z' = 0 | z(x), a)``: reward for
    reaching latent state 0 at the end. Still linear in the true features (``theta_{H-1} = e_0``),
    so LSVI-UCB with oracle features is well specified; ``S = n_latent * obs_per_latent >> d``.

    Reconstructed: with block_mdp's per-stage rewards the known-reward greedy policy is already
    near-optimal (measured: Contrastive UCB's first episodes have gap ~0.01 on block_mdp(3, 20, 2,
    3)), so "episodes to eps" would not involve learning the transitions at all. Moving the reward
    to the end makes the first H - 1 choices matter only through the transitions.
    """
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
             "block MDPs only; full budget (paper_figs/contrastive_ucb: 12 points = 3 instances x S in {20, 30, 60, 90}, K = 1000, 10 seeds, 120 runs): Contrastive UCB reaches eps in 68/120 runs, UCBVI in 10/120 (all on instance 1, S = 60, where Contrastive UCB reaches it in 0/10), LSVI-UCB in 120/120; 'fewer than UCBVI' holds in 68/120, 'within |A| of LSVI-UCB' in 28/120 (per point 0-7 of 10; median N_c / N_lsvi 0.2-11 by point), so the majority reading fails at every point but instances 1 and 2 at S = 30 (7/10 each, still not significant at 10 seeds).",
        statistic="claim.failures", expect="FAIL",
        quick=Pin.binomial(3, 6, "runs breaking N_c < N_ucbvi or N_c <= |A| N_lsvi, 3 of 6; at n = 6 a 99.9% "
                                 "band is [0, 6] and would pin nothing, so 95% (a 1-in-32 false alarm)",
                           confidence=0.95),
        full=Pin.binomial(92, 120, "runs breaking either part, 92 of 120 over 12 points (paper_figs/"
                                   "contrastive_ucb; per-point rates differ, which only narrows the spread)")),
)

CLAIMS = [KERNEL_RECOVERY, SPAN_RECOVERY, SUBOPTIMALITY_RATE, NASH_GAP_RATE, EPISODES_VS_BASELINES]
