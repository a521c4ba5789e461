"""Q-learning with UCB-Hoeffding exploration (Jin, Allen-Zhu, Bubeck & Jordan, 2018,
"Is Q-learning Provably Efficient?", NeurIPS, arXiv:1807.03765).

Model-free: no transition counts beyond ``N_h(s, a)``, rewards observed (never the table).

Pseudocode (``iota = ln(S A T / delta)``, ``T = K H``; ``t`` = visits of ``(h, s, a)`` so far)::

    start:    Q_h(s, a) = H,  V_h(s) = H  (h < H),  V_H = 0,  N = 0
    policy:   pi[h, s] = argmax_a Q_h(s, a)           (first maximal action)
    observe:  for h = 0 .. H-1 with (s, a, r, s') of the episode:
                  t = N_h(s, a) += 1
                  alpha_t = (H + 1) / (H + t)
                  b_t = c sqrt(H^3 iota / t)
                  Q_h(s, a) = (1 - alpha_t) Q_h(s, a) + alpha_t (r + V_{h+1}(s') + b_t)
                  V_h(s) = min(H, max_a Q_h(s, a))

Jin et al. update ``Q`` online during the episode; within one episode step ``h`` is visited once
and ``Q_h`` is read only at step ``h``, so choosing every action of the episode from the ``Q`` at
its start (``policy()``) acts exactly as the online algorithm.

Constants: the learning rate and the bonus form are the paper's; its theorem holds "for some
absolute constant ``c``" without a value, so ``c = 1`` here is our default (``bonus_scale``
in ``hyper``). Transitions are stage-dependent in Jin et al.: counts are always per stage (a
stationary setting is not pooled).
"""

from __future__ import annotations

import math

import numpy as np

from ..algorithms.ucbvi import check_nonnegative, check_open_unit
from .protocol import Setting

__all__ = ["QLearningUCB"]


class QLearningUCB:
    """Q-learning with the Hoeffding bonus of Jin et al. (2018).

    Parameters
    ----------
    c : float
        Bonus constant (``>= 0``; ``0`` removes the bonus and leaves only the optimistic start).
    delta : float
        Failure probability in ``(0, 1)`` inside ``iota``.

    Attributes (after ``start``)
    ----------------------------
    Q : ndarray, shape (H, S, A)
    V : ndarray, shape (H + 1, S)
    N : ndarray, shape (H, S, A)
    """

    name = "q-learning ucb-h"

    def __init__(self, *, c: float = 1.0, delta: float = 0.05):
        self.c = check_nonnegative("c", c)
        self.delta = check_open_unit("delta", delta)

    def start(self, setting: Setting, seed: int) -> None:
        if tuple(setting.reward_range) != (0.0, 1.0):
            raise ValueError(f"QLearningUCB assumes rewards in [0, 1], got reward_range {setting.reward_range}")
        H, S, A = setting.H, setting.S, setting.A
        self.H = H
        self.iota = math.log(S * A * setting.K * H / self.delta)
        self.Q = np.full((H, S, A), float(H))
        self.V = np.full((H + 1, S), float(H))
        self.V[H] = 0.0
        self.N = np.zeros((H, S, A), dtype=np.int64)
        self.hyper = {"c": self.c, "delta": self.delta, "iota": self.iota}

    def policy(self) -> np.ndarray:
        return self.Q.argmax(axis=2)

    def observe(self, states, actions, rewards) -> None:
        H = self.H
        for h in range(H):
            s, a, r, s_next = states[h], actions[h], rewards[h], states[h + 1]
            self.N[h, s, a] += 1
            t = self.N[h, s, a]
            alpha = (H + 1) / (H + t)
            bonus = self.c * math.sqrt(H ** 3 * self.iota / t)
            self.Q[h, s, a] = (1.0 - alpha) * self.Q[h, s, a] + alpha * (r + self.V[h + 1, s_next] + bonus)
            self.V[h, s] = min(float(H), self.Q[h, s].max())
