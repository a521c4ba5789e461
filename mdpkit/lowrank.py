"""Low-rank MDPs and low-rank two-player zero-sum Markov games.

A low-rank MDP of rank ``d`` has transitions that factor through a ``d``-dimensional
representation (Jin et al. 2020 call it a linear MDP when ``phi`` is known; FLAMBE, Rep-UCB and
Contrastive UCB learn both factors)::

    P[h, s, a, s'] = sum_i phi[h, s, a, i] * psi[h, i, s'].

Rows of the product must be probability distributions; the factors themselves need not be
(only their product is validated, because a low-rank kernel can have factors of either sign).
Conventions follow :class:`mdpkit.TabularMDP`: stages ``h = 0 .. H-1``, mean rewards in
``[0, 1]``, read-only arrays.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_finite, check_in_range, check_stochastic, readonly
from .markov_game import MarkovGame
from .mdp import TabularMDP, _validate_mu0

__all__ = ["LowRankMDP", "LowRankMarkovGame"]


def _validate_factors(phi, psi, phi_axes: tuple[str, ...]):
    """Validate ``phi`` (H, ..., d) and ``psi`` (H, d, S); return them and their product."""
    n_axes = len(phi_axes)
    phi = as_float_array("phi", phi, ndim=n_axes, axis_names=phi_axes)
    psi = as_float_array("psi", psi, ndim=3, axis_names=("h", "i", "s'"))
    H, d = phi.shape[0], phi.shape[-1]
    S = phi.shape[1]
    if min(phi.shape) < 1:
        raise ValueError(f"phi must have at least one stage, state, action and feature, got shape {phi.shape}")
    if d < 1:
        raise ValueError(f"phi must have a feature dimension d >= 1, got shape {phi.shape}")
    if psi.shape != (H, d, S):
        raise ValueError(f"psi must have shape (H, d, S) = ({H}, {d}, {S}) matching phi {phi.shape}, "
                         f"got {psi.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # huge factors: reported as a non-finite kernel
        P = np.ascontiguousarray(np.einsum("h...i,his->h...s", phi, psi))
    # The kernel is what must be a distribution; name the product so the error says which
    # factors to look at.
    check_finite("<phi, psi>", P, phi_axes[:-1] + ("s'",))
    check_stochastic("<phi, psi>", P, phi_axes[:-1] + ("s'",))
    return phi, psi, P


class LowRankMDP:
    """Finite-horizon MDP with rank-``d`` transitions ``P_h(s'|s,a) = <phi_h(s,a), psi_h(s')>``.

    Parameters
    ----------
    phi : array_like, shape (H, S, A, d)
        Left factor (the representation; unknown to a representation-learning agent).
    psi : array_like, shape (H, d, S)
        Right factor.
    R : array_like, shape (H, S, A)
        Mean rewards in ``[0, 1]`` (known to the agent in the Contrastive UCB setting).
    mu0 : array_like, shape (S,), or int
        Initial-state distribution, or a fixed initial state.
    name : str, optional

    Raises
    ------
    ValueError
        For wrong or mismatched shapes, NaN/inf, a row ``<phi[h, s, a], psi[h]>`` that is not a
        distribution (negative entry or sum off 1 by more than 1e-9; the first offending
        ``(h, s, a)`` is named), rewards outside ``[0, 1]`` or an invalid ``mu0``.

    Notes
    -----
    The dense kernel ``P`` (H, S, A, S) is formed once at construction for validation and kept
    (read-only); :meth:`to_tabular` shares it.
    """

    __slots__ = ("_phi", "_psi", "_P", "_R", "_mu0", "_name", "_tabular")

    def __init__(self, phi, psi, R, mu0, *, name: str | None = None):
        phi, psi, P = _validate_factors(phi, psi, ("h", "s", "a", "i"))
        H, S, A, _ = phi.shape
        R = as_float_array("R", R, shape=(H, S, A), axis_names=("h", "s", "a"))
        check_in_range("R", R, 0.0, 1.0, ("h", "s", "a"))
        object.__setattr__(self, "_phi", readonly(phi))
        object.__setattr__(self, "_psi", readonly(psi))
        object.__setattr__(self, "_P", readonly(P))
        object.__setattr__(self, "_R", readonly(R))
        object.__setattr__(self, "_mu0", readonly(_validate_mu0(mu0, S)))
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_tabular", None)

    def __setattr__(self, key, value):
        raise AttributeError(f"LowRankMDP is immutable; cannot set {key!r}")

    H = property(lambda self: self._phi.shape[0], doc="Horizon.")
    S = property(lambda self: self._phi.shape[1], doc="Number of states.")
    A = property(lambda self: self._phi.shape[2], doc="Number of actions.")
    d = property(lambda self: self._phi.shape[3], doc="Rank (feature dimension).")
    phi = property(lambda self: self._phi, doc="Left factor, shape (H, S, A, d).")
    psi = property(lambda self: self._psi, doc="Right factor, shape (H, d, S).")
    P = property(lambda self: self._P, doc="Dense kernel <phi, psi>, shape (H, S, A, S).")
    R = property(lambda self: self._R, doc="Mean rewards, shape (H, S, A).")
    mu0 = property(lambda self: self._mu0, doc="Initial-state distribution, shape (S,).")
    name = property(lambda self: self._name)

    def to_tabular(self) -> TabularMDP:
        """The same MDP as a :class:`~mdpkit.TabularMDP` (built once, cached).

        Solve and evaluate it with :func:`mdpkit.solve` / :func:`mdpkit.evaluate`.
        """
        if self._tabular is None:
            object.__setattr__(self, "_tabular", TabularMDP(self._P, self._R, self._mu0, name=self._name))
        return self._tabular

    def __repr__(self) -> str:
        label = f"{self._name!r}, " if self._name else ""
        return f"LowRankMDP({label}H={self.H}, S={self.S}, A={self.A}, d={self.d})"


class LowRankMarkovGame:
    """Two-player zero-sum Markov game with rank-``d`` transitions.

    ``P_h(s'|s,a,b) = <phi_h(s,a,b), psi_h(s')>``; the max player picks ``a``, the min player ``b``
    and the max player receives ``R[h, s, a, b]``.

    Parameters
    ----------
    phi : array_like, shape (H, S, A, B, d)
    psi : array_like, shape (H, d, S)
    R : array_like, shape (H, S, A, B)
        Mean rewards of the max player, in ``[0, 1]``.
    mu0 : array_like, shape (S,), or int
    name : str, optional

    Raises
    ------
    ValueError
        As :class:`LowRankMDP`, the first offending ``(h, s, a, b)`` named.
    """

    __slots__ = ("_phi", "_psi", "_P", "_R", "_mu0", "_name", "_game")

    def __init__(self, phi, psi, R, mu0, *, name: str | None = None):
        phi, psi, P = _validate_factors(phi, psi, ("h", "s", "a", "b", "i"))
        H, S, A, B, _ = phi.shape
        R = as_float_array("R", R, shape=(H, S, A, B), axis_names=("h", "s", "a", "b"))
        check_in_range("R", R, 0.0, 1.0, ("h", "s", "a", "b"))
        object.__setattr__(self, "_phi", readonly(phi))
        object.__setattr__(self, "_psi", readonly(psi))
        object.__setattr__(self, "_P", readonly(P))
        object.__setattr__(self, "_R", readonly(R))
        object.__setattr__(self, "_mu0", readonly(_validate_mu0(mu0, S)))
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_game", None)

    def __setattr__(self, key, value):
        raise AttributeError(f"LowRankMarkovGame is immutable; cannot set {key!r}")

    H = property(lambda self: self._phi.shape[0], doc="Horizon.")
    S = property(lambda self: self._phi.shape[1], doc="Number of states.")
    A = property(lambda self: self._phi.shape[2], doc="Actions of the max player.")
    B = property(lambda self: self._phi.shape[3], doc="Actions of the min player.")
    d = property(lambda self: self._phi.shape[4], doc="Rank (feature dimension).")
    phi = property(lambda self: self._phi, doc="Left factor, shape (H, S, A, B, d).")
    psi = property(lambda self: self._psi, doc="Right factor, shape (H, d, S).")
    P = property(lambda self: self._P, doc="Dense kernel, shape (H, S, A, B, S).")
    R = property(lambda self: self._R, doc="Max player's mean rewards, shape (H, S, A, B).")
    mu0 = property(lambda self: self._mu0, doc="Initial-state distribution, shape (S,).")
    name = property(lambda self: self._name)

    def to_game(self) -> MarkovGame:
        """The same game as a :class:`~mdpkit.markov_game.MarkovGame` (built once, cached)."""
        if self._game is None:
            object.__setattr__(self, "_game", MarkovGame(self._P, self._R, self._mu0, name=self._name))
        return self._game

    def __repr__(self) -> str:
        label = f"{self._name!r}, " if self._name else ""
        return f"LowRankMarkovGame({label}H={self.H}, S={self.S}, A={self.A}, B={self.B}, d={self.d})"
