"""Gymnasium adapter: run any :class:`~mdpkit.TabularMDP` as a ``gymnasium.Env``.

Requires the optional ``gym`` extra (``pip install mdpkit[gym]``).

Example
-------
>>> from mdpkit import envs
>>> from mdpkit.gym import TabularEnv
>>> env = TabularEnv(envs.riverswim(6, H=20), seed=0)
>>> obs, info = env.reset()
>>> obs, info["h"]
(0, 0)
>>> obs, reward, terminated, truncated, info = env.step(1)
>>> info["h"], terminated
(1, False)
"""

from __future__ import annotations

import numpy as np

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as exc:
    raise ImportError(
        "mdpkit.gym needs the optional dependency gymnasium: pip install mdpkit[gym]"
    ) from exc

from . import _kernels
from .mdp import TabularMDP

__all__ = ["TabularEnv"]


class TabularEnv(gymnasium.Env):
    """A finite-horizon :class:`~mdpkit.TabularMDP` as a gymnasium environment.

    Parameters
    ----------
    mdp : TabularMDP
    seed : int, optional
        Seeds the environment's generator on construction, so the first ``reset()`` without a
        seed is reproducible too. ``reset(seed=...)`` reseeds, as in gymnasium.

    Notes
    -----
    - Observation: the state, ``Discrete(S)``. The stage is not part of the observation (the
      model may be stage-dependent); ``info["h"]`` gives the stage at which the next action
      is taken (``0`` after ``reset``, ``H`` after the last step).
    - Action: ``Discrete(A)``.
    - ``reset`` draws the initial state from ``mdp.mu0``; ``step(a)`` pays ``R[h, s, a]`` (or a
      Bernoulli draw of it if ``mdp.reward_noise == "bernoulli"``; on a ``reward_range`` other than
      ``[0, 1]`` a two-point draw on its ends) and draws the next state from ``P[h, s, a]``. With
      ``mdp.transition_rewards`` it draws the next state first and pays ``R(h, s, a, s')`` of
      that transition (as :func:`mdpkit.simulate` does).
    - ``reward_range`` is ``mdp.reward_range``.
    - The episode always lasts ``H`` steps: ``terminated`` is always False and ``truncated``
      becomes True on step ``H`` (a time limit, so bootstrapping learners should not treat the
      last state as terminal unless they track ``h``). Stepping past it raises ``RuntimeError``.
    - Sampling uses the environment's ``np_random`` generator only (one uniform per transition,
      one per Bernoulli reward), so equal seeds and actions give equal episodes.
    """

    metadata = {"render_modes": []}

    def __init__(self, mdp: TabularMDP, *, seed: int | None = None):
        if not isinstance(mdp, TabularMDP):
            raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")
        self.mdp = mdp
        self.observation_space = spaces.Discrete(mdp.S)
        self.action_space = spaces.Discrete(mdp.A)
        self.reward_range = mdp.reward_range
        self._P_cdf = _kernels.cumulative_rows(mdp.P_stages)
        self._mu0_cdf = _kernels.cumulative_rows(mdp.mu0)
        self._stationary = mdp.P_stages.shape[0] == 1
        self._bernoulli = mdp.reward_noise == "bernoulli"
        self._h = None  # None: reset() not called yet
        self._s = None
        if seed is not None:
            self.action_space.seed(seed)
            super().reset(seed=seed)

    @property
    def h(self) -> int | None:
        """Current stage (``None`` before the first ``reset``)."""
        return self._h

    @property
    def state(self) -> int | None:
        """Current state (``None`` before the first ``reset``)."""
        return self._s

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._h = 0
        self._s = int(np.searchsorted(self._mu0_cdf, self.np_random.random(), side="right"))
        return self._s, {"h": 0}

    def step(self, action):
        if self._h is None:
            raise RuntimeError("call reset() before step()")
        if self._h >= self.mdp.H:
            raise RuntimeError(f"the episode ended after H = {self.mdp.H} steps; call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        h, s, a = self._h, self._s, int(action)
        cdf = self._P_cdf[0 if self._stationary else h, s, a]
        TR = self.mdp.transition_rewards
        if TR is None:
            reward = self._draw_reward(float(self.mdp.R[h, s, a]))
            self._s = int(np.searchsorted(cdf, self.np_random.random(), side="right"))
        else:  # the reward depends on the realised next state
            self._s = int(np.searchsorted(cdf, self.np_random.random(), side="right"))
            reward = self._draw_reward(float(TR[h if TR.shape[0] > 1 else 0, s, a, self._s]))
        self._h = h + 1
        truncated = self._h == self.mdp.H
        return self._s, reward, False, truncated, {"h": self._h}

    def _draw_reward(self, mean: float) -> float:
        if not self._bernoulli:
            return mean
        lo, hi = self.mdp.reward_range
        if (lo, hi) == (0.0, 1.0):
            return float(self.np_random.random() < mean)
        return hi if self.np_random.random() < (mean - lo) / (hi - lo) else lo

    def __repr__(self) -> str:
        return f"TabularEnv({self.mdp!r})"
