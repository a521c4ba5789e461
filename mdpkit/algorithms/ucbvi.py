"""UCBVI: optimistic value iteration with Hoeffding or Bernstein-Freedman bonuses.

Azar, Osband & Munos (2017), "Minimax Regret Bounds for Reinforcement Learning", ICML,
arXiv:1703.05449 (UCBVI-CH and UCBVI-BF).

Provenance: the pseudocode below, its bonus constants (``7 H L``, ``8 L Var``, ``14 H L / 3 N``,
``1e4 H^3 S^2 A L^2``) and ``L = ln(5 S A T / delta)`` are recalled from the UCBVI paper and were
not verified against its text here; the secondary source we have (``docs/papers/textbook.md#textbook-ucbvi-as-recalled``) gives only the regret form
``O~(sqrt(H S A T) + H^2 S^2 A + H sqrt(T))`` [SECONDARY].

Pseudocode (rewards known, transitions learned; ``L = ln(5 S A T / delta)``, ``T = K H``)::

    Q_0 = H everywhere
    for k = 1 .. K:
        for h = H-1 .. 0:                                      # optimistic planning
            Q_k[h, s, a] = min(Q_{k-1}[h, s, a], H - h, R[h, s, a] + P_hat[h, s, a] . V_k[h+1] + b_k[h, s, a])
            V_k[h, s] = max_a Q_k[h, s, a]                      # (unvisited (s, a): Q = H - h)
        pi_k = greedy(Q_k)
        play pi_k for one episode; add its H transitions to the counts
    UCBVI-CH:  b = 7 H L / sqrt(N(s, a))
    UCBVI-BF:  b = sqrt(8 L Var_{P_hat}(V_k[h+1]) / N) + 14 H L / (3 N)
                   + sqrt(8 sum_y P_hat(y) min(1e4 H^3 S^2 A L^2 / N'_{h+1}(y), H^2) / N)

``N'_{h+1}(y)`` counts the visits of state ``y`` at step ``h + 1``. The whole loop (plan, exact
audit, roll-out, counting) runs in numba (:mod:`._ucbvi_kernels`); Python only draws the uniforms,
one chunk of episodes at a time, so a seed gives bit-identical results whatever the chunk size.

Counts: for a **stationary** model (``mdp.is_stationary``) transitions are pooled over the stages,
exactly Azar et al.'s setting. For a **stage-dependent** model each stage keeps its own counts.

Cost per episode (:func:`._ucbvi_kernels.optimistic_plan`): ``O(H S A)`` plus one length-``S`` row
sum per visited pair and stage that is not *saturated*. With the theoretical constants the bonus
alone lifts most backups above the clip ``min(H - h, Q_{k-1})`` for a long time; a lower bound that
needs no row sum (``P_hat V >= min V``, ``Var >= 0``) detects this and the pair's Q is the clip,
the same float the full backup returns. ``1 / N`` and ``1 / sqrt(N)`` are cached per pair and
updated with each transition, so the sweep does no square root or division for them. Then the
exact audit (``H S^2``) and the roll-out. The work therefore grows with ``K`` as pairs get visited
and leave saturation, not with per-episode bookkeeping: on a random ``S = 20, A = 4, H = 20`` MDP
every visited pair is saturated for the first ~3e4 episodes, while after 1e5 episodes 65% of the
pairs are visited and 93% of their backups are computed in full; a 1e5-episode run costs about
2x more per episode than a 1e3-episode run (``benchmarks/bench_ucbvi.py``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from .._validation import ArgumentTypeError, check_episodes, check_real, check_seed, show
from ..mdp import TabularMDP, check_unit_reward_range
from ..solvers import solve
from ..solvers.exact import check_mdp
from . import _ucbvi_kernels as kern
from .results import RunResult

__all__ = ["BONUSES", "RECORDED", "run", "log_term", "LearnerState", "EpisodeRecord"]

BONUSES = ("hoeffding", "bernstein")

#: Uniforms per chunk of pre-drawn episodes: bounds memory whatever K is.
_UNIFORMS_PER_CHUNK = 1 << 20


# ============================================================================ validation helpers
#: Bytes of per-episode output (values, regret and the extras) an episode count is checked against.
EPISODE_BYTES = 128


def check_open_unit(name: str, value) -> float:
    return check_real(name, value, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def check_nonnegative(name: str, value) -> float:
    return check_real(name, value, lo=0.0)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def check_bonus(bonus) -> str:
    if not isinstance(bonus, str) or bonus not in BONUSES:
        raise ValueError(f"bonus must be one of {BONUSES}, got {show(bonus)}")
    return bonus


# ============================================================================ constants
def log_term(mdp: TabularMDP, K: int, delta: float) -> float:
    """Azar et al.'s ``L = ln(5 S A T / delta)`` (as recalled, see the module docstring) with ``T = K H``
    (stationary, pooled counts).

    Reconstructed: for stage-dependent models (per-stage counts) the union bound runs over ``H``
    times more ``(h, s, a)`` triples, so ``L = ln(5 S A H T / delta)``.
    """
    T = K * mdp.H
    n_triples = mdp.S * mdp.A * (1 if mdp.is_stationary else mdp.H)
    return math.log(5.0 * n_triples * T / delta)


class LearnerState:
    """Counts, optimistic Q and scratch arrays of a UCBVI-type learner (all caller-owned, float64).

    Attributes
    ----------
    counts_sas : ndarray, shape (G, S, A, S)
        ``G = 1`` (stationary model: pooled over stages) or ``H``.
    counts_sa : ndarray, shape (G, S, A)
    inv_n, inv_sqrt_n : ndarray, shape (G, S, A)
        ``1 / n`` and ``1 / sqrt(n)`` of ``counts_sa`` (0 where unvisited): derived data, recomputed
        by the chunk kernels on entry and kept current by every recorded transition.
    visits : ndarray, shape (H + 1, S)
        Visits of each state at each step.
    Q : ndarray, shape (H, S, A)
        Optimistic Q of the last planned episode (``H - h`` before any data).
    V : ndarray, shape (H + 1, S)
    policy : ndarray, shape (H, S), int64
    """

    def __init__(self, mdp: TabularMDP):
        H, S, A = mdp.H, mdp.S, mdp.A
        G = mdp.P_stages.shape[0]
        self.counts_sas = np.zeros((G, S, A, S))
        self.counts_sa = np.zeros((G, S, A))
        self.inv_n = np.zeros((G, S, A))
        self.inv_sqrt_n = np.zeros((G, S, A))
        self.visits = np.zeros((H + 1, S))
        self.Q = np.empty((H, S, A))
        self.Q[:] = (H - np.arange(H, dtype=np.float64))[:, None, None]
        self.V = np.zeros((H + 1, S))
        self.policy = np.zeros((H, S), dtype=np.int64)
        self.w_next = np.zeros((H + 1, S))
        self.V_audit = np.zeros((H + 1, S))


class EpisodeRecord:
    """Per-episode snapshots of a learner's state, for ``run(..., record=True)``.

    Recording drives the chunk kernel one episode at a time and copies the state between calls;
    the kernels keep no state of their own across calls except an order-of-work hint, so the run's
    outputs are bit-identical to an unrecorded run (tested). All attributes are filled by
    :meth:`before` / :meth:`after`, episode ``k`` in ``0..K-1``.

    Attributes
    ----------
    counts_sas : ndarray, shape (K, G, S, A, S)
        Transition counts the plan of episode ``k`` used (before its roll-out).
    counts_sa : ndarray, shape (K, G, S, A)
    visits : ndarray, shape (K, H + 1, S)
    upper_Q : ndarray, shape (K, H, S, A)
        Episode ``k``'s optimistic ``Q_k``.
    upper_V : ndarray, shape (K, H + 1, S)
    policy : ndarray, shape (K, H, S), int64
        The optimistic (greedy) policy ``pi^k``.
    """

    def __init__(self, K: int, state: "LearnerState"):
        G, S, A, _ = state.counts_sas.shape
        H = state.Q.shape[0]
        check_episodes(K, 8.0 * (G * S * A * (S + 1) + 2 * (H + 1) * S + 2 * H * S * A + H * S),
                       "the recorded diagnostics")
        self.counts_sas = np.empty((K, G, S, A, S))
        self.counts_sa = np.empty((K, G, S, A))
        self.visits = np.empty((K, H + 1, S))
        self.upper_Q = np.empty((K, H, S, A))
        self.upper_V = np.empty((K, H + 1, S))
        self.policy = np.empty((K, H, S), dtype=np.int64)

    def before(self, k: int, state: "LearnerState") -> None:
        self.counts_sas[k] = state.counts_sas
        self.counts_sa[k] = state.counts_sa
        self.visits[k] = state.visits

    def after(self, k: int, state: "LearnerState") -> None:
        self.upper_Q[k] = state.Q
        self.upper_V[k] = state.V
        self.policy[k] = state.policy

    def extras(self) -> dict:
        return {name: getattr(self, name) for name in RECORDED}


#: The ``extras`` keys ``run(..., record=True)`` adds (see :class:`EpisodeRecord`).
RECORDED = ("counts_sas", "counts_sa", "visits", "upper_Q", "upper_V", "policy")


def one_episode_chunks(chunks):
    """Split ``(start, uniforms)`` chunks into one-episode chunks ``(k, uniforms[i:i + 1])`` (recording)."""
    for start, uniforms in chunks:
        for i in range(uniforms.shape[0]):
            yield start + i, uniforms[i:i + 1]


def uniform_chunks(seed, K: int, width: int):
    """Yield ``(start, uniforms)`` with ``uniforms`` shape ``(n, width)``, n <= chunk size.

    The doubles come from one ``default_rng(seed)`` stream in order, so the concatenation does not
    depend on the chunk size.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _UNIFORMS_PER_CHUNK // width)
    for start in range(0, K, chunk):
        yield start, rng.random((min(K, start + chunk) - start, width))


# ============================================================================ run
def run(mdp: TabularMDP, *, K: int, seed, bonus: str = "bernstein", delta: float = 0.05,
        bonus_scale: float = 1.0, optimistic_init: bool = True, record: bool = False) -> RunResult:
    """Run UCBVI for ``K`` episodes and audit every episode's policy exactly.

    Parameters
    ----------
    mdp : TabularMDP
        The true model. Its mean rewards ``mdp.R`` are given to the learner (known rewards, as
        in Azar et al.); its transitions are only sampled.
    K : int
        Number of episodes, ``>= 1``.
    seed : int or numpy.random.SeedSequence
        The same seed gives bit-identical results.
    bonus : {"bernstein", "hoeffding"}
        UCBVI-BF or UCBVI-CH.
    delta : float
        Confidence level in ``(0, 1)``.
    bonus_scale : float
        Practical multiplier on the theoretical bonus (``>= 0``; ``1`` = theory; ``0`` removes
        the bonus). Recorded in ``hyper``.
    optimistic_init : bool
        ``True`` (Azar et al.): unvisited pairs are valued at ``H - h`` and ``Q_k <= Q_{k-1}``.
        ``False``: an unvisited pair is worth its known reward only, without the monotone clip.
        ``bonus_scale=0`` alone still explores through the optimistic initialisation; together with
        ``optimistic_init=False`` it is the greedy "certainty equivalence" mutant (linear regret on
        RiverSwim). Recorded in ``hyper``.
    record : bool
        Also return the learner's per-episode state in ``extras`` (keys :data:`RECORDED`, see
        :class:`EpisodeRecord`): counts before each episode, ``Q_k``, ``V_bar_k``, ``pi^k``. For
        checking the analysis' intermediate facts; every other output is bit-identical to
        ``record=False``. Not recorded in ``hyper`` (it changes nothing).

    Returns
    -------
    RunResult
        ``values[k]`` = exact value of ``pi_k``; ``extras["optimistic_values"]`` shape (K,) =
        ``mu0 . V_bar_k[0]`` (an upper bound on ``optimal_value`` on the good event).

    Notes
    -----
    Reconstructed: ``Q`` is capped at the remaining horizon ``H - h`` instead of Azar et al.'s
    ``H``; both upper-bound ``Q*`` (``V*_h <= H - h`` for rewards in [0, 1]), the former is tighter.
    """
    mdp = check_mdp(mdp)
    check_unit_reward_range(mdp, "ucbvi")
    K = check_episodes(K, EPISODE_BYTES, "the per-episode results")
    seed = check_seed(seed)
    bonus = check_bonus(bonus)
    delta = check_open_unit("delta", delta)
    bonus_scale = check_nonnegative("bonus_scale", bonus_scale)
    optimistic_init = check_bool("optimistic_init", optimistic_init)
    record = check_bool("record", record)

    L = log_term(mdp, K, delta)
    state = LearnerState(mdp)
    recorder = EpisodeRecord(K, state) if record else None
    P_stages = np.ascontiguousarray(mdp.P_stages)
    P_cdf = _kernels.cumulative_rows(P_stages)
    mu0 = np.ascontiguousarray(mdp.mu0)
    mu0_cdf = _kernels.cumulative_rows(mu0)
    R = np.ascontiguousarray(mdp.R)
    values = np.empty(K)
    optimistic_values = np.empty(K)
    chunks = uniform_chunks(seed, K, 1 + mdp.H)
    for start, uniforms in (chunks if recorder is None else one_episode_chunks(chunks)):
        stop = start + uniforms.shape[0]
        if recorder is not None:
            recorder.before(start, state)
        kern.run_ucbvi_chunk(P_stages, P_cdf, mu0, mu0_cdf, R, L, bonus == "bernstein", bonus_scale, optimistic_init,
                             uniforms,
                             state.counts_sas, state.counts_sa, state.inv_n, state.inv_sqrt_n, state.visits,
                             state.w_next, state.Q, state.V,
                             state.policy, state.V_audit, values[start:stop], optimistic_values[start:stop])
        if recorder is not None:
            recorder.after(start, state)
    hyper = {"bonus": bonus, "delta": delta, "bonus_scale": bonus_scale, "optimistic_init": optimistic_init,
             "log_term": L, "K": K,
             "counts": "pooled" if mdp.is_stationary else "per-stage"}
    extras = {"optimistic_values": optimistic_values}
    if recorder is not None:
        extras.update(recorder.extras())
    return RunResult.from_values("ucbvi", values, solve(mdp).value, seed=seed, hyper=hyper, extras=extras)
