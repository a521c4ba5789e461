"""The harness's side of the environment: episodes of a :class:`~mdpkit.TabularMDP`.

Lives on the harness side of the boundary: it holds the model's sampling tables and is never
handed to a learner. Episodes are rolled out by the project's simulator kernel
(:func:`mdpkit._kernels.simulate_episodes`, the kernel behind :func:`mdpkit.simulate`); this
module only decides where its uniforms come from.

Random streams (``root = SeedSequence(seed)``, or the given SeedSequence)::

    state stream  default_rng(root):            1 + H doubles per episode
                  u[0] initial state, u[1 + h] transition at step h
    noise stream  default_rng(child(root, 0)):  2 H doubles per episode
                  u[h] action draw at step h (stochastic policies), u[H + h] reward draw (Bernoulli)

The state stream is exactly the stream of :func:`mdpkit.algorithms.ucbvi.run` (same generator,
same per-episode layout ``1 + H``), so a learner that deploys the native UCBVI's policies sees the
native UCBVI's transitions, bit for bit. Both streams advance by a fixed amount per episode
whatever the policy, so one learner's choices never shift the random numbers of later episodes.
Draws are made one chunk of episodes at a time; the concatenation does not depend on the chunk
size.
"""

from __future__ import annotations

import numpy as np

from .. import _kernels
from ..mdp import TabularMDP

__all__ = ["EpisodeSource", "child_seed"]

#: Episodes per chunk of pre-drawn uniforms (bounds memory whatever K is).
_EPISODES_PER_CHUNK = 1024


def child_seed(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``root``, computed without mutating ``root`` (so a SeedSequence
    passed by the caller reproduces the run when passed again)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (index,),
                                  pool_size=root.pool_size)


class EpisodeSource:
    """Pre-drawn uniforms and output buffers for the episodes of one run.

    Parameters
    ----------
    mdp : TabularMDP
    root : numpy.random.SeedSequence
        The run's root seed (see the module docstring for the streams derived from it).

    Attributes
    ----------
    P_cdf : ndarray, shape (G, S, A, S)
    mu0_cdf : ndarray, shape (S,)
    R : ndarray, shape (H, S, A)
        Mean rewards (what a roll-out returns, or the Bernoulli parameter).
    bernoulli : bool
    """

    def __init__(self, mdp: TabularMDP, root: np.random.SeedSequence):
        self.H = mdp.H
        self.P_cdf = _kernels.cumulative_rows(np.ascontiguousarray(mdp.P_stages))
        self.mu0_cdf = _kernels.cumulative_rows(np.ascontiguousarray(mdp.mu0))
        self.R = np.ascontiguousarray(mdp.R)
        self.bernoulli = mdp.reward_noise == "bernoulli"
        self._state_rng = np.random.default_rng(root)
        self._noise_rng = np.random.default_rng(child_seed(root, 0))

    def next_chunk(self):
        """Uniforms and output buffers for the next ``n`` episodes (``n`` = :data:`_EPISODES_PER_CHUNK`).

        Returns
        -------
        uniforms : ndarray, shape (n, 1 + 3 H)
            Simulator layout: ``u[0]`` initial state; per step ``h``: ``u[1 + 3h]`` action,
            ``u[2 + 3h]`` transition, ``u[3 + 3h]`` reward.
        states : ndarray, shape (n, H + 1), int64
        actions : ndarray, shape (n, H), int64
        rewards : ndarray, shape (n, H)
            Fresh buffers, never reused, so a learner may keep the rows it is given.
        """
        H, n = self.H, _EPISODES_PER_CHUNK
        state_draws = self._state_rng.random((n, 1 + H))
        noise_draws = self._noise_rng.random((n, 2 * H))
        uniforms = np.empty((n, 1 + 3 * H))
        uniforms[:, 0] = state_draws[:, 0]
        uniforms[:, 1::3] = noise_draws[:, :H]     # actions
        uniforms[:, 2::3] = state_draws[:, 1:]     # transitions
        uniforms[:, 3::3] = noise_draws[:, H:]     # rewards
        return (uniforms, np.empty((n, H + 1), dtype=np.int64), np.empty((n, H), dtype=np.int64),
                np.empty((n, H)))
