"""Linear mixture instances: hard instances from the reward-free literature and a random generator.

=================================  ===========================================================
:func:`three_state_hard`           Omega(d^2 eps^-2) instance (Zhang, Zhang & Gu 2023, Thm 2.6.8
                                   of W. Zhang's thesis; after Zhou & Gu 2022); known optimal action
:func:`ucrl_rfe_hard`              UCRL-RFE lower-bound instance (Zhang, Zhou & Gu 2021, Thm 6.1)
:func:`long_horizon_two_state`     two-state chain revisited ~H times per episode: separates
                                   horizon-free from horizon-dependent methods
:func:`random_linear_mixture`      mixture of d random kernels; valid transitions by construction
=================================  ===========================================================

The three structured instances share a "sign bandit": actions are the ``2^(d-1)`` sign vectors
``a in {-1, +1}^(d-1)``, the informative transition probability is ``delta0 + <mu, a>``, and the
optimal action is ``sign(mu)``. Their features follow the two-block pattern
``phi = (c1 * base probability, +-c2 * a)``, ``theta* = (1/c1, mu/c2)``, with
``c1^2 = 1/(1 + (d-1) Delta)`` and ``c2^2 = Delta/(1 + (d-1) Delta)`` so that
``||psi_V|| <= 1`` for every ``V : S -> [0, 1]`` and ``||theta*|| = 1 + (d-1) Delta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_model_size, check_positive_int, check_real
from .tabular import _concentration, _rng
from ..linear import LinearMixtureMDP

#: Largest ``d`` for which the ``2^(d-1)`` sign actions are enumerated.
MAX_SIGN_DIM = 13


@dataclass(frozen=True)
class SignInstance:
    """A sign-bandit linear mixture instance and what is known about it in closed form.

    Attributes
    ----------
    lmdp : LinearMixtureMDP
        The model; its rewards ``R`` are the instance's hard reward (``sum_h r_h <= 1``).
    actions : ndarray, shape (A, d - 1)
        Action ``j`` is the sign vector ``actions[j]``.
    mu : ndarray, shape (d - 1,)
        The perturbation; ``P`` depends on the action only through ``<mu, a>``.
    optimal_action : int
        Index of ``sign(mu)``: optimal at the informative state for the hard reward.
    """

    lmdp: LinearMixtureMDP
    actions: np.ndarray
    mu: np.ndarray
    optimal_action: int


def sign_actions(d: int) -> np.ndarray:
    """All ``2^(d-1)`` sign vectors, shape (2^(d-1), d-1); action ``j`` has bit ``i`` of ``j`` -> ``+1``."""
    d = check_positive_int("d", d, minimum=2)
    if d > MAX_SIGN_DIM:
        raise ValueError(f"d = {d} would need 2^{d - 1} actions; sign instances enumerate them only "
                         f"for d <= {MAX_SIGN_DIM}")
    bits = (np.arange(2 ** (d - 1))[:, None] >> np.arange(d - 1)[None, :]) & 1
    return (2.0 * bits - 1.0)


def _signs(d: int, signs, seed) -> np.ndarray:
    if signs is None:
        rng = _rng(seed)
        return rng.choice(np.array([-1.0, 1.0]), size=d - 1)
    signs = as_float_array("signs", signs)
    if signs.shape != (d - 1,):
        raise ValueError(f"signs must have shape (d - 1,) = ({d - 1},), got {signs.shape}")
    bad = np.flatnonzero(np.abs(signs) != 1.0)
    if bad.size:
        raise ValueError(f"signs[{bad[0]}] = {float(signs[bad[0]])!r} is not -1 or +1")
    return signs


def _block_scales(d: int, Delta: float) -> tuple[float, float]:
    norm = 1.0 + (d - 1) * Delta
    return 1.0 / np.sqrt(norm), np.sqrt(Delta / norm)


def _action_index(actions: np.ndarray, sign_vector: np.ndarray) -> int:
    return int(np.flatnonzero(np.all(actions == sign_vector[None, :], axis=1))[0])


def _check_perturbation(name: str, d: int, Delta: float, delta0: float) -> float:
    Delta = check_real(name, Delta)  # type and finiteness first; the range keeps its message
    if Delta <= 0:
        raise ValueError(f"{name} = {Delta!r} must be a positive finite number")
    if (d - 1) * Delta > min(delta0, 1 - delta0):
        raise ValueError(f"{name} = {Delta!r} gives invalid probabilities: need (d - 1) * {name} = "
                         f"{(d - 1) * Delta!r} <= min(delta0, 1 - delta0) = {min(delta0, 1 - delta0)!r}")
    return Delta


def three_state_hard(d: int, H: int, Delta: float, *, signs=None, seed=None, delta0: float = 1 / 6) -> SignInstance:
    """The three-state Omega(d^2 eps^-2) lower-bound instance.

    States ``x1 = 0`` (start), ``x2 = 1``, ``x3 = 2`` (both absorbing); actions ``a in {-1,+1}^(d-1)``;
    ``P(x3 | x1, a) = delta0 + <mu, a>``, ``P(x2 | x1, a) = 1 - delta0 - <mu, a>``, ``mu = Delta * signs``.
    Hard reward ``r_h(x3, .) = 1/H`` (every trajectory collects at most 1).

    Parameters
    ----------
    d : int
        Feature dimension, ``2 <= d <= MAX_SIGN_DIM`` (``A = 2^(d-1)``).
    H : int
        Horizon, ``>= 2``.
    Delta : float
        Perturbation size; valid when ``(d - 1) Delta <= delta0``. The thesis ties it to the
        budget, ``Delta = sqrt(delta0 / K) / (4 sqrt 2)``, i.e. ``Delta^2 = 1 / (192 K)`` for
        ``delta0 = 1/6``.
    signs : array_like, shape (d - 1,), optional
        Signs of ``mu``; drawn uniformly from ``seed`` if omitted.
    seed : int or SeedSequence, optional
    delta0 : float
        Base probability of reaching ``x3`` (the thesis uses 1/6).

    Returns
    -------
    SignInstance
        ``optimal_action`` is ``sign(mu)``; an action differing from it in ``n`` coordinates
        loses ``2 Delta n (H - 1)/H`` of value under the hard reward (Reconstructed: derived here
        from the transition probabilities; the thesis does not state it).

    Notes
    -----
    Features: ``phi(x2 | x1, a) = (c1 (1 - delta0), -c2 a)``, ``phi(x3 | x1, a) = (c1 delta0, c2 a)``,
    ``phi(s | s, a) = (c1, 0)`` for ``s in {x2, x3}``. Reconstructed: the scales ``c1, c2`` (the
    thesis leaves them as symbols) are chosen so that ``||psi_V|| <= 1`` exactly; see the module doc.
    """
    d = check_positive_int("d", d, minimum=2)
    H = check_positive_int("H", H, minimum=2)
    delta0 = check_real("delta0", delta0, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    Delta = _check_perturbation("Delta", d, Delta, delta0)
    actions = sign_actions(d)
    mu = Delta * _signs(d, signs, seed)
    c1, c2 = _block_scales(d, Delta)
    A = actions.shape[0]
    phi = np.zeros((3, A, 3, d))
    phi[0, :, 1, 0] = c1 * (1 - delta0)
    phi[0, :, 1, 1:] = -c2 * actions
    phi[0, :, 2, 0] = c1 * delta0
    phi[0, :, 2, 1:] = c2 * actions
    phi[1, :, 1, 0] = c1
    phi[2, :, 2, 0] = c1
    theta = np.concatenate([[1.0 / c1], mu / c2])
    R = np.zeros((H, 3, A))
    R[:, 2, :] = 1.0 / H
    lmdp = LinearMixtureMDP(phi, theta, H=H, mu0=0, R=R, B=1.0 + (d - 1) * Delta,
                            name=f"three_state_hard(d={d}, H={H}, Delta={Delta:.3g})")
    return SignInstance(lmdp, actions, mu, _action_index(actions, np.sign(mu)))


def ucrl_rfe_hard(d: int, H: int, *, alpha: float = 0.5, signs=None, seed=None) -> SignInstance:
    """UCRL-RFE lower-bound instance (per-step rewards; Zhang, Zhou & Gu 2021, Thm 6.1).

    States ``S1 = 0`` (start), ``S21 = 1``, ``S22 = 2`` (absorbing); actions ``a in {-1,+1}^(d-1)``;
    ``phi(S21 | S1, a) = (sqrt2/4, a/sqrt(2d))``, ``phi(S22 | S1, a) = (sqrt2/4, -a/sqrt(2d))``,
    ``phi(S2x | S2x, .) = (1/sqrt2, 0)``, ``theta* = (sqrt2, alpha * signs / sqrt d)``, so
    ``P(S21 | S1, a) = 1/2 + alpha <signs, a> / (sqrt2 d)``.

    Parameters
    ----------
    d : int
        ``2 <= d <= MAX_SIGN_DIM`` (the theorem needs ``d >= 50``, far beyond enumerable action
        sets: small ``d`` shows the structure, not the constant).
    H : int
    alpha : float
        Perturbation constant, ``0 < alpha <= d / ((d - 1) sqrt 2)`` for valid probabilities.
    signs, seed
        As in :func:`three_state_hard` (the thesis's ``theta~``).

    Returns
    -------
    SignInstance
        Reward ``r_h(S21, .) = 1/H``. Reconstructed: the thesis states the instance for per-step
        rewards in [0, 1] without fixing which; ``1/H`` at ``S21`` is its normalised version.
    """
    d = check_positive_int("d", d, minimum=2)
    H = check_positive_int("H", H, minimum=2)
    alpha = check_real("alpha", alpha)
    limit = d / ((d - 1) * np.sqrt(2.0))
    if not (0 < alpha <= limit):
        raise ValueError(f"alpha = {alpha!r} must be in (0, d / ((d - 1) sqrt 2)] = (0, {limit!r}] "
                         "for valid probabilities")
    actions = sign_actions(d)
    tilde = _signs(d, signs, seed)
    A = actions.shape[0]
    phi = np.zeros((3, A, 3, d))
    phi[0, :, 1, 0] = np.sqrt(2.0) / 4
    phi[0, :, 1, 1:] = actions / np.sqrt(2.0 * d)
    phi[0, :, 2, 0] = np.sqrt(2.0) / 4
    phi[0, :, 2, 1:] = -actions / np.sqrt(2.0 * d)
    phi[1, :, 1, 0] = 1 / np.sqrt(2.0)
    phi[2, :, 2, 0] = 1 / np.sqrt(2.0)
    theta = np.concatenate([[np.sqrt(2.0)], alpha * tilde / np.sqrt(d)])
    R = np.zeros((H, 3, A))
    R[:, 1, :] = 1.0 / H
    mu = alpha * tilde / (np.sqrt(2.0) * d)
    lmdp = LinearMixtureMDP(phi, theta, H=H, mu0=0, R=R, B=float(np.sqrt(2.0 + alpha ** 2)),
                            name=f"ucrl_rfe_hard(d={d}, H={H}, alpha={alpha:.3g})")
    return SignInstance(lmdp, actions, mu, _action_index(actions, np.sign(mu)))


def long_horizon_two_state(d: int, H: int, *, rel_gap: float = 0.5, signs=None, seed=None,
                           delta0: float | None = None) -> SignInstance:
    """Two-state chain in which the informative state is revisited about ``H`` times per episode.

    States ``x1 = 0`` (start), ``x2 = 1``; ``P(x2 | x1, a) = delta0 + <mu, a>``,
    ``P(x1 | x2, .) = delta0`` with ``delta0 = 1/H``; reward ``1/H`` per step at ``x2``.
    ``mu = Delta * signs`` with ``Delta = rel_gap * delta0 / (d - 1)``: the best action raises the
    rate of entering ``x2`` by the factor ``1 + rel_gap``, so value gaps are a constant fraction
    of the value whatever ``H``.

    Parameters
    ----------
    d : int
    H : int
    rel_gap : float
        In ``(0, 1]``.
    signs, seed
        As in :func:`three_state_hard`.
    delta0 : float, optional
        Switching probability; ``1/H`` by default.

    Returns
    -------
    SignInstance

    Notes
    -----
    Reconstructed (docs/papers/hf_rfe.md#hf-rfe-instances, after Zhou, Gu & Szepesvari 2021): the
    original is stage-dependent with per-step rewards; this is its homogeneous, normalised
    variant with one ``mu``, and ``Delta`` is tied to ``delta0`` (rather than to ``K``) so that the
    instance is valid for every ``H``. Features follow the two-block pattern of the module doc.
    """
    d = check_positive_int("d", d, minimum=2)
    H = check_positive_int("H", H, minimum=2)
    delta0 = 1.0 / H if delta0 is None else check_real("delta0", delta0, lo=0.0, hi=1.0, lo_open=True,
                                                       hi_open=True)
    rel_gap = check_real("rel_gap", rel_gap)
    if not (0 < rel_gap <= 1):
        raise ValueError(f"rel_gap = {rel_gap!r} must be in (0, 1]")
    Delta = _check_perturbation("rel_gap * delta0 / (d - 1)", d, rel_gap * delta0 / (d - 1), delta0)
    actions = sign_actions(d)
    mu = Delta * _signs(d, signs, seed)
    c1, c2 = _block_scales(d, Delta)
    A = actions.shape[0]
    phi = np.zeros((2, A, 2, d))
    phi[0, :, 1, 0] = c1 * delta0
    phi[0, :, 1, 1:] = c2 * actions
    phi[0, :, 0, 0] = c1 * (1 - delta0)
    phi[0, :, 0, 1:] = -c2 * actions
    phi[1, :, 0, 0] = c1 * delta0
    phi[1, :, 1, 0] = c1 * (1 - delta0)
    theta = np.concatenate([[1.0 / c1], mu / c2])
    R = np.zeros((H, 2, A))
    R[:, 1, :] = 1.0 / H
    lmdp = LinearMixtureMDP(phi, theta, H=H, mu0=0, R=R, B=1.0 + (d - 1) * Delta,
                            name=f"long_horizon_two_state(d={d}, H={H}, rel_gap={rel_gap:.3g})")
    return SignInstance(lmdp, actions, mu, _action_index(actions, np.sign(mu)))


def random_linear_mixture(S: int, A: int, d: int, H: int, *, seed=None, concentration: float = 1.0,
                          mu0=0) -> LinearMixtureMDP:
    """Random linear mixture MDP with valid transitions by construction.

    ``d`` kernels ``P_i(. | s, a) ~ Dirichlet(concentration)``, ``phi_i = P_i / sqrt d``,
    ``theta* = sqrt d * w`` with ``w ~ Dirichlet(1)`` on the simplex. Then
    ``P = sum_i w_i P_i`` is a mixture of distributions, ``||psi_V|| <= 1`` for ``V in [0, 1]^S``
    and ``||theta*|| <= B = sqrt d`` (so the theory's ``lambda = d / B^2 = 1``).

    Parameters
    ----------
    S, A, d, H : int
    seed : int or SeedSequence, optional
    concentration : float
        Dirichlet parameter of the kernels' rows (small: peaked rows, more informative features).
    mu0 : int or array_like, shape (S,)

    Returns
    -------
    LinearMixtureMDP
        Zero rewards (reward-free).

    Notes
    -----
    Reconstructed (docs/papers/hf_rfe.md#hf-rfe-instances): a standard construction, not from the paper.
    """
    S, A, d, H = (check_positive_int(n, v) for n, v in (("S", S), ("A", A), ("d", d), ("H", H)))
    check_model_size({"S": S, "A": A, "d": d, "H": H}, 8.0 * S * A * (3 * d * S + H),
                     "the features and rewards")
    concentration = _concentration("concentration", concentration, S)
    rng = _rng(seed)
    kernels = rng.dirichlet(np.full(S, concentration), size=(d, S, A))  # (d, S, A, S)
    weights = rng.dirichlet(np.ones(d))
    phi = np.ascontiguousarray(kernels.transpose(1, 2, 3, 0)) / np.sqrt(d)
    theta = np.sqrt(d) * weights
    return LinearMixtureMDP(phi, theta, H=H, mu0=mu0, B=float(np.sqrt(d)),
                            name=f"random_linear_mixture(S={S}, A={A}, d={d}, H={H})")
