"""UCBVI as a plain-Python learner on the protocol: the same algorithm as
:mod:`mdpkit.algorithms.ucbvi` (UCBVI-BF by default), written for reading.

Azar, Osband & Munos (2017), arXiv:1703.05449. Provenance as in :mod:`mdpkit.algorithms.ucbvi`:
the bonus constants and ``L`` are recalled from the paper, not verified against its text.

Pseudocode (rewards known, transitions learned; ``L = ln(5 S A T / delta)``, ``T = K H``)::

    start:   counts = 0, Q_prev[h] = H - h
    policy:  for h = H-1 .. 0:
                 Q[h, s, a] = H - h                                                  if N(s, a) = 0
                            = min(H - h, R + P_hat . V[h+1] + bonus_scale * b)         otherwise
                 Q[h] = min(Q[h], Q_prev[h])                  # values only tighten (optimistic_init)
                 V[h, s] = max_a Q[h, s, a];  pi[h, s] = first argmax
    observe: add the H transitions to the counts (pooled over stages if setting.stationary)

    UCBVI-CH:  b = 7 H L / sqrt(N)
    UCBVI-BF:  b = sqrt(8 L Var_{P_hat}(V[h+1]) / N) + 14 H L / (3 N)
                   + sqrt(8 sum_y P_hat(y) min(1e4 H^3 S^2 A L^2 / N'_{h+1}(y), H^2) / N)

Reconstructed (as in the native version): ``Q`` capped at ``H - h`` rather than ``H``; for
stage-dependent transitions, per-stage counts and ``L = ln(5 S A H T / delta)``.

Relation to the numba UCBVI: same defaults, same counts, same clipping and tie-breaking (first
maximal action), and the same floats wherever ``Q`` is clipped at ``H - h`` or ``Q_prev`` (most
entries with theoretical constants). A computed backup differs from the numba kernel's only by
summation order (numpy's dot products and ``Var = E[V^2] - E[V]^2`` evaluated in another order):
``|Q - Q_numba| <= 1e-12 (1 + |Q|)``, tested. The deployed policies are therefore identical
unless two actions' optimistic values come within that rounding of each other; run through the
harness (which draws transitions from the native loop's stream) the per-episode exact values are
then bit-identical to :func:`mdpkit.algorithms.ucbvi.run`'s (``tests/test_learners.py``).
"""

from __future__ import annotations

import math

import numpy as np

from ..algorithms.ucbvi import check_bonus, check_bool, check_nonnegative, check_open_unit
from .protocol import Setting

__all__ = ["UCBVI", "log_term"]


def log_term(setting: Setting, delta: float) -> float:
    """``L = ln(5 S A T / delta)``, ``T = K H``; ``S A H`` triples when counts are per stage.

    The same expression, evaluated in the same order, as :func:`mdpkit.algorithms.ucbvi.log_term`.
    """
    T = setting.K * setting.H
    n_triples = setting.S * setting.A * (1 if setting.stationary else setting.H)
    return math.log(5.0 * n_triples * T / delta)


def set_hyper(learner, bonus, delta, bonus_scale, optimistic_init) -> None:
    """Validate UCBVI's hyper-parameters and set them on ``learner`` (shared with the numba adapter)."""
    learner.bonus = check_bonus(bonus)
    learner.delta = check_open_unit("delta", delta)
    learner.bonus_scale = check_nonnegative("bonus_scale", bonus_scale)
    learner.optimistic_init = check_bool("optimistic_init", optimistic_init)


class UCBVI:
    """UCBVI-BF / UCBVI-CH with known rewards (plain numpy).

    Parameters
    ----------
    bonus : {"bernstein", "hoeffding"}
    delta : float
        Confidence level in ``(0, 1)``.
    bonus_scale : float
        Multiplier on the theoretical bonus (``1`` = theory).
    optimistic_init : bool
        As in :func:`mdpkit.algorithms.ucbvi.run`.

    Attributes (after ``start``)
    ----------------------------
    counts_sas : ndarray, shape (G, S, A, S)
        ``G = 1`` (stationary: pooled) or ``H``.
    counts_sa : ndarray, shape (G, S, A)
    visits : ndarray, shape (H + 1, S)
        ``N'_h(y)``: visits of state ``y`` at step ``h``.
    Q : ndarray, shape (H, S, A)
        Optimistic Q of the last planned episode.
    V : ndarray, shape (H + 1, S)
    """

    name = "ucbvi (python)"

    def __init__(self, *, bonus: str = "bernstein", delta: float = 0.05, bonus_scale: float = 1.0,
                 optimistic_init: bool = True):
        set_hyper(self, bonus, delta, bonus_scale, optimistic_init)

    def start(self, setting: Setting, seed: int) -> None:
        self.R = setting.require_known_rewards("UCBVI")
        self.H, self.S, self.A = setting.H, setting.S, setting.A
        self.L = log_term(setting, self.delta)
        G = setting.n_stored_stages
        self.counts_sas = np.zeros((G, self.S, self.A, self.S))
        self.counts_sa = np.zeros((G, self.S, self.A))
        self.visits = np.zeros((self.H + 1, self.S))
        self.Q = np.broadcast_to(self._caps()[:, None, None], (self.H, self.S, self.A)).copy()
        self.V = np.zeros((self.H + 1, self.S))
        self.hyper = {"bonus": self.bonus, "delta": self.delta, "bonus_scale": self.bonus_scale,
                      "optimistic_init": self.optimistic_init, "log_term": self.L,
                      "counts": "pooled" if setting.stationary else "per-stage"}

    def _caps(self) -> np.ndarray:
        """``H - h`` for ``h = 0..H-1``: the largest possible value-to-go."""
        return self.H - np.arange(self.H, dtype=np.float64)

    def _bonus(self, n, P_hat, V_next, h) -> np.ndarray:
        """``b(s, a)`` for every visited pair at stage ``h`` (``n > 0`` there), shape (S, A)."""
        H, L = float(self.H), self.L
        if self.bonus == "hoeffding":
            return 7.0 * H * L / np.sqrt(n)
        mean = P_hat @ V_next
        variance = np.maximum(P_hat @ (V_next * V_next) - mean * mean, 0.0)  # rounding only: Var >= 0
        c_visit = 1e4 * H ** 3 * self.S * self.S * self.A * L * L
        n_next = self.visits[h + 1]
        rare = n_next * (H * H) > c_visit  # c_visit / N' < H^2 only for states visited very often
        w = np.where(rare, c_visit / np.where(rare, n_next, 1.0), H * H)
        return (np.sqrt(8.0 * L * variance / n) + 14.0 * H * L / (3.0 * n)
                + np.sqrt(8.0 * (P_hat @ w) / n))

    def policy(self) -> np.ndarray:
        H, S, A = self.H, self.S, self.A
        caps = self._caps()
        policy = np.zeros((H, S), dtype=np.int64)
        self.V[H] = 0.0
        for h in range(H - 1, -1, -1):
            g = h if self.counts_sas.shape[0] > 1 else 0
            n = self.counts_sa[g]
            visited = n > 0
            n_safe = np.where(visited, n, 1.0)
            P_hat = self.counts_sas[g] / n_safe[:, :, None]
            backup = self.R[h] + P_hat @ self.V[h + 1] + self.bonus_scale * self._bonus(n_safe, P_hat, self.V[h + 1], h)
            unvisited_value = caps[h] if self.optimistic_init else self.R[h]
            q = np.where(visited, np.minimum(backup, caps[h]), unvisited_value)
            if self.optimistic_init:
                q = np.minimum(q, self.Q[h])
            self.Q[h] = q
            self.V[h] = q.max(axis=1)
            policy[h] = q.argmax(axis=1)  # first maximal action, as the numba planner
        return policy

    def observe(self, states, actions, rewards) -> None:
        pooled = self.counts_sas.shape[0] == 1
        self.visits[0, states[0]] += 1
        for h in range(self.H):
            g = 0 if pooled else h
            s, a, s_next = states[h], actions[h], states[h + 1]
            self.counts_sas[g, s, a, s_next] += 1
            self.counts_sa[g, s, a] += 1
            self.visits[h + 1, s_next] += 1
