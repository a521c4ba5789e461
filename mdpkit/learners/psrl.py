"""Posterior sampling for reinforcement learning (PSRL; Osband, Russo & Van Roy, 2013,
"(More) Efficient Reinforcement Learning via Posterior Sampling", NeurIPS, arXiv:1306.0940).

Pseudocode::

    start:    Dirichlet(prior, ..., prior) on every transition row P(. | s, a)  (per stage unless stationary)
              rewards: the known table, or Beta(1, 1) on every mean R_h(s, a)
    policy:   sample P~ ~ posterior, R~ ~ posterior (or R~ = R if known)
              pi = greedy policy of (P~, R~) by backward induction (first maximal action)
    observe:  Dirichlet counts += the episode's transitions
              Beta:  alpha_h(s, a) += r,  beta_h(s, a) += 1 - r   for each step's (s, a, r)

Reward posterior: Beta-Bernoulli -- exact for Bernoulli rewards (``reward_noise="bernoulli"``),
and for other rewards in [0, 1] the fractional update above (the "Bernoulli trick" of Agrawal &
Goyal: it is the conjugate update of a Bernoulli(r) draw in expectation). Which one was used is
in ``hyper["rewards"]``.

Randomness: one ``numpy.random.Generator`` seeded by the harness; Dirichlet rows are drawn as
normalised Gamma variates, all rows of an episode in one call.
"""

from __future__ import annotations

import numpy as np

from ..algorithms.ucbvi import check_nonnegative
from .protocol import Setting

__all__ = ["PSRL", "backward_induction"]


def backward_induction(P_stages: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy policy and values of a sampled model (plain numpy).

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
        ``G = 1`` (stationary) or ``H``.
    R : ndarray, shape (H, S, A)

    Returns
    -------
    policy : ndarray, shape (H, S), int64
        First maximal action.
    V : ndarray, shape (H + 1, S)
    """
    H, S, A = R.shape
    V = np.zeros((H + 1, S))
    policy = np.zeros((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        Q = R[h] + P_stages[h if P_stages.shape[0] > 1 else 0] @ V[h + 1]
        policy[h] = Q.argmax(axis=1)
        V[h] = Q.max(axis=1)
    return policy, V


class PSRL:
    """PSRL with a Dirichlet posterior on transitions and a known or Beta-posterior reward.

    Parameters
    ----------
    prior : float
        Dirichlet concentration of every transition row's prior (``> 0``; ``1`` = uniform on the
        simplex).
    """

    name = "psrl"

    def __init__(self, *, prior: float = 1.0):
        self.prior = check_nonnegative("prior", prior)
        if self.prior == 0.0:
            raise ValueError("prior must be > 0 (a Dirichlet needs positive concentrations), got 0.0")

    def start(self, setting: Setting, seed: int) -> None:
        if tuple(setting.reward_range) != (0.0, 1.0):
            raise ValueError(f"PSRL's Beta reward posterior assumes rewards in [0, 1], got {setting.reward_range}")
        H, S, A = setting.H, setting.S, setting.A
        self.H = H
        self.rng = np.random.default_rng(seed)
        self.transition_counts = np.zeros((setting.n_stored_stages, S, A, S))
        self.known_R = setting.rewards
        self.beta_a = np.ones((H, S, A))
        self.beta_b = np.ones((H, S, A))
        self.hyper = {"prior": self.prior,
                      "rewards": "known" if self.known_R is not None else "beta posterior (Bernoulli trick)",
                      "counts": "pooled" if setting.stationary else "per-stage"}

    def sample_model(self) -> tuple[np.ndarray, np.ndarray]:
        """One posterior draw: transitions shape (G, S, A, S), rewards shape (H, S, A)."""
        gammas = self.rng.standard_gamma(self.transition_counts + self.prior)
        P = gammas / gammas.sum(axis=-1, keepdims=True)
        R = self.known_R if self.known_R is not None else self.rng.beta(self.beta_a, self.beta_b)
        return P, R

    def policy(self) -> np.ndarray:
        P, R = self.sample_model()
        policy, _ = backward_induction(P, R)
        return policy

    def observe(self, states, actions, rewards) -> None:
        pooled = self.transition_counts.shape[0] == 1
        for h in range(self.H):
            s, a = states[h], actions[h]
            self.transition_counts[0 if pooled else h, s, a, states[h + 1]] += 1
            self.beta_a[h, s, a] += rewards[h]
            self.beta_b[h, s, a] += 1.0 - rewards[h]
