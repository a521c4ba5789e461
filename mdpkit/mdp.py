"""Finite-horizon episodic tabular MDPs.

Conventions (see DESIGN.md): stages ``h = 0 .. H-1``; transitions ``P[h, s, a, s']``; mean
rewards ``R[h, s, a]`` in ``[0, 1]``; value functions have shape ``(H + 1, S)`` with
``V[H] = 0``. Models are immutable after validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import (
    PROB_ATOL,
    ArgumentTypeError,
    as_float_array,
    check_in_range,
    check_int_array,
    check_not_complex,
    check_output_size,
    check_positive_int,
    check_stochastic,
    readonly,
    show,
)

_PAX = ("h", "s", "a", "s'")
#: The dense transitions of a model built from CSR (:meth:`TabularMDP.from_csr`) are materialised
#: on first access of ``P`` / ``P_stages`` only up to this many bytes; above it the access raises a
#: ValueError stating the bytes needed (RiverSwim with S = 10^5 would need 149 GiB). Raise it
#: deliberately if the memory is there.
DENSE_TRANSITIONS_LIMIT_BYTES = 2 ** 31
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
    R : array_like, shape (H, S, A), or None
        Mean rewards in ``reward_range`` (default ``[0, 1]``). None when ``transition_rewards``
        is given (``R`` is then their expectation).
    mu0 : array_like, shape (S,), or int
        Initial-state distribution; an int ``s`` means "always start in ``s``".
    reward_noise : {"deterministic", "bernoulli"}
        How :func:`mdpkit.simulate` draws rewards: the mean itself, or a two-point draw on the
        ends ``{lo, hi}`` of ``reward_range`` with that mean (Bernoulli(mean) for ``[0, 1]``).
    name : str, optional
        Label used in reprs, reports and figures.
    reward_range : (float, float), default (0.0, 1.0)
        Declared bounds ``lo < hi`` (finite) of every reward; ``R`` and ``transition_rewards``
        are validated against them. Algorithms whose theory assumes ``[0, 1]`` check it.
    transition_rewards : array_like, shape (H, S, A, S) or (1, S, A, S), optional
        Rewards that depend on the next state, ``R(h, s, a, s')``. The exact solvers use their
        expectation under ``P``; :func:`mdpkit.simulate` pays the reward of the sampled transition.
    feasible : array_like of bool, shape (S, A) or (H, S, A), optional
        Which actions may be taken (every state needs at least one at every stage). The exact
        solvers maximise over feasible actions only; policies are validated against it. The
        entries of ``P`` and ``R`` at infeasible actions must still be valid but never matter.

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
    Use :meth:`from_csr` for large sparse models: only the non-zero transitions are stored, and
    the dense ``P`` is materialised on first request (refused above
    :data:`DENSE_TRANSITIONS_LIMIT_BYTES`). Stationary rewards are stored once, and ``R`` of shape
    ``(H, S, A)`` is materialised on first access. All arrays are read-only after construction.
    """

    # _P_stages is None for a model built from CSR until ``P`` is requested; _R is the (H, S, A)
    # rewards, materialised from the stored _R_stages ((1, S, A) or (H, S, A)) on first access.
    __slots__ = ("_P_stages", "_R", "_mu0", "_H", "_reward_noise", "_name", "_csr", "_density",
                 "_reward_range", "_transition_rewards", "_feasible", "_R_stages", "_shape")

    def __init__(self, P, R, mu0, *, reward_noise: str = "deterministic", name: str | None = None,
                 reward_range=(0.0, 1.0), transition_rewards=None, feasible=None):
        P = as_float_array("P", P, ndim=4, axis_names=_PAX)
        H, S, A, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P must have shape (H, S, A, S), got {P.shape}: last axis {S2} != S = {S}")
        if H < 1:  # an empty horizon has no stages to solve; V would be 0 by accident
            raise ValueError(f"P must have at least one stage (H >= 1), got shape {P.shape}")
        self._init(P, H, R, mu0, reward_noise, name, stationary=False, reward_range=reward_range,
                   transition_rewards=transition_rewards, feasible=feasible)

    @classmethod
    def stationary(cls, P, R, H: int, mu0, *, reward_noise: str = "deterministic",
                   name: str | None = None, reward_range=(0.0, 1.0), transition_rewards=None,
                   feasible=None) -> "TabularMDP":
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
        reward_noise, name, reward_range, transition_rewards, feasible
            As in :class:`TabularMDP` (``transition_rewards`` may also have shape (S, A, S)).
        """
        H = check_positive_int("H", H)
        P = as_float_array("P", P, ndim=3, axis_names=_PAX[1:])
        S, A, S2 = P.shape
        if S2 != S:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}: last axis {S2} != S = {S}")
        # Stage-dependent rewards and every value function hold H rows.
        check_output_size("H", H, 8.0 * H * S * max(A, 1), f"the (H, S, A) = ({H}, {S}, {A}) rewards")
        self = object.__new__(cls)
        self._init(P[None], H, R, mu0, reward_noise, name, stationary=True, reward_range=reward_range,
                   transition_rewards=transition_rewards, feasible=feasible)
        return self

    def _init(self, P_stages, H, R, mu0, reward_noise, name, *, stationary, reward_range=(0.0, 1.0),
              transition_rewards=None, feasible=None):
        n_stored, S, A, _ = P_stages.shape
        if S < 1 or A < 1:
            raise ValueError(f"P must have at least one state and one action, got shape {P_stages.shape[1:]}")
        if stationary:
            check_stochastic("P", P_stages[0], _PAX[1:])
        else:
            check_stochastic("P", P_stages, _PAX)
        reward_range = _validate_reward_range(reward_range)
        if transition_rewards is None:
            R = _validate_rewards("R", R, H, S, A, allow_stationary=stationary, reward_range=reward_range)
        else:
            if R is not None:
                raise ValueError("R must be None when transition_rewards is given: the mean rewards are "
                                 "their expectation over the next state, computed from P")
            transition_rewards = _validate_transition_rewards(transition_rewards, H, S, A, reward_range)
            R = _expected_rewards(P_stages, transition_rewards, H, reward_range)
        feasible = None if feasible is None else _validate_feasible(feasible, H, S, A)
        mu0 = _validate_mu0(mu0, S)
        _check_reward_noise(reward_noise)
        self._P_stages = readonly(P_stages)
        self._shape = (n_stored, S, A)
        self._R_stages = readonly(R)
        self._R = None
        self._mu0 = readonly(mu0)
        self._H = int(H)
        self._reward_noise = reward_noise
        self._name = name
        self._csr = None
        self._density = None
        self._reward_range = reward_range
        self._transition_rewards = None if transition_rewards is None else readonly(transition_rewards)
        self._feasible = None if feasible is None else readonly(feasible)

    @classmethod
    def from_csr(cls, indptr, indices, data, R, H: int, mu0, *, stationary: bool = True,
                 reward_noise: str = "deterministic", name: str | None = None,
                 reward_range=(0.0, 1.0), feasible=None) -> "TabularMDP":
        """Build a model from its non-zero transitions, never allocating the dense ``(S, A, S)``.

        Parameters
        ----------
        indptr : array_like of int, shape (G * S * A + 1,)
            Row ``r = (g * S + s) * A + a`` (``G = 1`` if ``stationary`` else ``H``; ``g`` the
            stage) holds the successors ``indices[indptr[r]:indptr[r + 1]]`` of ``(s, a)``.
        indices : array_like of int, shape (nnz,)
            Successor states in ``[0, S)``, strictly increasing within each row.
        data : array_like of float, shape (nnz,)
            Their probabilities: positive (store only the successors that can occur), each row
            summing to 1 within 1e-9.
        R : array_like, shape (S, A) or (H, S, A)
            Mean rewards in ``reward_range``; ``S`` and ``A`` are read from its shape.
        H : int
            Horizon, ``>= 1``.
        mu0 : array_like, shape (S,), or int
        stationary : bool
            One transition kernel for all stages (``G = 1``) or one per stage (``G = H``).
        reward_noise, name, reward_range, feasible
            As in :class:`TabularMDP`.

        Returns
        -------
        TabularMDP
            ``sparse_transitions()`` returns validated read-only copies of the three arrays;
            the model equals the one built from the corresponding dense ``P`` (same solve
            results, bit for bit). ``P`` is materialised only if requested.

        Raises
        ------
        ValueError
            Naming the argument and the first offending row ``(s, a)`` (``(h, s, a)`` when not
            stationary) and entry: wrong lengths, ``indptr`` not starting at 0 or decreasing,
            successors out of range, repeated or not increasing, probabilities that are
            non-finite, negative or zero, rows not summing to 1 (rows are never renormalised).
        """
        H = check_positive_int("H", H)
        if not isinstance(stationary, (bool, np.bool_)):
            raise ArgumentTypeError(f"stationary must be True or False, got {show(stationary)}")
        if np.ndim(R) not in (2, 3):
            raise ValueError(f"R must have shape (S, A) or (H, S, A), got shape {np.shape(R)}")
        S, A = np.shape(R)[-2:]
        if S < 1 or A < 1:
            raise ValueError(f"R must have at least one state and one action, got shape {np.shape(R)}")
        G = 1 if stationary else H
        check_output_size("H", H, 8.0 * H * S * A, f"the (H, S, A) = ({H}, {S}, {A}) rewards")
        csr = _validate_csr(indptr, indices, data, G, S, A)
        reward_range = _validate_reward_range(reward_range)
        R_stages = _validate_rewards("R", R, H, S, A, allow_stationary=stationary, reward_range=reward_range)
        feasible = None if feasible is None else _validate_feasible(feasible, H, S, A)
        mu0 = _validate_mu0(mu0, S)
        _check_reward_noise(reward_noise)
        self = object.__new__(cls)
        self._P_stages = None
        self._shape = (G, S, A)
        self._R_stages = readonly(R_stages)
        self._R = None
        self._mu0 = readonly(mu0)
        self._H = int(H)
        self._reward_noise = reward_noise
        self._name = name
        self._csr = csr
        self._density = None
        self._reward_range = reward_range
        self._transition_rewards = None
        self._feasible = None if feasible is None else readonly(feasible)
        return self

    # ------------------------------------------------------------------ attributes
    @property
    def H(self) -> int:
        """Horizon (number of stages)."""
        return self._H

    @property
    def S(self) -> int:
        """Number of states."""
        return self._shape[1]

    @property
    def A(self) -> int:
        """Number of actions."""
        return self._shape[2]

    @property
    def n_stored_stages(self) -> int:
        """Number of stored transition kernels: 1 if stationary, else ``H``."""
        return self._shape[0]

    @property
    def P(self) -> np.ndarray:
        """Transitions, shape (H, S, A, S); a read-only broadcast view for stationary models.

        For a model built by :meth:`from_csr` this materialises the dense form (see
        :attr:`P_stages`).
        """
        if self.is_stationary:
            return np.broadcast_to(self.P_stages, (self._H,) + self._shape[1:] + (self._shape[1],))
        return self.P_stages

    @property
    def P_stages(self) -> np.ndarray:
        """Stored transitions, shape (1, S, A, S) if stationary else (H, S, A, S).

        Kernels index stage ``h`` as ``P_stages[h if P_stages.shape[0] > 1 else 0]``.

        Raises
        ------
        ValueError
            For a model built by :meth:`from_csr` whose dense form would need more than
            :data:`DENSE_TRANSITIONS_LIMIT_BYTES` bytes (the message states how many); below
            that it is materialised once from the CSR form and cached.
        """
        if self._P_stages is None:
            object.__setattr__(self, "_P_stages", readonly(_dense_from_csr(self._csr, *self._shape)))
        return self._P_stages

    @property
    def has_dense_transitions(self) -> bool:
        """True when the dense ``P_stages`` is stored (always, unless built by :meth:`from_csr`
        and not yet materialised): solvers use it to avoid materialising."""
        return self._P_stages is not None

    @property
    def R(self) -> np.ndarray:
        """Mean rewards, shape (H, S, A) (materialised on first access from stationary ones)."""
        if self._R is None:
            object.__setattr__(self, "_R", readonly(np.ascontiguousarray(self.R_view)))
        return self._R

    @property
    def R_view(self) -> np.ndarray:
        """Mean rewards as stored, shape (H, S, A): a read-only broadcast view (no copy) of the
        ``(S, A)`` table for stationary rewards; the same floats as :attr:`R`."""
        return np.broadcast_to(self._R_stages, (self._H,) + self._shape[1:])

    @property
    def mu0(self) -> np.ndarray:
        """Initial-state distribution, shape (S,)."""
        return self._mu0

    @property
    def is_stationary(self) -> bool:
        """True when transitions are stored once for all stages."""
        return self._shape[0] == 1

    @property
    def reward_noise(self) -> str:
        return self._reward_noise

    @property
    def reward_range(self) -> tuple[float, float]:
        """Declared bounds ``(lo, hi)`` of every reward (default ``(0.0, 1.0)``); validated."""
        return self._reward_range

    @property
    def transition_rewards(self) -> np.ndarray | None:
        """Rewards of transitions ``R(h, s, a, s')``, shape (1 or H, S, A, S), or None.

        When present, ``R`` is their expectation ``sum_s' P[h, s, a, s'] R(h, s, a, s')`` (what
        the exact solvers use) and :func:`mdpkit.simulate` pays the reward of the realised
        transition. Stage ``h`` reads ``transition_rewards[h if shape[0] > 1 else 0]``.
        """
        return self._transition_rewards

    @property
    def feasible(self) -> np.ndarray | None:
        """Feasible actions, bool shape (H, S, A), or None (every action feasible).

        The exact solvers maximise over feasible actions only; policies are validated against it.
        """
        return self._feasible

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
        R = _validate_rewards("R", R, self.H, self.S, self.A, allow_stationary=True,
                              reward_range=self._reward_range)
        noise = self._reward_noise if reward_noise is None else _check_reward_noise(reward_noise)
        object.__setattr__(new, "_P_stages", self._P_stages)
        object.__setattr__(new, "_shape", self._shape)
        object.__setattr__(new, "_R_stages", readonly(R))
        object.__setattr__(new, "_R", None)
        object.__setattr__(new, "_mu0", self._mu0)
        object.__setattr__(new, "_H", self._H)
        object.__setattr__(new, "_reward_noise", noise)
        object.__setattr__(new, "_name", name if name is not None else self._name)
        object.__setattr__(new, "_csr", self._csr)
        object.__setattr__(new, "_density", self._density)
        object.__setattr__(new, "_reward_range", self._reward_range)
        object.__setattr__(new, "_transition_rewards", None)  # the new means replace them
        object.__setattr__(new, "_feasible", self._feasible)
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
            if self._P_stages is not None:
                density = np.count_nonzero(self._P_stages) / self._P_stages.size
            else:  # from_csr stores positive entries only: the same count
                G, S, A = self._shape
                density = self._csr.nnz / (G * S * A * S)
            object.__setattr__(self, "_density", density)
        return float(self._density)


def _dense_from_csr(csr: SparseTransitions, G: int, S: int, A: int) -> np.ndarray:
    n_bytes = 8.0 * G * S * A * S
    if n_bytes > DENSE_TRANSITIONS_LIMIT_BYTES:
        raise ValueError(
            f"the dense transitions P of this sparse model (G, S, A, S) = ({G}, {S}, {A}, {S}) would need "
            f"{n_bytes:.3g} bytes, more than mdpkit.mdp.DENSE_TRANSITIONS_LIMIT_BYTES = "
            f"{float(DENSE_TRANSITIONS_LIMIT_BYTES):.3g}; use sparse_transitions() (solve, evaluate and "
            "simulate do) or raise the limit")
    dense = np.zeros((G * S * A, S))
    rows = np.repeat(np.arange(G * S * A), np.diff(csr.indptr))
    dense[rows, csr.indices] = csr.data
    return dense.reshape(G, S, A, S)


def _csr_row_name(row: int, S: int, A: int, stationary: bool) -> str:
    g, rest = divmod(int(row), S * A)
    s, a = divmod(rest, A)
    return f"(s={s}, a={a})" if stationary else f"(h={g}, s={s}, a={a})"


def _csr_int_array(name: str, x) -> np.ndarray:
    check_not_complex(name, x)
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise ArgumentTypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        k = int(np.argmax(arr > np.iinfo(np.int64).max))
        raise ValueError(f"{name}[{k}] = {int(arr[k])} does not fit in int64")
    return np.array(arr, dtype=np.int64, order="C", copy=True)


def _validate_csr(indptr, indices, data, G: int, S: int, A: int) -> SparseTransitions:
    """Validated read-only copies of CSR transitions over ``G * S * A`` rows of ``S`` columns."""
    stationary = G == 1
    n_rows = G * S * A
    indptr = _csr_int_array("indptr", indptr)
    indices = _csr_int_array("indices", indices)
    data = as_float_array("data", data, ndim=1, axis_names=("k",))
    if indptr.shape[0] != n_rows + 1:
        raise ValueError(f"indptr must have G * S * A + 1 = {n_rows + 1} entries (G = {G} stored "
                         f"stage{'s' if G > 1 else ''}, S = {S}, A = {A} from R), got {indptr.shape[0]}")
    if indptr[0] != 0:
        raise ValueError(f"indptr[0] must be 0, got {int(indptr[0])}")
    counts = np.diff(indptr)
    if (counts < 0).any():
        r = int(np.argmax(counts < 0))
        raise ValueError(f"indptr must be non-decreasing: indptr[{r + 1}] = {int(indptr[r + 1])} < "
                         f"indptr[{r}] = {int(indptr[r])} at row {_csr_row_name(r, S, A, stationary)}")
    nnz = int(indptr[-1])
    if indices.shape[0] != nnz or data.shape[0] != nnz:
        raise ValueError(f"indices and data must have indptr[-1] = {nnz} entries, got "
                         f"{indices.shape[0]} and {data.shape[0]}")
    row_of = np.repeat(np.arange(n_rows, dtype=np.int64), counts)  # row of every stored entry
    bad = (indices < 0) | (indices >= S)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"indices[{k}] = {int(indices[k])} at {_csr_row_name(row_of[k], S, A, stationary)} "
                         f"is not a state in [0, {S})")
    # strictly increasing within a row: no repeated successor, and the order the kernels sum in
    same_row = row_of[1:] == row_of[:-1]
    bad = same_row & (indices[1:] <= indices[:-1])
    if bad.any():
        k = int(np.argmax(bad)) + 1
        what = "repeats" if indices[k] == indices[k - 1] else "is smaller than"
        raise ValueError(f"indices[{k}] = {int(indices[k])} at {_csr_row_name(row_of[k], S, A, stationary)} "
                         f"{what} indices[{k - 1}] = {int(indices[k - 1])}: successors must be strictly "
                         "increasing within a row (sorted, each stored once)")
    bad = data <= 0.0
    if bad.any():
        k = int(np.argmax(bad))
        at = _csr_row_name(row_of[k], S, A, stationary)
        if data[k] < 0:
            raise ValueError(f"data[{k}] = {float(data[k])!r} at {at} is a negative probability")
        raise ValueError(f"data[{k}] = 0.0 at {at}, successor {int(indices[k])}: store only successors "
                         "with positive probability")
    sums = np.bincount(row_of, weights=data, minlength=n_rows)
    off = np.abs(sums - 1.0) > PROB_ATOL
    if off.any():
        r = int(np.argmax(off))
        raise ValueError(f"data at row {_csr_row_name(r, S, A, stationary)} (entries {int(indptr[r])}.."
                         f"{int(indptr[r + 1])}) sums to {float(sums[r]):.12g}, not 1 (tolerance "
                         f"{PROB_ATOL:g}); rows are not renormalised")
    return SparseTransitions(indptr=readonly(indptr), indices=readonly(indices), data=readonly(data))


def _check_reward_noise(reward_noise) -> str:
    if not isinstance(reward_noise, str):
        raise ArgumentTypeError(f"reward_noise must be one of {REWARD_NOISE}, got {show(reward_noise)}")
    if reward_noise not in REWARD_NOISE:
        raise ValueError(f"reward_noise must be one of {REWARD_NOISE}, got {reward_noise!r}")
    return reward_noise


def _validate_rewards(name, R, H, S, A, *, allow_stationary, reward_range=(0.0, 1.0)):
    axes = _RAX if np.ndim(R) == 3 else _RAX[1:]  # errors index the array as the caller wrote it
    R = as_float_array(name, R, ndim=(2, 3) if allow_stationary else 3, axis_names=axes)
    if R.ndim == 2 and R.shape != (S, A):
        raise ValueError(f"{name} must have shape (S, A) = ({S}, {A}) or (H, S, A) = ({H}, {S}, {A}), "
                         f"got {R.shape}")
    if R.ndim == 3 and R.shape != (H, S, A):
        raise ValueError(f"{name} must have shape (H, S, A) = ({H}, {S}, {A}) matching P, got {R.shape}")
    check_in_range(name, R, reward_range[0], reward_range[1], axes)
    return R[None] if R.ndim == 2 else R  # stored once; TabularMDP.R broadcasts it on request


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


def _validate_reward_range(reward_range) -> tuple[float, float]:
    try:
        lo, hi = reward_range
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"reward_range must be a pair (lo, hi) of finite numbers, got {show(reward_range)}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"reward_range must be (lo, hi) with finite lo < hi, got ({lo!r}, {hi!r})")
    return lo, hi


def _validate_transition_rewards(transition_rewards, H, S, A, reward_range):
    names = ("h", "s", "a", "s'") if np.ndim(transition_rewards) == 4 else ("s", "a", "s'")
    TR = as_float_array("transition_rewards", transition_rewards, ndim=(3, 4), axis_names=names)
    if TR.ndim == 3:
        TR = TR[None]
    if TR.shape[1:] != (S, A, S) or TR.shape[0] not in (1, H):
        raise ValueError(f"transition_rewards must have shape (H, S, A, S) = ({H}, {S}, {A}, {S}), "
                         f"(1, S, A, S) or (S, A, S), got {np.shape(transition_rewards)}")
    check_in_range("transition_rewards", TR if len(names) == 4 else TR[0], reward_range[0], reward_range[1], names)
    return np.ascontiguousarray(TR)


def _expected_rewards(P_stages, TR, H, reward_range):
    """``R[h, s, a] = sum_s' P[h, s, a, s'] TR[h, s, a, s']``, shape (1, S, A) if both are stationary else (H, S, A)."""
    if P_stages.shape[0] == 1 and TR.shape[0] == 1:
        R = np.einsum("sat,sat->sa", P_stages[0], TR[0])[None]  # stored once, like stationary R
    else:
        R = np.einsum("hsat,hsat->hsa", np.broadcast_to(P_stages, (H,) + P_stages.shape[1:]),
                      np.broadcast_to(TR, (H,) + TR.shape[1:]))
    # A mean of values in [lo, hi] lies in [lo, hi]; rows of P sum to 1 only within 1e-9, so
    # the float sum can overshoot by that relative amount -- clip that rounding, nothing else.
    return np.ascontiguousarray(np.clip(R, reward_range[0], reward_range[1]))


def _validate_feasible(feasible, H, S, A):
    arr = np.asarray(feasible)
    if arr.dtype != np.bool_:
        raise ArgumentTypeError(f"feasible must be a bool array of shape (S, A) or (H, S, A), got dtype {arr.dtype}")
    if arr.shape == (S, A):
        arr = np.broadcast_to(arr, (H, S, A))
    elif arr.shape != (H, S, A):
        raise ValueError(f"feasible must have shape (S, A) = ({S}, {A}) or (H, S, A) = ({H}, {S}, {A}), "
                         f"got {arr.shape}")
    none = ~arr.any(axis=2)
    if none.any():
        h, s = np.unravel_index(int(np.argmax(none)), none.shape)
        raise ValueError(f"feasible[h={h}, s={s}, :] is all False: every state needs a feasible action")
    return np.array(arr)


def check_unit_reward_range(mdp: "TabularMDP", algorithm: str) -> None:
    """Raise a ValueError unless ``mdp.reward_range`` lies in ``[0, 1]``, which ``algorithm``'s theory
    assumes, and every action is feasible (``algorithm`` explores all of them)."""
    lo, hi = mdp.reward_range
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{algorithm} assumes rewards in [0, 1] (its bonuses and value caps are derived "
                         f"for that range), but mdp declares reward_range = ({lo!r}, {hi!r}); rescale the "
                         "rewards to [0, 1] first")
    if mdp.feasible is not None and not mdp.feasible.all():
        raise ValueError(f"{algorithm} lets every action be taken, but mdp has infeasible actions "
                         "(mdp.feasible); it does not support feasibility masks")


def validate_policy(policy, H: int, S: int, A: int, name: str = "policy", *, feasible=None) -> np.ndarray:
    """Validate a deterministic (H, S) int or stochastic (H, S, A) policy.

    ``feasible`` (bool (H, S, A), optional): the policy must take feasible actions only
    (a stochastic one must put zero probability on the others).

    Returns
    -------
    ndarray
        int64 of shape (H, S) or float64 of shape (H, S, A) (a validated copy).
    """
    arr = np.asarray(policy)
    if arr.shape == (H, S):
        arr = check_int_array(name, arr, shape=(H, S), upper=A, axis_names=("h", "s"))
        if feasible is not None:
            bad = ~np.take_along_axis(feasible, arr[:, :, None], axis=2)[:, :, 0]
            if bad.any():
                h, s = np.unravel_index(int(np.argmax(bad)), bad.shape)
                raise ValueError(f"{name}[h={h}, s={s}] = {arr[h, s]} is an infeasible action (mdp.feasible)")
        return arr
    if arr.shape == (H, S, A):
        arr = as_float_array(name, arr, shape=(H, S, A), axis_names=("h", "s", "a"))
        check_stochastic(name, arr, ("h", "s", "a"))
        if feasible is not None:
            bad = (arr > 0) & ~feasible
            if bad.any():
                h, s, a = np.unravel_index(int(np.argmax(bad)), bad.shape)
                raise ValueError(f"{name}[h={h}, s={s}, a={a}] = {float(arr[h, s, a])!r} puts probability on an "
                                 "infeasible action (mdp.feasible)")
        return arr
    # Shape first: an (S, A) table missing the H axis must not be reported as "not integer".
    raise ValueError(f"{name} must have shape (H, S) = ({H}, {S}) (deterministic) or "
                     f"(H, S, A) = ({H}, {S}, {A}) (stochastic), got {arr.shape}")
