"""Finite-horizon episodic tabular MDPs.

Conventions (see DESIGN.md): stages ``h = 0 .. H-1``; transitions ``P[h, s, a, s']``; mean
rewards ``R[h, s, a]`` in ``[0, 1]``; value functions have shape ``(H + 1, S)`` with
``V[H] = 0``. Models are immutable after validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import (
    ArgumentTypeError,
    as_float_array,
    check_in_range,
    check_int_array,
    check_output_size,
    check_positive_int,
    check_stochastic,
    readonly,
    show,
)

_PAX = ("h", "s", "a", "s'")
_RAX = ("h", "s", "a")
REWARD_NOISE = ("deterministic", "bernoulli")


@dataclass(frozen=True)
class SparseTransitions:
    """Transitions in compressed-sparse-row form over successors.

    Row ``r = (g * S + s) * A + a`` holds the successors of ``(s, a)`` at stored stage
    ``g`` (``g = 0`` for a stationary model, ``g = h`` otherwise).

    Attributes
    ----------
    indptr : ndarray, shape (n_stored_stages * S * A + 1,), int64
    indices : ndarray, shape (nnz,), int64
        Successor states, increasing within each row.
    data : ndarray, shape (nnz,), float64
        Their probabilities.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.data.shape[0])


class TabularMDP:
    """Finite-horizon episodic MDP with stage-dependent transitions and rewards.

    Parameters
    ----------
    P : array_like, shape (H, S, A, S)
        ``P[h, s, a, s']`` = probability of moving to ``s'`` from ``s`` under ``a`` at stage ``h``.
        Every row ``P[h, s, a, :]`` must be a distribution (non-negative, summing to 1 within 1e-9).
    R : array_like, shape (H, S, A)
        Mean rewards in ``[0, 1]``.
    mu0 : array_like, shape (S,), or int
        Initial-state distribution; an int ``s`` means "always start in ``s``".
    reward_noise : {"deterministic", "bernoulli"}
        How :func:`mdpkit.simulate` draws rewards: the mean itself, or Bernoulli(mean).
    name : str, optional
        Label used in reprs, reports and figures.

    Raises
    ------
    ValueError
        Naming the argument, the first offending index and its value, for a wrong shape,
        mismatched ``S``/``A``/``H``, NaN/inf, negative probabilities, rows not summing to 1,
        rewards outside ``[0, 1]`` or ``mu0`` not a distribution.

    Notes
    -----
    Use :meth:`stationary` for time-homogeneous transitions: ``P`` is then stored once with
    shape ``(S, A, S)`` and exposed as a read-only broadcast view of shape ``(H, S, A, S)``.
    All arrays are read-only after construction.
    """

    __slots__ = ("_P_stages", "_R", "_mu0", "_H", "_reward_noise", "_name", "_csr", "_density")

    def __init__(self, P, R, mu0, *, reward_noise: str = "deterministic", name: str | None = None):
        P = as_float_array("P", P, ndim=4, axis_names=_PAX)
        H, S, A, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P must have shape (H, S, A, S), got {P.shape}: last axis {S2} != S = {S}")
        if H < 1:  # an empty horizon has no stages to solve; V would be 0 by accident
            raise ValueError(f"P must have at least one stage (H >= 1), got shape {P.shape}")
        self._init(P, H, R, mu0, reward_noise, name, stationary=False)

    @classmethod
    def stationary(cls, P, R, H: int, mu0, *, reward_noise: str = "deterministic",
                   name: str | None = None) -> "TabularMDP":
        """Build a model whose transitions do not depend on the stage.

        Parameters
        ----------
        P : array_like, shape (S, A, S)
            Stored once (no ``H`` copies).
        R : array_like, shape (S, A) or (H, S, A)
            Stationary or stage-dependent mean rewards in ``[0, 1]``.
        H : int
            Horizon, ``>= 1``.
        mu0 : array_like, shape (S,), or int
        reward_noise, name
            As in :class:`TabularMDP`.
        """
        H = check_positive_int("H", H)
        P = as_float_array("P", P, ndim=3, axis_names=_PAX[1:])
        S, A, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}: last axis {S2} != S = {S}")
        # Stage-dependent rewards and every value function hold H rows.
        check_output_size("H", H, 8.0 * H * S * max(A, 1), f"the (H, S, A) = ({H}, {S}, {A}) rewards")
        self = object.__new__(cls)
        self._init(P[None], H, R, mu0, reward_noise, name, stationary=True)
        return self

    def _init(self, P_stages, H, R, mu0, reward_noise, name, *, stationary):
        n_stored, S, A, _ = P_stages.shape
        if S < 1 or A < 1:
            raise ValueError(f"P must have at least one state and one action, got shape {P_stages.shape[1:]}")
        if stationary:
            check_stochastic("P", P_stages[0], _PAX[1:])
        else:
            check_stochastic("P", P_stages, _PAX)
        R = _validate_rewards("R", R, H, S, A, allow_stationary=stationary)
        mu0 = _validate_mu0(mu0, S)
        _check_reward_noise(reward_noise)
        self._P_stages = readonly(P_stages)
        self._R = readonly(R)
        self._mu0 = readonly(mu0)
        self._H = int(H)
        self._reward_noise = reward_noise
        self._name = name
        self._csr = None
        self._density = None

    # ------------------------------------------------------------------ attributes
    @property
    def H(self) -> int:
        """Horizon (number of stages)."""
        return self._H

    @property
    def S(self) -> int:
        """Number of states."""
        return self._P_stages.shape[1]

    @property
    def A(self) -> int:
        """Number of actions."""
        return self._P_stages.shape[2]

    @property
    def P(self) -> np.ndarray:
        """Transitions, shape (H, S, A, S); a read-only broadcast view for stationary models."""
        if self.is_stationary:
            return np.broadcast_to(self._P_stages, (self._H,) + self._P_stages.shape[1:])
        return self._P_stages

    @property
    def P_stages(self) -> np.ndarray:
        """Stored transitions, shape (1, S, A, S) if stationary else (H, S, A, S).

        Kernels index stage ``h`` as ``P_stages[h if P_stages.shape[0] > 1 else 0]``.
        """
        return self._P_stages

    @property
    def R(self) -> np.ndarray:
        """Mean rewards, shape (H, S, A)."""
        return self._R

    @property
    def mu0(self) -> np.ndarray:
        """Initial-state distribution, shape (S,)."""
        return self._mu0

    @property
    def is_stationary(self) -> bool:
        """True when transitions are stored once for all stages."""
        return self._P_stages.shape[0] == 1

    @property
    def reward_noise(self) -> str:
        return self._reward_noise

    @property
    def name(self) -> str | None:
        return self._name

    def __setattr__(self, key, value):
        if key in TabularMDP.__slots__ and not hasattr(self, key):
            object.__setattr__(self, key, value)  # first assignment, during construction
        else:
            raise AttributeError(f"TabularMDP is immutable; cannot set {key!r}")

    def __repr__(self) -> str:
        kind = "stationary" if self.is_stationary else "stage-dependent"
        label = f"{self._name!r}, " if self._name else ""
        return f"TabularMDP({label}H={self.H}, S={self.S}, A={self.A}, {kind}, rewards={self._reward_noise})"

    # ------------------------------------------------------------------ derived models
    def with_rewards(self, R, *, reward_noise: str | None = None, name: str | None = None) -> "TabularMDP":
        """Same transitions (shared memory, not copied), new mean rewards.

        Parameters
        ----------
        R : array_like, shape (H, S, A) (or (S, A) for a stationary model)
        reward_noise : str, optional
            Defaults to this model's.
        """
        new = object.__new__(TabularMDP)
        R = _validate_rewards("R", R, self.H, self.S, self.A, allow_stationary=True)
        noise = self._reward_noise if reward_noise is None else _check_reward_noise(reward_noise)
        object.__setattr__(new, "_P_stages", self._P_stages)
        object.__setattr__(new, "_R", readonly(R))
        object.__setattr__(new, "_mu0", self._mu0)
        object.__setattr__(new, "_H", self._H)
        object.__setattr__(new, "_reward_noise", noise)
        object.__setattr__(new, "_name", name if name is not None else self._name)
        object.__setattr__(new, "_csr", self._csr)
        object.__setattr__(new, "_density", self._density)
        return new

    # ------------------------------------------------------------------ sparse form
    def sparse_transitions(self) -> SparseTransitions:
        """CSR form of the stored transitions (computed once, cached)."""
        if self._csr is None:
            flat = self._P_stages.reshape(-1, self.S)
            nz_rows, nz_cols = np.nonzero(flat)
            counts = np.bincount(nz_rows, minlength=flat.shape[0])
            indptr = np.zeros(flat.shape[0] + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            csr = SparseTransitions(
                indptr=readonly(indptr),
                indices=readonly(nz_cols.astype(np.int64)),
                data=readonly(np.ascontiguousarray(flat[nz_rows, nz_cols])),
            )
            object.__setattr__(self, "_csr", csr)
        return self._csr

    @property
    def density(self) -> float:
        """Fraction of non-zero transition entries among the stored stages (computed once)."""
        if self._density is None:
            object.__setattr__(self, "_density", np.count_nonzero(self._P_stages) / self._P_stages.size)
        return float(self._density)


def _check_reward_noise(reward_noise) -> str:
    if not isinstance(reward_noise, str):
        raise ArgumentTypeError(f"reward_noise must be one of {REWARD_NOISE}, got {show(reward_noise)}")
    if reward_noise not in REWARD_NOISE:
        raise ValueError(f"reward_noise must be one of {REWARD_NOISE}, got {reward_noise!r}")
    return reward_noise


def _validate_rewards(name, R, H, S, A, *, allow_stationary):
    axes = _RAX if np.ndim(R) == 3 else _RAX[1:]  # errors index the array as the caller wrote it
    R = as_float_array(name, R, ndim=(2, 3) if allow_stationary else 3, axis_names=axes)
    if R.ndim == 2 and R.shape != (S, A):
        raise ValueError(f"{name} must have shape (S, A) = ({S}, {A}) or (H, S, A) = ({H}, {S}, {A}), "
                         f"got {R.shape}")
    if R.ndim == 3 and R.shape != (H, S, A):
        raise ValueError(f"{name} must have shape (H, S, A) = ({H}, {S}, {A}) matching P, got {R.shape}")
    check_in_range(name, R, 0.0, 1.0, axes)
    if R.ndim == 2:
        R = np.ascontiguousarray(np.broadcast_to(R, (H, S, A)))
    return R


def _validate_mu0(mu0, S):
    if isinstance(mu0, (int, np.integer)) and not isinstance(mu0, (bool, np.bool_)):
        if not 0 <= mu0 < S:
            raise ValueError(f"mu0 = {int(mu0)} is not a state in [0, {S})")
        out = np.zeros(S)
        out[int(mu0)] = 1.0
        return out
    if mu0 is None or np.isscalar(mu0) or (isinstance(mu0, np.ndarray) and mu0.ndim == 0):
        # a float, a bool (not a state here), None or a 0-d array
        raise ValueError(f"mu0 must be an int state index or an (S,) = ({S},) distribution, "
                         f"got {show(mu0)}")
    mu0 = as_float_array("mu0", mu0, ndim=1, axis_names=("s",))
    if mu0.shape != (S,):
        raise ValueError(f"mu0 must have shape (S,) = ({S},) matching P, got {mu0.shape}")
    check_stochastic("mu0", mu0, ("s",))
    return mu0


def validate_policy(policy, H: int, S: int, A: int, name: str = "policy") -> np.ndarray:
    """Validate a deterministic (H, S) int or stochastic (H, S, A) policy.

    Returns
    -------
    ndarray
        int64 of shape (H, S) or float64 of shape (H, S, A) (a validated copy).
    """
    arr = np.asarray(policy)
    if arr.shape == (H, S):
        return check_int_array(name, arr, shape=(H, S), upper=A, axis_names=("h", "s"))
    if arr.shape == (H, S, A):
        arr = as_float_array(name, arr, shape=(H, S, A), axis_names=("h", "s", "a"))
        check_stochastic(name, arr, ("h", "s", "a"))
        return arr
    # Shape first: an (S, A) table missing the H axis must not be reported as "not integer".
    raise ValueError(f"{name} must have shape (H, S) = ({H}, {S}) (deterministic) or "
                     f"(H, S, A) = ({H}, {S}, {A}) (stochastic), got {arr.shape}")
