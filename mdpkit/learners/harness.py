"""Exact-audit harness: run any episodic learner on a TabularMDP and measure it exactly.

Per episode ``k`` (pseudocode)::

    pi_k = learner.policy()                       # the learner sees only Setting, its seed, past episodes
    (s, a, r) = roll pi_k out in the TRUE model   # project simulator, harness-owned random streams
    learner.observe(s, a, r)
    value_k = mu0 . V^{pi_k}_0 under the TRUE model, exactly   # evaluated once per distinct policy,
                                                                # in batches (deferred: never shown to the learner)
    regret_k = sum_{j <= k} (V* - value_j)
    [constraint audit]  violation_k = value_k < (1 - alpha) V^{baseline}      (both exact)

What crosses to the learner: a :class:`~.protocol.Setting` (plain ints, bools, floats and, only
with ``reward_info="known"``, a copy of the reward table), an ``int`` seed, and each episode as
three plain arrays (rows of buffers the harness never reuses or reads again). The model, the
harness and its random generators never do.

Randomness: see :mod:`.environment` -- the transitions come from ``default_rng(seed)`` in
UCBVI's per-episode layout, so :class:`~.adapters.NumbaUCBVI` through this harness reproduces
:func:`mdpkit.algorithms.ucbvi.run` with the same seed bit for bit. The learner's seed is
derived from a separate child of the root seed.

Cost per episode beyond the learner: one numba call that checks a deterministic ``int64``
policy, compares it with the previous one, writes a new one into the audit's batch buffer and
rolls it out (its compiled overload is called directly while the policy keeps its array layout;
stochastic or other-dtype policies go through :func:`mdpkit.mdp.validate_policy` and the same
simulator kernel from Python), a few timer reads, and the exact audit -- ``O(H S^2)`` per
*distinct* deterministic policy (``O(H S A S)`` stochastic), batched ``_AUDIT_BATCH`` policies per
numba call. Measured on ``S = 20, A = 4, H = 20`` (``benchmarks/bench_harness.py``, loaded
machine, indicative): ~5 us per episode, 0.25-0.29 of a run whose learner replans with one
backward induction per episode; the native UCBVI through :class:`~.adapters.NumbaUCBVI` takes
~1.1-1.4x its own fused loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import typeof
from tqdm.auto import tqdm

from .. import _kernels
from .._validation import ArgumentTypeError, as_float_array, check_episodes, check_seed, readonly
from ..algorithms.results import RunResult
from ..algorithms.ucbvi import check_bool, check_open_unit
from ..mdp import TabularMDP, validate_policy
from ..solvers import evaluate, solve
from ..solvers.exact import check_mdp
from . import _harness_kernels as hk
from .environment import EpisodeSource, child_seed
from .protocol import REWARD_INFO, Setting

__all__ = ["run", "run_reward_free", "make_setting", "learner_seed", "RewardFreeAudit"]

#: Bytes per episode the results take (values, regret, four per-episode extras, and the Python
#: list slots and floats that hold the timings while running): K is checked against memory up front.
EPISODE_BYTES = 256
#: Distinct policies evaluated per numba call of the audit.
_AUDIT_BATCH = 256
#: Progress-bar refresh period, in episodes.
_PROGRESS_EVERY = 256

_NO_DET = np.zeros((0, 0), dtype=np.int64)
_INT64 = np.dtype(np.int64)
_NO_CDF = np.zeros((0, 0, 0))


# ============================================================================ what the learner gets
def make_setting(mdp: TabularMDP, K: int, reward_info: str) -> Setting:
    """The :class:`Setting` of ``mdp`` for a ``K``-episode run: sizes, stationarity, reward range
    ``(0, 1)`` and, only if ``reward_info == "known"``, a read-only copy of ``mdp.R``."""
    if reward_info not in REWARD_INFO:
        raise ValueError(f"reward_info must be one of {REWARD_INFO}, got {reward_info!r}")
    rewards = readonly(np.array(mdp.R, dtype=np.float64, copy=True)) if reward_info == "known" else None
    return Setting(S=int(mdp.S), A=int(mdp.A), H=int(mdp.H), K=int(K), stationary=bool(mdp.is_stationary),
                   reward_info=reward_info, reward_range=(0.0, 1.0), rewards=rewards)


def learner_seed(root: np.random.SeedSequence) -> int:
    """The learner's seed: 63 bits of the root's child 1 (child 0 seeds the noise stream)."""
    return int(child_seed(root, 1).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _root(seed) -> np.random.SeedSequence:
    seed = check_seed(seed)
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def _check_learner(learner, methods: tuple[str, ...]) -> str:
    missing = [m for m in methods if not callable(getattr(learner, m, None))]
    if missing:
        raise ArgumentTypeError(f"learner must have methods {', '.join(methods)}; {type(learner).__name__} lacks "
                        f"{', '.join(missing)}")
    return str(getattr(learner, "name", type(learner).__name__))


def _compiled_entry(dispatcher, args: tuple):
    """The compiled overload of ``dispatcher`` for these argument types, or ``None``.

    Why: numba's dispatcher types all 13 arguments of the per-episode call on every call (about
    1 us, a fifth of the harness's own cost per episode). Within a run only the policy can change
    type: the harness resolves the overload once per buffer chunk, for a C-contiguous, aligned,
    writeable ``int64`` policy (``flags.carray``), and calls it directly while the learner's
    policies keep those flags (dtype and shape are checked before). Anything else goes through
    the dispatcher. ``None`` if numba does not expose the overload.
    """
    try:
        return dispatcher.get_overload(tuple(typeof(a) for a in args))
    except Exception:  # pragma: no cover - a numba without get_overload: the plain call still works
        return None


# ============================================================================ exact audit
class _Auditor:
    """Exact values of the deployed policies, computed once per distinct policy, in batches."""

    def __init__(self, mdp: TabularMDP, K: int):
        self.P_stages = np.ascontiguousarray(mdp.P_stages)
        self.R = np.ascontiguousarray(mdp.R)
        self.mu0 = np.ascontiguousarray(mdp.mu0)
        self.V = np.zeros((mdp.H + 1, mdp.S))
        self.policy_values = np.empty(K)
        self.audit_seconds = np.zeros(K)  # per distinct policy
        self.n_policies = 0
        # Deterministic policies: the per-episode kernel writes a new one straight into
        # det_rows[det_slot + 1]; det_rows[det_slot] is the last one deployed (row 0 after a flush
        # carries it over; all -1 when there is none).
        self.det_rows = np.full((_AUDIT_BATCH + 1, mdp.H, mdp.S), -1, dtype=np.int64)
        self.det_slot = 0
        self.det_ids: list[int] = []
        self.stoch: list[tuple[int, np.ndarray]] = []

    def deterministic_changed(self) -> None:
        """The episode's kernel call wrote a new deterministic policy to ``det_rows[det_slot + 1]``."""
        self.det_slot += 1
        self.det_ids.append(self.n_policies)
        self.n_policies += 1
        if self.det_slot == _AUDIT_BATCH:
            self._flush_deterministic()

    def forget_deterministic(self) -> None:
        """A stochastic policy was deployed: the next deterministic one counts as new."""
        self._flush_deterministic()
        self.det_rows[0] = -1

    def new_stochastic(self, policy: np.ndarray) -> None:
        """The episode deploys a stochastic policy different from the previous episode's (copied)."""
        self.stoch.append((self.n_policies, policy.copy()))
        self.n_policies += 1
        if len(self.stoch) == _AUDIT_BATCH:
            self.flush()

    def _flush_deterministic(self) -> None:
        if self.det_ids:
            self._evaluate(hk.values_deterministic, np.array(self.det_ids), self.det_rows[1:self.det_slot + 1])
            self.det_rows[0] = self.det_rows[self.det_slot]
            self.det_slot, self.det_ids = 0, []

    def flush(self) -> None:
        self._flush_deterministic()
        if self.stoch:
            self._evaluate(hk.values_stochastic, np.array([i for i, _ in self.stoch]),
                           np.stack([p for _, p in self.stoch]))
            self.stoch = []

    def _evaluate(self, kernel, ids: np.ndarray, policies: np.ndarray) -> None:
        start = time.perf_counter()
        out = np.empty(ids.shape[0])
        kernel(self.P_stages, self.R, self.mu0, policies, self.V, out)
        self.policy_values[ids] = out
        self.audit_seconds[ids] = (time.perf_counter() - start) / ids.shape[0]

    def episode_values(self, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-episode exact values and audit seconds (each distinct policy's on its first episode).

        ``changed`` shape (K,) bool: episode ``k`` deployed a new policy (``changed[0]`` is True).
        """
        self.flush()
        policy_of_episode = np.cumsum(changed) - 1
        values = self.policy_values[policy_of_episode]
        seconds = np.where(changed, self.audit_seconds[policy_of_episode], 0.0)
        return values, seconds


# ============================================================================ run
def run(learner, mdp: TabularMDP, *, K: int, seed, reward_info: str = "known", baseline=None,
        alpha: float | None = None, progress: bool = False) -> RunResult:
    """Run ``learner`` for ``K`` episodes on ``mdp`` and audit every deployed policy exactly.

    Parameters
    ----------
    learner : EpisodicLearner
        Any object with ``start(setting, seed)``, ``policy()`` and ``observe(states, actions,
        rewards)`` (see :class:`~.protocol.EpisodicLearner`). Optional attributes ``name`` (str)
        and ``hyper`` (dict, read when the run ends) label the result.
    mdp : TabularMDP
        The true model. Never passed to the learner.
    K : int
        Number of episodes, ``>= 1``.
    seed : int or numpy.random.SeedSequence
        The same seed gives bit-identical results (for a learner that is itself reproducible).
    reward_info : {"known", "observed"}
        Whether the learner's :class:`~.protocol.Setting` carries the mean reward table.
    baseline : array_like, shape (H, S) int or (H, S, A), optional
        Constraint audit (StepMix's setting): every episode must have
        ``value_k >= (1 - alpha) V^baseline``, both sides exact. Requires ``alpha``.
    alpha : float, optional
        In ``(0, 1)``; only with ``baseline``.
    progress : bool
        Show a tqdm progress bar (off by default; worth it for runs of minutes).

    Returns
    -------
    RunResult
        ``values[k]`` exact value of the policy deployed in episode ``k``; ``regret`` cumulative
        against the exact ``V*``; with ``baseline``: ``baseline_value``, ``threshold``,
        ``violations``. ``extras``: ``violation`` (K,) bool (with ``baseline``),
        ``policy_changed`` (K,) bool, ``episode_time`` (K,) wall seconds from ``policy()`` to the
        end of ``observe()``, ``learner_time`` (K,) seconds inside those two calls,
        ``audit_time`` (K,) seconds of exact evaluation charged to the episode that introduced the
        policy. ``hyper``: the learner's ``hyper`` plus ``K``, ``reward_info``, ``learner_seed``.
    """
    name = _check_learner(learner, ("start", "policy", "observe"))
    mdp = check_mdp(mdp)
    K = check_episodes(K, EPISODE_BYTES, "the per-episode results")
    root = _root(seed)
    if reward_info not in ("known", "observed"):
        raise ValueError(f"reward_info must be 'known' or 'observed' for run(), got {reward_info!r} "
                         "(reward-free learners: run_reward_free)")
    progress = check_bool("progress", progress)
    baseline_value = None
    if (baseline is None) != (alpha is None):
        raise ValueError("baseline and alpha go together: give both for a constraint audit, or neither")
    if baseline is not None:
        alpha = check_open_unit("alpha", alpha)
        baseline_value = evaluate(mdp, validate_policy(baseline, mdp.H, mdp.S, mdp.A, name="baseline")).value

    setting = make_setting(mdp, K, reward_info)
    seed_for_learner = learner_seed(root)
    learner.start(setting, seed_for_learner)
    source = EpisodeSource(mdp, root)
    auditor = _Auditor(mdp, K)
    H, S, A = mdp.H, mdp.S, mdp.A
    P_cdf, mu0_cdf, R, bernoulli = source.P_cdf, source.mu0_cdf, source.R, source.bernoulli
    last_stoch = last_stoch_cdf = None
    # Per-episode records in Python lists: a list store costs a fraction of a numpy scalar store.
    changed = [False] * K
    episode_time, learner_time = [0.0] * K, [0.0] * K
    det_shape, deploy, clock = (H, S), hk.deploy_deterministic, time.perf_counter
    det_rows, CHANGED, INVALID = auditor.det_rows, hk.CHANGED, hk.INVALID
    bar = tqdm(total=K, desc=name, mininterval=0.5) if progress else None
    i = n_chunk = 0
    fast_deploy = None
    for k in range(K):
        t0 = clock()
        pol = learner.policy()
        t1 = clock()
        if i == n_chunk:
            uniforms, states, actions, rewards = source.next_chunk()
            i, n_chunk = 0, uniforms.shape[0]
            fast_deploy = None  # new buffers: re-resolve the compiled entry
            # The rows handed to observe(), as views made in one C loop: list(a) costs ~90 ns a
            # row, a[i] in the episode loop ~240 ns (three per episode, ~8% of the harness's cost).
            state_rows, action_rows, reward_rows = list(states), list(actions), list(rewards)
        if not (type(pol) is np.ndarray and pol.dtype == _INT64 and pol.shape == det_shape):
            pol = validate_policy(pol, H, S, A, name=f"the policy {name}.policy() returned in episode {k}")
        if pol.ndim == 2:
            if last_stoch is not None:  # back from a stochastic policy: the next one is new
                auditor.forget_deterministic()
                last_stoch = last_stoch_cdf = None
            if fast_deploy is not None and pol.flags.carray:
                code = fast_deploy(pol, det_rows, auditor.det_slot, A, P_cdf, mu0_cdf, R, bernoulli, uniforms, i,
                                   states, actions, rewards)
            else:
                args = (pol, det_rows, auditor.det_slot, A, P_cdf, mu0_cdf, R, bernoulli, uniforms, i, states, actions,
                        rewards)
                code = deploy(*args)
                if pol.flags.carray:
                    fast_deploy = _compiled_entry(deploy, args)
            if code == CHANGED:
                changed[k] = True
                auditor.deterministic_changed()
            elif code == INVALID:
                validate_policy(pol, H, S, A, name=f"the policy {name}.policy() returned in episode {k}")
                raise AssertionError("deploy_deterministic rejected a policy validate_policy accepts")
        else:
            if last_stoch is None or not np.array_equal(pol, last_stoch):
                last_stoch, last_stoch_cdf = pol, _kernels.cumulative_rows(pol)
                changed[k] = True
                auditor.new_stochastic(last_stoch)
            _kernels.simulate_episodes(P_cdf, mu0_cdf, _NO_DET, last_stoch_cdf, R, bernoulli, uniforms[i:i + 1],
                                       states[i:i + 1], actions[i:i + 1], rewards[i:i + 1])
        t2 = clock()
        learner.observe(state_rows[i], action_rows[i], reward_rows[i])
        t3 = clock()
        i += 1
        learner_time[k] = (t1 - t0) + (t3 - t2)
        episode_time[k] = t3 - t0
        if bar is not None and ((k + 1) % _PROGRESS_EVERY == 0 or k + 1 == K):
            bar.update(k + 1 - bar.n)
    if bar is not None:
        bar.close()
    changed = np.array(changed)
    episode_time, learner_time = np.array(episode_time), np.array(learner_time)

    values, audit_time = auditor.episode_values(changed)
    hyper = dict(getattr(learner, "hyper", None) or {})
    hyper.update({"K": K, "reward_info": reward_info, "learner_seed": seed_for_learner})
    extras = {"policy_changed": changed, "episode_time": episode_time, "learner_time": learner_time,
              "audit_time": audit_time}
    if baseline_value is not None:
        extras["violation"] = values < (1.0 - alpha) * baseline_value
    return RunResult.from_values(name, values, solve(mdp).value, seed=seed, hyper=hyper, extras=extras,
                                 baseline_value=baseline_value, alpha=alpha)


# ============================================================================ reward-free
@dataclass(frozen=True)
class RewardFreeAudit:
    """Exact audit of a reward-free learner's plans for a batch of ``B`` rewards.

    Attributes
    ----------
    algorithm : str
    gaps : ndarray, shape (B,)
        ``V*_r - V^{pi_r}_r`` under the true model, exactly.
    optimal_values, values : ndarray, shape (B,)
    K : int
        Exploration episodes.
    seed : int or SeedSequence
    hyper : dict
    """

    algorithm: str
    gaps: np.ndarray
    optimal_values: np.ndarray
    values: np.ndarray
    K: int
    seed: object
    hyper: dict


def run_reward_free(learner, mdp: TabularMDP, *, K: int, seed, rewards) -> RewardFreeAudit:
    """Explore ``K`` episodes without rewards, then audit ``learner.plan(rewards)`` exactly.

    Parameters
    ----------
    learner : RewardFreeLearner
        ``start(setting, seed)`` (``reward_info == "none"``), ``policy()``,
        ``observe(states, actions)``, ``plan(rewards)``.
    mdp : TabularMDP
        The true model (its own rewards are never used).
    K : int
    seed : int or numpy.random.SeedSequence
        Same streams as :func:`run`.
    rewards : array_like, shape (B, H, S, A)
        The reward tables to plan for, revealed to the learner only after exploration.

    Returns
    -------
    RewardFreeAudit
    """
    name = _check_learner(learner, ("start", "policy", "observe", "plan"))
    mdp = check_mdp(mdp)
    K = check_episodes(K, 0.0, "the exploration episodes")
    root = _root(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    R_batch = as_float_array("rewards", rewards, ndim=4, shape=(None, H, S, A))
    setting = make_setting(mdp, K, "none")
    seed_for_learner = learner_seed(root)
    learner.start(setting, seed_for_learner)
    source = EpisodeSource(mdp, root)
    i = n_chunk = 0
    for k in range(K):
        pol = validate_policy(learner.policy(), H, S, A, name=f"the policy {name}.policy() returned in episode {k}")
        if i == n_chunk:
            uniforms, states, actions, rewards_out = source.next_chunk()
            i, n_chunk = 0, uniforms.shape[0]
        det, cdf = (pol, _NO_CDF) if pol.ndim == 2 else (_NO_DET, _kernels.cumulative_rows(pol))
        _kernels.simulate_episodes(source.P_cdf, source.mu0_cdf, det, cdf, source.R, source.bernoulli,
                                   uniforms[i:i + 1], states[i:i + 1], actions[i:i + 1], rewards_out[i:i + 1])
        learner.observe(states[i], actions[i])
        i += 1
    plans = learner.plan(readonly(R_batch.copy()))
    B = R_batch.shape[0]
    plans = np.asarray(plans)
    if plans.shape[:1] != (B,):
        raise ValueError(f"{name}.plan(rewards) must return B = {B} policies (leading axis), got shape {plans.shape}")
    optimal = np.atleast_1d(solve(mdp, rewards=R_batch).value)
    values = np.array([evaluate(mdp, validate_policy(plans[b], H, S, A, name=f"{name}.plan(rewards)[{b}]"),
                                rewards=R_batch[b]).value for b in range(B)])
    hyper = dict(getattr(learner, "hyper", None) or {})
    hyper.update({"K": K, "learner_seed": seed_for_learner})
    return RewardFreeAudit(name, readonly(optimal - values), readonly(optimal), readonly(values), K, seed, hyper)
