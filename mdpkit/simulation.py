"""Monte Carlo rollouts of a policy in a TabularMDP (numba; bit-identical for a given seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._validation import check_instance, check_optional_seed, check_output_size, check_positive_int
from .mdp import TabularMDP, validate_policy

#: Uniform draws per chunk of episodes; bounds memory whatever ``n_episodes`` is.
_UNIFORMS_PER_CHUNK = 1 << 21
_NO_TRANSITION_REWARDS = np.zeros((0, 0, 0, 0))


@dataclass(frozen=True)
class Trajectories:
    """Sampled episodes.

    Attributes
    ----------
    states : ndarray, shape (n, H + 1), int64
    actions : ndarray, shape (n, H), int64
    rewards : ndarray, shape (n, H)
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted return of each episode, shape (n,)."""
        return self.rewards.sum(axis=1)


def simulate(mdp: TabularMDP, policy, n_episodes: int, seed=None) -> Trajectories:
    """Roll out ``n_episodes`` episodes of ``policy`` in ``mdp``.

    Parameters
    ----------
    mdp : TabularMDP
        Rewards are the means, or, if ``mdp.reward_noise == "bernoulli"``, two-point draws on the
        ends of ``mdp.reward_range`` with those means (Bernoulli draws for ``[0, 1]``). With
        ``mdp.transition_rewards`` the reward paid is that of the *sampled* transition
        ``R(h, s, a, s')`` (so returns have the model's distribution, not only its mean).
    policy : array_like, shape (H, S) int or (H, S, A)
        Must take feasible actions only when ``mdp.feasible`` is set.
    n_episodes : int
        ``>= 1``; the output takes ``8 (3 H + 1)`` bytes per episode, and a request larger
        than the machine's memory is rejected up front.
    seed : non-negative int, numpy.random.SeedSequence or numpy.random.Generator, optional
        The same seed gives bit-identical trajectories. Each episode consumes ``1 + 3 H``
        uniforms (initial state; per stage: action, transition, reward) whatever the policy
        type, so deterministic and stochastic policies use the random stream alike.

    Returns
    -------
    Trajectories
    """
    check_instance("mdp", mdp, TabularMDP, "mdpkit.TabularMDP")
    n_episodes = check_positive_int("n_episodes", n_episodes)
    check_output_size("n_episodes", n_episodes, 8.0 * n_episodes * (3 * mdp.H + 1),
                      f"the states, actions and rewards of H = {mdp.H} stages")
    pol = validate_policy(policy, mdp.H, mdp.S, mdp.A, feasible=mdp.feasible)
    check_optional_seed(seed)  # names ``seed`` (numpy's own message for seed=-1 does not)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    H = mdp.H
    # A model built from CSR is sampled from its non-zeros (same draws as the dense kernels)
    csr = None if mdp.has_dense_transitions else mdp.sparse_transitions()
    P_cdf = _kernels.cumulative_rows(mdp.P_stages) if csr is None else _kernels.cumulative_csr_rows(csr.indptr, csr.data)
    mu0_cdf = _kernels.cumulative_rows(mdp.mu0)
    if pol.ndim == 2:
        det, pol_cdf = pol, np.zeros((0, 0, 0))
    else:
        det, pol_cdf = np.zeros((0, 0), dtype=np.int64), _kernels.cumulative_rows(pol)
    bernoulli = mdp.reward_noise == "bernoulli"
    # Models with the defaults (no transition rewards, range [0, 1]) keep the original kernel,
    # which the learners' harness shares; the general one gives the same draws there.
    general = mdp.transition_rewards is not None or mdp.reward_range != (0.0, 1.0)
    TR = mdp.transition_rewards if mdp.transition_rewards is not None else _NO_TRANSITION_REWARDS
    lo, hi = mdp.reward_range
    states = np.empty((n_episodes, H + 1), dtype=np.int64)
    actions = np.empty((n_episodes, H), dtype=np.int64)
    rewards = np.empty((n_episodes, H))
    draws = 1 + 3 * H
    chunk = max(1, _UNIFORMS_PER_CHUNK // draws)
    for start in range(0, n_episodes, chunk):
        stop = min(n_episodes, start + chunk)
        uniforms = rng.random((stop - start, draws))
        if csr is not None:
            _kernels.simulate_episodes_csr(csr.indptr, csr.indices, P_cdf, mdp.n_stored_stages, mu0_cdf, det,
                                           pol_cdf, mdp.R_view, bernoulli, lo, hi, uniforms, states[start:stop],
                                           actions[start:stop], rewards[start:stop])
        elif general:
            _kernels.simulate_episodes_general(P_cdf, mu0_cdf, det, pol_cdf, mdp.R, TR, bernoulli, lo, hi,
                                               uniforms, states[start:stop], actions[start:stop],
                                               rewards[start:stop])
        else:
            _kernels.simulate_episodes(P_cdf, mu0_cdf, det, pol_cdf, mdp.R, bernoulli, uniforms,
                                       states[start:stop], actions[start:stop], rewards[start:stop])
    return Trajectories(states, actions, rewards)
