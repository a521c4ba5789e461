"""Certainty-equivalent planning with epsilon-greedy exploration: the baseline every provably
efficient algorithm should beat (linear regret on deep-exploration instances such as RiverSwim).

Pseudocode::

    policy:   P_hat(. | s, a) = empirical transition frequencies   (uniform if (s, a) unvisited)
              R_hat = the known table, or the empirical mean reward (0 if unvisited)
              g = greedy policy of (P_hat, R_hat) by backward induction (first maximal action)
              deploy pi[h, s] = (1 - epsilon) * onehot(g[h, s]) + epsilon / A   (stochastic, (H, S, A))
    observe:  add the episode's transitions (and rewards) to the counts

Our choices, not from a paper: unvisited pairs are planned with a uniform successor and a zero
reward (no optimism -- exploration comes only from ``epsilon``); ``epsilon`` is constant.
"""

from __future__ import annotations

import numpy as np

from ..algorithms.ucbvi import check_nonnegative
from .protocol import Setting
from .psrl import backward_induction

__all__ = ["EpsilonGreedy"]


class EpsilonGreedy:
    """Certainty equivalence plus epsilon-uniform exploration.

    Parameters
    ----------
    epsilon : float
        Probability of a uniformly random action at every step, in ``[0, 1]``.
    """

    name = "epsilon-greedy"

    def __init__(self, *, epsilon: float = 0.1):
        self.epsilon = check_nonnegative("epsilon", epsilon)
        if self.epsilon > 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon!r}")

    def start(self, setting: Setting, seed: int) -> None:
        H, S, A = setting.H, setting.S, setting.A
        self.H, self.S, self.A = H, S, A
        self.known_R = setting.rewards
        self.counts_sas = np.zeros((setting.n_stored_stages, S, A, S))
        self.reward_sum = np.zeros((H, S, A))
        self.reward_n = np.zeros((H, S, A))
        self.hyper = {"epsilon": self.epsilon, "rewards": "known" if self.known_R is not None else "empirical"}

    def empirical_model(self) -> tuple[np.ndarray, np.ndarray]:
        """``P_hat`` shape (G, S, A, S) and ``R_hat`` shape (H, S, A)."""
        n = self.counts_sas.sum(axis=-1, keepdims=True)
        P_hat = np.where(n > 0, self.counts_sas / np.maximum(n, 1.0), 1.0 / self.S)
        if self.known_R is not None:
            return P_hat, self.known_R
        return P_hat, np.where(self.reward_n > 0, self.reward_sum / np.maximum(self.reward_n, 1.0), 0.0)

    def policy(self) -> np.ndarray:
        greedy, _ = backward_induction(*self.empirical_model())
        pi = np.full((self.H, self.S, self.A), self.epsilon / self.A)
        np.put_along_axis(pi, greedy[:, :, None], 1.0 - self.epsilon + self.epsilon / self.A, axis=2)
        return pi

    def observe(self, states, actions, rewards) -> None:
        pooled = self.counts_sas.shape[0] == 1
        for h in range(self.H):
            s, a = states[h], actions[h]
            self.counts_sas[0 if pooled else h, s, a, states[h + 1]] += 1
            self.reward_sum[h, s, a] += rewards[h]
            self.reward_n[h, s, a] += 1
