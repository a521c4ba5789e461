"""Built-in numba algorithms, and numba ``jitclass`` learners, on the learner protocol.

:class:`NumbaUCBVI`
    The native UCBVI planner (:func:`mdpkit.algorithms._ucbvi_kernels.optimistic_plan`) and its
    count update, driven by the harness instead of :func:`mdpkit.algorithms.ucbvi.run`'s own loop.
    Same kernels, same arithmetic, same transition stream (see :mod:`.environment`): through
    :func:`~mdpkit.learners.harness.run` it deploys the native run's policies and gets its
    per-episode exact values bit for bit (tested). It learns only from what the protocol gives:
    the audit, which the native loop fuses in, is the harness's.
:class:`JitclassLearner`
    Wraps an instance of a numba ``jitclass`` that has ``policy()`` and ``observe(states, actions,
    rewards)`` methods (a jitclass cannot take a :class:`~.protocol.Setting`, so a factory builds it
    from plain numbers in ``start``).

Not adapted yet: StepMix/EpsMix (their loop fuses the baseline's certification with the true-model
audit of the mixture; the harness's ``baseline``/``alpha`` audit covers the constraint side),
``lsvi_ucb`` / ``contrastive_ucb`` (low-rank models, not tabular), the reward-free and preference
learners (protocols in :mod:`.protocol`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._validation import ArgumentTypeError
from ..algorithms import _ucbvi_kernels as kern
from .protocol import Setting
from .ucbvi import log_term, set_hyper

__all__ = ["NumbaUCBVI", "JitclassLearner", "record_episode"]


@njit(cache=True)
def record_episode(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, states, actions):
    """Add one episode's ``H`` transitions to UCBVI's counts, exactly as the native loop does
    (:func:`~mdpkit.algorithms._ucbvi_kernels.record_transition` per step, in step order).

    Parameters
    ----------
    counts_sas : ndarray, shape (G, S, A, S) -- in/out
    counts_sa, inv_n, inv_sqrt_n : ndarray, shape (G, S, A) -- in/out
    visits : ndarray, shape (H + 1, S) -- in/out
    states : ndarray, shape (H + 1,), int64
    actions : ndarray, shape (H,), int64
    """
    visits[0, states[0]] += 1.0
    for h in range(actions.shape[0]):
        kern.record_transition(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, h, states[h], actions[h],
                               states[h + 1])


class NumbaUCBVI:
    """The native numba UCBVI on the learner protocol (known rewards).

    Parameters
    ----------
    bonus, delta, bonus_scale, optimistic_init
        As in :func:`mdpkit.algorithms.ucbvi.run` (same defaults).

    Attributes (after ``start``)
    ----------------------------
    Q : ndarray, shape (H, S, A)
    V : ndarray, shape (H + 1, S)
        The last plan's optimistic values (``mu0`` is not known to a learner, so the native run's
        ``optimistic_values`` = ``mu0 . V[0]`` is the caller's to form).
    """

    name = "ucbvi (numba adapter)"

    def __init__(self, *, bonus: str = "bernstein", delta: float = 0.05, bonus_scale: float = 1.0,
                 optimistic_init: bool = True):
        set_hyper(self, bonus, delta, bonus_scale, optimistic_init)

    def start(self, setting: Setting, seed: int) -> None:
        H, S, A = setting.H, setting.S, setting.A
        G = setting.n_stored_stages
        self.R = np.ascontiguousarray(setting.require_known_rewards("NumbaUCBVI"))
        self.L = log_term(setting, self.delta)
        self.counts_sas = np.zeros((G, S, A, S))
        self.counts_sa = np.zeros((G, S, A))
        self.inv_n = np.zeros((G, S, A))
        self.inv_sqrt_n = np.zeros((G, S, A))
        self.visits = np.zeros((H + 1, S))
        self.w_next = np.zeros((H + 1, S))
        self.Q = np.empty((H, S, A))
        self.Q[:] = (H - np.arange(H, dtype=np.float64))[:, None, None]
        self.V = np.zeros((H + 1, S))
        self._policy = np.zeros((H, S), dtype=np.int64)
        self._bernstein = self.bonus == "bernstein"
        self.hyper = {"bonus": self.bonus, "delta": self.delta, "bonus_scale": self.bonus_scale,
                      "optimistic_init": self.optimistic_init, "log_term": self.L,
                      "counts": "pooled" if setting.stationary else "per-stage"}

    def policy(self) -> np.ndarray:
        kern.optimistic_plan(self.counts_sas, self.counts_sa, self.inv_n, self.inv_sqrt_n, self.visits, self.R,
                             self.L, self._bernstein, self.bonus_scale, self.optimistic_init, self.w_next, self.Q,
                             self.V, self._policy)
        return self._policy  # the harness copies it

    def observe(self, states, actions, rewards) -> None:
        record_episode(self.counts_sas, self.counts_sa, self.inv_n, self.inv_sqrt_n, self.visits, states, actions)


class JitclassLearner:
    """A numba ``jitclass`` learner behind the protocol.

    Parameters
    ----------
    factory : callable
        ``factory(S, A, H, K, stationary, rewards, seed)`` returning a jitclass instance with
        ``policy() -> (H, S) int64 or (H, S, A) float64`` and ``observe(states, actions, rewards)``.
        ``rewards`` is the ``(H, S, A)`` reward table when the setting gives it, else an empty
        ``(0, 0, 0)`` array (a jitclass field needs one type).
    name : str, optional
    """

    def __init__(self, factory, name: str | None = None):
        if not callable(factory):
            raise ArgumentTypeError(f"factory must be callable, got {type(factory).__name__}")
        self.factory = factory
        self.name = name or getattr(factory, "__name__", "jitclass learner")

    def start(self, setting: Setting, seed: int) -> None:
        rewards = (np.ascontiguousarray(setting.rewards) if setting.rewards is not None
                   else np.zeros((0, 0, 0)))
        self.inner = self.factory(setting.S, setting.A, setting.H, setting.K, setting.stationary, rewards, seed)

    def policy(self) -> np.ndarray:
        return self.inner.policy()

    def observe(self, states, actions, rewards) -> None:
        self.inner.observe(states, actions, rewards)
