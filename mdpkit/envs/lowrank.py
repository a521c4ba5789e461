"""Low-rank instances: random low-rank MDPs, block MDPs and random low-rank Markov games.

Every generator makes the rewards linear in the true features, ``R_h(s, a) = <phi_h(s, a), theta_h>``
with ``theta_h`` in ``[0, 1]^d``, so each instance is also a linear MDP (Jin et al. 2020) and the
oracle-feature baseline :mod:`mdpkit.algorithms.lsvi_ucb` is well specified on it.

The same int or :class:`numpy.random.SeedSequence` always gives the same instance.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from ..lowrank import LowRankMarkovGame, LowRankMDP
from .tabular import _rng, _seed_label

__all__ = ["random_lowrank_mdp", "block_mdp", "random_lowrank_game"]


def _positive(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _right_factor(rng: np.random.Generator, H: int, d: int, S: int, concentration: float,
                  support: int | None) -> np.ndarray:
    """``psi`` (H, d, S): every row a distribution over next states, optionally on ``support`` states."""
    psi = np.zeros((H, d, S))
    for h in range(H):
        for i in range(d):
            states = np.arange(S) if support is None else np.sort(rng.choice(S, size=support, replace=False))
            psi[h, i, states] = rng.dirichlet(np.full(states.size, concentration))
    return psi


def random_lowrank_mdp(S: int, A: int, H: int, d: int, *, phi_concentration: float = 1.0,
                       psi_concentration: float = 1.0, psi_support: int | None = None, mu0=0,
                       seed=None) -> LowRankMDP:
    """A random low-rank MDP: Dirichlet features on the simplex, Dirichlet next-state factors.

    ``phi_h(s, a) ~ Dirichlet(phi_concentration * 1_d)`` and each row ``psi_h[i]`` a distribution
    over ``S`` states, so ``P_h(.|s, a) = sum_i phi_i psi_h[i]`` is a mixture of ``d`` "prototype"
    next-state distributions: rank ``d`` however large ``S`` is (use ``S >> d``, e.g.
    ``S=200, A=4, d=4``). Rewards ``<phi, theta_h>`` with ``theta_h ~ U[0, 1]^d``.

    Parameters
    ----------
    S, A, H, d : int
        States, actions, horizon, rank (each ``>= 1``).
    phi_concentration : float
        Dirichlet parameter of the features: small values make ``phi`` nearly one-hot (actions
        that commit to one prototype), large values make all pairs alike.
    psi_concentration : float
        Dirichlet parameter of each prototype distribution.
    psi_support : int, optional
        If given, each prototype lives on ``psi_support`` random states (sparser kernels).
    mu0 : int or array_like, shape (S,)
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    LowRankMDP
        Stage-dependent factors.
    """
    S, A, H, d = (check_positive_int(n, v) for n, v in (("S", S), ("A", A), ("H", H), ("d", d)))
    phi_c = _positive("phi_concentration", phi_concentration)
    psi_c = _positive("psi_concentration", psi_concentration)
    if psi_support is not None:
        psi_support = check_positive_int("psi_support", psi_support)
        if psi_support > S:
            raise ValueError(f"psi_support must be <= S = {S}, got {psi_support}")
    rng = _rng(seed)
    phi = rng.dirichlet(np.full(d, phi_c), size=(H, S, A))
    psi = _right_factor(rng, H, d, S, psi_c, psi_support)
    theta = rng.random((H, d))
    R = np.einsum("hsai,hi->hsa", phi, theta)
    return LowRankMDP(phi, psi, np.clip(R, 0.0, 1.0), mu0,  # clip: convex-combination round-off only
                      name=f"random_lowrank(S={S}, A={A}, H={H}, d={d}{_seed_label(seed)})")


def block_mdp(n_latent: int, obs_per_latent: int, A: int, H: int, *, latent_concentration: float = 0.5,
              emission: str = "uniform", mu0=0, seed=None) -> LowRankMDP:
    """A block MDP: latent states emit disjoint blocks of observations; the agent sees observations.

    ``d = n_latent`` latent states, each owning ``obs_per_latent`` observations (``S = n_latent *
    obs_per_latent``). From observation ``x`` in latent block ``z(x)``, action ``a`` moves the latent
    state by ``T_h(z'|z(x), a)`` (Dirichlet rows) and emits ``x' ~ q(.|z')``. So
    ``phi_h(x, a) = T_h(.|z(x), a)`` (one-hot rows are not needed: any latent kernel works) and
    ``psi_h[z'] = q(.|z')``: rank ``n_latent``, while tabular methods see ``S`` states.

    Parameters
    ----------
    n_latent, obs_per_latent, A, H : int
    latent_concentration : float
        Dirichlet parameter of the latent transition rows (small = nearly deterministic).
    emission : {"uniform", "dirichlet"}
        Emission distribution within a block: uniform, or Dirichlet(1) weights.
    mu0 : int or array_like, shape (S,)
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    LowRankMDP
        Rewards ``R_h(x, a) = sum_z' T_h(z'|z(x), a) theta_h[z']``: reward for reaching a latent state.
    """
    n_latent = check_positive_int("n_latent", n_latent)
    obs_per_latent = check_positive_int("obs_per_latent", obs_per_latent)
    A, H = check_positive_int("A", A), check_positive_int("H", H)
    conc = _positive("latent_concentration", latent_concentration)
    if emission not in ("uniform", "dirichlet"):
        raise ValueError(f"emission must be 'uniform' or 'dirichlet', got {emission!r}")
    rng = _rng(seed)
    S = n_latent * obs_per_latent
    block_of = np.repeat(np.arange(n_latent), obs_per_latent)  # latent state of each observation
    T = rng.dirichlet(np.full(n_latent, conc), size=(H, n_latent, A))  # (H, Z, A, Z)
    phi = np.ascontiguousarray(T[:, block_of])  # (H, S, A, Z)
    psi = np.zeros((H, n_latent, S))
    for h in range(H):
        for z in range(n_latent):
            block = slice(z * obs_per_latent, (z + 1) * obs_per_latent)
            psi[h, z, block] = (np.full(obs_per_latent, 1.0 / obs_per_latent) if emission == "uniform"
                                else rng.dirichlet(np.ones(obs_per_latent)))
    theta = rng.random((H, n_latent))
    R = np.einsum("hsai,hi->hsa", phi, theta)
    return LowRankMDP(phi, psi, np.clip(R, 0.0, 1.0), mu0,  # clip: convex-combination round-off only
                      name=f"block_mdp(Z={n_latent}, obs={obs_per_latent}, A={A}, H={H}{_seed_label(seed)})")


def random_lowrank_game(S: int, A: int, B: int, H: int, d: int, *, phi_concentration: float = 1.0,
                        psi_concentration: float = 1.0, mu0=0, seed=None) -> LowRankMarkovGame:
    """A random low-rank zero-sum Markov game, built as :func:`random_lowrank_mdp` on pairs ``(a, b)``.

    Parameters
    ----------
    S, A, B, H, d : int
        States, max-player actions, min-player actions, horizon, rank.
    phi_concentration, psi_concentration : float
        As in :func:`random_lowrank_mdp`.
    mu0 : int or array_like, shape (S,)
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    LowRankMarkovGame
        Max player's rewards ``<phi_h(s, a, b), theta_h>``, ``theta_h ~ U[0, 1]^d``.
    """
    S, A, B, H, d = (check_positive_int(n, v) for n, v in (("S", S), ("A", A), ("B", B), ("H", H), ("d", d)))
    phi_c = _positive("phi_concentration", phi_concentration)
    psi_c = _positive("psi_concentration", psi_concentration)
    rng = _rng(seed)
    phi = rng.dirichlet(np.full(d, phi_c), size=(H, S, A, B))
    psi = _right_factor(rng, H, d, S, psi_c, None)
    theta = rng.random((H, d))
    R = np.einsum("hsabi,hi->hsab", phi, theta)
    return LowRankMarkovGame(phi, psi, np.clip(R, 0.0, 1.0), mu0,  # clip: convex-combination round-off only
                             name=f"random_lowrank_game(S={S}, A={A}, B={B}, H={H}, d={d}{_seed_label(seed)})")
