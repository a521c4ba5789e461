"""What a learner is allowed to know, and the methods the harness calls.

The harness (:mod:`.harness`) owns the model; a learner only ever receives

- a :class:`Setting` -- sizes, the number of episodes, whether transitions are stage-independent,
  the reward range, and the reward table *only* when the setting says rewards are known;
- an ``int`` seed for its own randomness;
- each finished episode as three plain arrays ``(states, actions, rewards)``.

Nothing else crosses the boundary: no model object, no harness object, no callback. This is
structural -- :class:`Setting` holds plain ints, floats, bools and a private read-only copy of the
reward table, and the harness passes nothing else -- and is tested in ``tests/test_harness.py``
(the arguments a learner receives are searched recursively for a model; a learner run on two
models that differ only in what it cannot observe deploys bit-identical policies).

Protocols
---------
:class:`EpisodicLearner`
    ``start(setting, seed)``, then per episode ``policy()`` -> the policy it will deploy,
    ``observe(states, actions, rewards)``. Plain Python classes and classes whose methods call
    numba kernels (:class:`~mdpkit.learners.adapters.NumbaUCBVI`) both satisfy it; a numba
    ``jitclass`` can be wrapped with :class:`~mdpkit.learners.adapters.JitclassLearner`.
:class:`RewardFreeLearner`
    Explores without seeing any reward (``observe(states, actions)``), then answers
    ``plan(rewards)`` for a batch of reward tables: the shape of ``hf_rfe`` / ``ucrl_rfe``.
    Tabular harness: :func:`~mdpkit.learners.harness.run_reward_free`.
:class:`DuelingLearner`
    Proposes two response distributions, observes one sampled pair and the binary preference
    outcome: the shape of the preference-game learners (``nash_mp``, ``nash_md``, ``mmd``,
    ``mwu``, ``nash_mp_approx``). Harness: :func:`~mdpkit.learners.dueling.run_dueling`; the
    built-in preference algorithms are not adapted to it yet (the exact ones query the full
    preference oracle ``P pi`` rather than single comparisons).

Policies
--------
A deterministic policy is an ``(H, S)`` integer array of actions; a stochastic one an
``(H, S, A)`` array of action distributions. The harness validates whatever ``policy()`` returns
(the same rules as :func:`mdpkit.evaluate`) and copies it, so a learner may return -- and later
overwrite -- its own internal buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Setting", "EpisodicLearner", "RewardFreeLearner", "DuelingLearner", "PreferenceSetting",
           "REWARD_INFO"]

#: ``"known"``: the learner is given the mean reward table (Azar et al.'s UCBVI setting);
#: ``"observed"``: it sees only the realised rewards of its own episodes;
#: ``"none"``: reward-free exploration (rewards are neither given nor observed).
REWARD_INFO = ("known", "observed", "none")


@dataclass(frozen=True)
class Setting:
    """Everything an episodic tabular learner may know before its first episode.

    Attributes
    ----------
    S, A, H : int
        Numbers of states and actions, horizon. States and actions are ``0..S-1``, ``0..A-1``.
    K : int
        Number of episodes the run will last (confidence levels such as UCBVI's
        ``L = ln(5 S A K H / delta)`` depend on it).
    stationary : bool
        Transitions do not depend on the stage (a structural fact of the setting, as in Azar et
        al.; learners may pool their counts over stages).
    reward_info : {"known", "observed", "none"}
        See :data:`REWARD_INFO`.
    reward_range : tuple of float
        ``(low, high)``: every realised reward lies in it.
    rewards : ndarray, shape (H, S, A), or None
        Mean rewards -- a read-only copy, present only when ``reward_info == "known"``.
    """

    S: int
    A: int
    H: int
    K: int
    stationary: bool
    reward_info: str
    reward_range: tuple = (0.0, 1.0)
    rewards: np.ndarray | None = None

    def __post_init__(self):
        if self.reward_info not in REWARD_INFO:
            raise ValueError(f"reward_info must be one of {REWARD_INFO}, got {self.reward_info!r}")
        if (self.rewards is None) == (self.reward_info == "known"):
            raise ValueError("rewards must be given exactly when reward_info == 'known'")

    @property
    def known_rewards(self) -> bool:
        """Whether :attr:`rewards` holds the mean reward table."""
        return self.rewards is not None

    @property
    def n_stored_stages(self) -> int:
        """``1`` when transitions may be pooled over stages, else ``H`` (the ``G`` of the kernels)."""
        return 1 if self.stationary else self.H

    def require_known_rewards(self, learner: str) -> np.ndarray:
        """Return :attr:`rewards`, or raise a ValueError saying ``learner`` needs them."""
        if self.rewards is None:
            raise ValueError(f"{learner} needs the mean reward table: run it with reward_info='known' "
                             f"(this setting has reward_info={self.reward_info!r})")
        return self.rewards


@runtime_checkable
class EpisodicLearner(Protocol):
    """An online episodic learner.

    The harness calls ``start`` once, then for each episode ``k = 0..K-1`` ``policy()`` and,
    after rolling the policy out, ``observe(...)`` with that episode.
    """

    def start(self, setting: Setting, seed: int) -> None:
        """Reset all state for a run described by ``setting``; ``seed`` (``0 <= seed < 2**63``)
        seeds the learner's own randomness."""

    def policy(self) -> np.ndarray:
        """The policy deployed in the coming episode: ``(H, S)`` int or ``(H, S, A)`` float."""

    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """One finished episode (fresh arrays the harness never touches again; the learner may keep them).

        Parameters
        ----------
        states : ndarray, shape (H + 1,), int64
            ``states[h]`` is the state at step ``h``; ``states[H]`` the state after the last action.
        actions : ndarray, shape (H,), int64
        rewards : ndarray, shape (H,), float64
            Realised rewards (the means, or Bernoulli draws for a model with Bernoulli rewards).
        """


@runtime_checkable
class RewardFreeLearner(Protocol):
    """Reward-free exploration: explore ``K`` episodes without rewards, then plan for any reward.

    ``start`` receives a :class:`Setting` with ``reward_info == "none"``.
    """

    def start(self, setting: Setting, seed: int) -> None:
        """As :meth:`EpisodicLearner.start`."""

    def policy(self) -> np.ndarray:
        """The exploration policy of the coming episode (as :meth:`EpisodicLearner.policy`)."""

    def observe(self, states: np.ndarray, actions: np.ndarray) -> None:
        """One exploration episode: ``states`` shape (H + 1,), ``actions`` shape (H,), no rewards."""

    def plan(self, rewards: np.ndarray) -> np.ndarray:
        """Policies for a batch of reward tables.

        Parameters
        ----------
        rewards : ndarray, shape (B, H, S, A)

        Returns
        -------
        ndarray, shape (B, H, S) int or (B, H, S, A)
        """


@dataclass(frozen=True)
class PreferenceSetting:
    """What a dueling (preference) learner may know: ``n`` responses and its query budget.

    Attributes
    ----------
    n : int
        Number of responses ``0..n-1``.
    iters : int
        Number of rounds.
    beta : float
        Strength of the KL regularisation towards the reference policy ``mu`` (``0``: none).
    mu : ndarray, shape (n,)
        Reference policy (read-only copy).
    """

    n: int
    iters: int
    beta: float
    mu: np.ndarray


@runtime_checkable
class DuelingLearner(Protocol):
    """Learning from pairwise preferences (the shape of the preference-game learners).

    Each round the learner proposes two response distributions; the environment draws
    ``y ~ first``, ``y' ~ second`` and ``o ~ Bernoulli(P[y, y'])`` and reports them. The deployed
    policy of the round is ``first``, audited exactly (KL to the regularised equilibrium,
    exploitability) with :mod:`mdpkit.games` by :func:`~mdpkit.learners.dueling.run_dueling`.
    """

    def start(self, setting: PreferenceSetting, seed: int) -> None:
        """Reset for a run."""

    def propose(self) -> tuple[np.ndarray, np.ndarray]:
        """Two distributions over responses, each shape (n,)."""

    def observe(self, y: int, y_prime: int, outcome: int) -> None:
        """The sampled pair and whether ``y`` was preferred (``1``) or not (``0``)."""
