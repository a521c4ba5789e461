"""Input validation shared by every model and solver.

Every check raises :class:`ValueError` naming the argument, the first offending index and
its value. Nothing is renormalised, clipped or dropped: a model either is valid as given or
is rejected.
"""

from __future__ import annotations

import numpy as np

#: Tolerance on |sum of a probability row - 1|.
PROB_ATOL = 1e-9


def _index_str(idx: tuple[int, ...], axis_names: tuple[str, ...] | None) -> str:
    if len(idx) == 0:
        return ""
    if axis_names is None or len(axis_names) != len(idx):
        return "[" + ", ".join(str(int(i)) for i in idx) + "]"
    return "[" + ", ".join(f"{n}={int(i)}" for n, i in zip(axis_names, idx)) + "]"


def as_float_array(name: str, x, *, ndim: int | tuple[int, ...] | None = None,
                   shape: tuple[int | None, ...] | None = None,
                   axis_names: tuple[str, ...] | None = None) -> np.ndarray:
    """Convert ``x`` to a float64 ndarray and check its rank, shape and finiteness.

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    x : array_like
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    shape : tuple of (int or None), optional
        Expected shape; ``None`` entries are free.
    axis_names : tuple of str, optional
        Names of the axes, used to report the offending index (e.g. ``("h", "s", "a")``).

    Returns
    -------
    ndarray of float64
        A new C-contiguous array (never a view of the caller's data).
    """
    try:
        arr = np.array(x, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; could not convert: {exc}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {arr.shape}")
    if shape is not None:
        check_shape(name, arr, shape)
    check_finite(name, arr, axis_names)
    return arr


def check_shape(name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> None:
    """Raise unless ``arr.shape`` matches ``shape`` (``None`` = any size on that axis)."""
    if arr.ndim != len(shape) or any(e is not None and e != g for e, g in zip(shape, arr.shape)):
        entries = ["*" if e is None else str(e) for e in shape]
        want = f"({entries[0]},)" if len(entries) == 1 else "(" + ", ".join(entries) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


def check_finite(name: str, arr: np.ndarray, axis_names: tuple[str, ...] | None = None) -> None:
    """Raise on the first NaN or infinite entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {float(arr[idx])!r} is not finite")


def check_in_range(name: str, arr: np.ndarray, lo: float, hi: float,
                   axis_names: tuple[str, ...] | None = None) -> None:
    """Raise on the first entry of ``arr`` outside ``[lo, hi]``."""
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {float(arr[idx])!r} is outside [{lo}, {hi}]")


def check_stochastic(name: str, arr: np.ndarray, axis_names: tuple[str, ...] | None = None,
                     atol: float = PROB_ATOL) -> None:
    """Raise unless every row along the last axis of ``arr`` is a probability distribution.

    Checks (in this order) non-negativity of every entry, then that each row sums to 1
    within ``atol``. The error names the first offending entry or row.
    """
    neg = arr < 0
    if neg.any():
        idx = np.unravel_index(int(np.argmax(neg)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {float(arr[idx])!r} is a negative probability")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > atol
    if off.any():
        idx = np.unravel_index(int(np.argmax(off)), sums.shape) if sums.ndim else ()
        row_names = axis_names[:-1] if axis_names is not None else None
        total = float(sums[idx]) if sums.ndim else float(sums)
        shown = f"{total:.12g}"  # 0.98, not the round-off 0.9800000000000002 ...
        if float(shown) == 1.0:  # ... unless 12 digits cannot tell it from 1 (atol < 1e-12)
            shown = repr(total)
        raise ValueError(
            f"{name}{_index_str(idx, row_names)} sums to {shown}, not 1 (tolerance {atol:g}); "
            "rows are not renormalised")


def check_int_array(name: str, x, *, shape: tuple[int | None, ...], upper: int,
                    axis_names: tuple[str, ...] | None = None) -> np.ndarray:
    """Convert ``x`` to an int64 array of the given shape with entries in ``[0, upper)``."""
    arr = np.asarray(x)
    check_shape(name, arr, shape)  # before the dtype: a wrong shape is the likelier mistake
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass  # integral floats are accepted as indices
        else:
            raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.int64, order="C", copy=True)
    bad = (arr < 0) | (arr >= upper)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {int(arr[idx])} is not in [0, {upper})")
    return arr


def show(value) -> str:
    """``repr`` for error messages, numpy scalars shown as Python ones (``0.6``, not ``np.float64(0.6)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {show(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def check_instance(name: str, value, cls: type, label: str):
    """Return ``value``, raising unless it is a ``cls`` (``label`` is how the message spells it).

    Catches a raw array or the wrong model class before it fails deep inside with an
    ``AttributeError``.
    """
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {label}, got {type(value).__name__}")
    return value


def readonly(arr: np.ndarray) -> np.ndarray:
    """Mark ``arr`` read-only and return it."""
    arr.flags.writeable = False
    return arr


def check_seed(seed):
    """Accept a non-negative int or a SeedSequence (both reproducible); return it unchanged."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return int(seed)
    raise ValueError(f"seed must be a non-negative int or a numpy.random.SeedSequence, got {seed!r}")
