"""Low-rank instances: random low-rank MDPs, block MDPs, a combination lock, random low-rank games.

Every generator makes the rewards linear in the true features, ``R_h(s, a) = <phi_h(s, a), theta_h>``
with ``theta_h`` in ``[0, 1]^d``, so each instance is also a linear MDP (Jin et al. 2020) and the
oracle-feature baseline :mod:`mdpkit.algorithms.lsvi_ucb` is well specified on it.

The same int or :class:`numpy.random.SeedSequence` always gives the same instance.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_model_size, check_positive_int, show
from ..lowrank import LowRankMarkovGame, LowRankMDP
from .tabular import _concentration, _rng, _seed_label

__all__ = ["random_lowrank_mdp", "generic_lowrank_mdp", "block_mdp", "combination_lock", "random_lowrank_game"]


def _check_emission(emission) -> str:
    if not isinstance(emission, str) or emission not in ("uniform", "dirichlet"):
        raise ValueError(f"emission must be 'uniform' or 'dirichlet', got {show(emission)}")
    return emission


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
    check_model_size({"S": S, "A": A, "H": H, "d": d}, 8.0 * H * S * A * (d + S + 1),
                     "the factors and the dense kernel")
    phi_c = _concentration("phi_concentration", phi_concentration, d)
    psi_c = _concentration("psi_concentration", psi_concentration, S)
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


def generic_lowrank_mdp(S: int, A: int, H: int, d: int, *, seed, phi_concentration: float = 1.0,
                        psi_concentration: float = 1.0) -> LowRankMDP:
    """A generic random low-rank MDP: Dirichlet factors, every state a possible start.

    :func:`random_lowrank_mdp` with a uniform initial-state distribution: ``phi_h(s, a) ~
    Dirichlet(phi_concentration 1_d)`` (every feature direction informative, not one direction plus
    the all-ones one as for ``d = 2``), ``psi_h[i] ~ Dirichlet(psi_concentration 1_S)``, rewards
    ``<phi, theta_h>``. The uniform start matters for representation learning: with a fixed start
    state, stage 0 has only ``A`` anchors, and ``A <= d`` anchors carry no evidence about a
    ``d``-dimensional span.

    Parameters
    ----------
    S, A, H, d : int
        States, actions, horizon, rank.
    seed : int, SeedSequence or Generator
        Required: an instance draw is named by its seed.
    phi_concentration, psi_concentration : float
        As in :func:`random_lowrank_mdp`.

    Returns
    -------
    LowRankMDP
        ``mu0`` uniform over the ``S`` states.
    """
    S = check_positive_int("S", S)
    base = random_lowrank_mdp(S, A, H, d, phi_concentration=phi_concentration,
                              psi_concentration=psi_concentration, mu0=np.full(S, 1.0 / S), seed=seed)
    return LowRankMDP(base.phi, base.psi, base.R, base.mu0,
                      name=f"generic_lowrank(S={S}, A={A}, H={H}, d={d}{_seed_label(seed)})")


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
    S = n_latent * obs_per_latent
    check_model_size({"n_latent": n_latent, "obs_per_latent": obs_per_latent, "A": A, "H": H},
                     8.0 * H * S * A * (n_latent + S + 1), "the factors and the dense kernel")
    conc = _concentration("latent_concentration", latent_concentration, n_latent)
    _check_emission(emission)
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


def combination_lock(H: int, A: int, obs_per_state: int, *, key=None, emission: str = "uniform",
                     seed=None) -> LowRankMDP:
    """A rank-2 block-MDP combination lock: one action per stage keeps you on the rewarding chain.

    Two latent states per stage, ``good`` (z = 0) and ``dead`` (z = 1), each emitting
    ``obs_per_state`` observations (observations ``0 .. obs_per_state - 1`` are the good block, the
    rest the dead block; ``S = 2 obs_per_state``). The episode starts uniformly in the good block.
    At stage ``h``, from a good observation, action ``key[h]`` keeps the latent state good; every
    other action, and every action from a dead observation, leads to dead (absorbing). The only
    reward is ``1`` for taking ``key[H-1]`` from a good observation at the last stage. So

    - ``phi_h(x, a) = e_good`` if ``x`` is good and ``a = key[h]``, else ``e_dead`` (one-hot, ``d = 2``);
      ``psi_h[z]`` = the emission distribution of block ``z``; ``R_h = <phi_h, theta_h>`` with
      ``theta_h = 0`` for ``h < H - 1`` and ``theta_{H-1} = (1, 0)`` (a linear MDP too);
    - ``V* = 1`` (play ``key[h]`` on every good observation), and a policy ``pi`` earns
      ``V^pi = prod_h sum_{x good} q_h(x) pi_h(key[h] | x)`` with ``q_0 = mu0`` and ``q_h =
      psi_{h-1}[good]`` for ``h >= 1``; the uniform policy earns ``A^(-H)``.

    The rewards are known to the agent in the Contrastive UCB setting, but the last stage's reward
    is reachable only through ``H - 1`` correct choices: a learner that never goes deep sees no
    useful signal (the lock of Misra et al. 2020, HOMER, reduced to a single chain).

    Parameters
    ----------
    H : int
        Horizon (number of locked stages), ``>= 1``.
    A : int
        Actions, ``>= 2`` (a lock needs a wrong action).
    obs_per_state : int
        Observations emitted by each latent state (``S = 2 obs_per_state``; use ``S >> d = 2``).
    key : array_like of int, shape (H,), optional
        The combination; default drawn uniformly from ``{0 .. A-1}^H`` with ``seed``.
    emission : {"uniform", "dirichlet"}
        Emission within a block: uniform, or Dirichlet(1) weights per stage and block (drawn with
        ``seed``).
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    LowRankMDP
        ``(H, S, A, d) = (H, 2 obs_per_state, A, 2)``, ``mu0`` uniform on the good block.
    """
    H = check_positive_int("H", H)
    A = check_positive_int("A", A)
    if A < 2:
        raise ValueError(f"A must be >= 2 (a lock needs a wrong action), got {A}")
    obs = check_positive_int("obs_per_state", obs_per_state)
    check_model_size({"H": H, "A": A, "obs_per_state": obs}, 8.0 * H * 2 * obs * A * (2 * obs + 3),
                     "the factors and the dense kernel")
    _check_emission(emission)
    rng = _rng(seed)
    if key is None:
        key = rng.integers(A, size=H)
    else:
        key = np.asarray(key)
        if key.shape != (H,):
            raise ValueError(f"key must have shape (H,) = ({H},), got {key.shape}")
        bad = ~np.isin(key, np.arange(A))  # also rejects non-integers
        if bad.any():
            h = int(np.argmax(bad))
            raise ValueError(f"key[{h}] = {key[h].item()!r} is not an action in [0, {A})")
        key = key.astype(np.int64)
    S = 2 * obs
    good = np.arange(S) < obs
    stays_good = good[None, :, None] & (np.arange(A)[None, None, :] == key[:, None, None])  # (H, S, A)
    phi = np.stack([stays_good, ~stays_good], axis=-1).astype(np.float64)
    psi = np.zeros((H, 2, S))
    for h in range(H):
        for z in range(2):
            psi[h, z, z * obs:(z + 1) * obs] = (np.full(obs, 1.0 / obs) if emission == "uniform"
                                                 else rng.dirichlet(np.ones(obs)))
    R = np.zeros((H, S, A))
    R[H - 1] = phi[H - 1, :, :, 0]  # theta_{H-1} = (1, 0)
    mu0 = np.where(good, 1.0 / obs, 0.0)
    name = (f"combination_lock(H={H}, A={A}, obs={obs}, key={''.join(map(str, key.tolist()))}"
            f"{'' if emission == 'uniform' else ', dirichlet'}{_seed_label(seed)})")
    return LowRankMDP(phi, psi, R, mu0, name=name)


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
    check_model_size({"S": S, "A": A, "B": B, "H": H, "d": d}, 8.0 * H * S * A * B * (d + S + 1),
                     "the factors and the dense kernel")
    phi_c = _concentration("phi_concentration", phi_concentration, d)
    psi_c = _concentration("psi_concentration", psi_concentration, S)
    rng = _rng(seed)
    phi = rng.dirichlet(np.full(d, phi_c), size=(H, S, A, B))
    psi = _right_factor(rng, H, d, S, psi_c, None)
    theta = rng.random((H, d))
    R = np.einsum("hsabi,hi->hsab", phi, theta)
    return LowRankMarkovGame(phi, psi, np.clip(R, 0.0, 1.0), mu0,  # clip: convex-combination round-off only
                             name=f"random_lowrank_game(S={S}, A={A}, B={B}, H={H}, d={d}{_seed_label(seed)})")
