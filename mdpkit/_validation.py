"""Input validation shared by every model and solver.

Every check raises :class:`ValueError` naming the argument, the first offending index and
its value (numbers shown as plain Python floats). Nothing is renormalised, clipped, truncated
or dropped: a model either is valid as given or is rejected.

An argument of the wrong *type* (a string where a number is expected, an array where a model
is expected, a complex array) raises :class:`ArgumentTypeError`, which is both a
``TypeError`` and a ``ValueError`` so that either ``except`` clause catches it.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

#: Tolerance on |sum of a probability row - 1|.
PROB_ATOL = 1e-9

#: Largest count accepted anywhere (kernels index with int64).
INT64_MAX = int(np.iinfo(np.int64).max)


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type; a ``TypeError`` that ``except ValueError`` also catches."""


def physical_memory_bytes() -> int:
    """Physical memory of this machine in bytes (a generous 2**64 if the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX systems
        return 2**64


def check_output_size(name: str, value: int, n_bytes: float, what: str) -> None:
    """Raise if an output of ``n_bytes`` bytes, requested through argument ``name = value``,
    cannot fit in this machine's memory -- up front, instead of a ``MemoryError`` mid-way."""
    limit = physical_memory_bytes()
    if n_bytes > limit:
        raise ValueError(f"{name} = {value} would need {float(n_bytes):.3g} bytes for {what}, more than "
                         f"this machine's {float(limit):.3g} bytes of memory")


def check_model_size(sizes: dict, n_bytes: float, what: str) -> None:
    """Raise naming every size argument in ``sizes`` if a model of ``n_bytes`` bytes cannot fit
    in memory (instead of numpy's ``MemoryError`` or "array is too big" deep inside)."""
    limit = physical_memory_bytes()
    if n_bytes > limit:
        given = ", ".join(f"{k} = {int(v)}" for k, v in sizes.items())
        raise ValueError(f"{given} would need {float(n_bytes):.3g} bytes for {what}, more than this "
                         f"machine's {float(limit):.3g} bytes of memory")


def show_float(x) -> str:
    """A number as a plain float for messages: ``0.98``, ``1e+308``, ``nan`` (never ``np.float64(...)``)."""
    return repr(float(x))


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
    check_not_complex(name, x)
    try:
        arr = np.array(x, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ArgumentTypeError(f"{name} must be a numeric array; could not convert: {exc}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, got shape {arr.shape}")
    if shape is not None:
        check_shape(name, arr, shape)
    check_finite(name, arr, axis_names)
    return arr


def check_not_complex(name: str, x) -> None:
    """Raise on complex input: converting it to float64 would silently drop the imaginary part."""
    if isinstance(x, (complex, np.complexfloating)) or (
            isinstance(x, np.ndarray) and x.dtype.kind == "c"):
        raise ArgumentTypeError(f"{name} must be real, got a complex {type(x).__name__ if not isinstance(x, np.ndarray) else 'array'}; "
                                "the imaginary part is not dropped silently")
    if isinstance(x, (list, tuple)):
        try:
            kind = np.asarray(x).dtype.kind
        except (TypeError, ValueError):
            return  # ragged or not numeric: the conversion reports it
        if kind == "c":
            raise ArgumentTypeError(f"{name} must be real, got complex entries; "
                                    "the imaginary part is not dropped silently")


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
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {show_float(arr[idx])} is not finite")


def check_in_range(name: str, arr: np.ndarray, lo: float, hi: float,
                   axis_names: tuple[str, ...] | None = None) -> None:
    """Raise on the first entry of ``arr`` outside ``[lo, hi]``."""
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {show_float(arr[idx])} is outside [{lo}, {hi}]")


def check_sums_finite(name: str, arr: np.ndarray, n_terms: int, what: str,
                      axis_names: tuple[str, ...] | None = None) -> None:
    """Raise unless ``n_terms * |arr|`` is finite everywhere.

    A value is a sum of up to ``n_terms`` probability-weighted entries (``H`` stages of
    rewards), so this is exactly the condition under which no partial sum can overflow to
    ``inf`` (and then to ``nan`` as ``inf - inf``).
    """
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(np.abs(arr) * float(n_terms))
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {show_float(arr[idx])}: {what} "
                         f"({n_terms:g} x this entry) overflows float64; values would be inf or nan")


def check_stochastic(name: str, arr: np.ndarray, axis_names: tuple[str, ...] | None = None,
                     atol: float = PROB_ATOL) -> None:
    """Raise unless every row along the last axis of ``arr`` is a probability distribution.

    Checks (in this order) non-negativity of every entry, then that each row sums to 1
    within ``atol``. The error names the first offending entry or row.
    """
    neg = arr < 0
    if neg.any():
        idx = np.unravel_index(int(np.argmax(neg)), arr.shape)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {show_float(arr[idx])} is a negative probability")
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
            raise ArgumentTypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    # Range check before the int64 cast: uint64 2**64 - 1 (or the float 1e308) must be
    # reported as itself, not as what it wraps to.
    bad = (arr < 0) | (arr >= upper)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), arr.shape)
        entry = arr[idx]
        shown = int(entry) if arr.dtype.kind in "iu" else show_float(entry)
        raise ValueError(f"{name}{_index_str(idx, axis_names)} = {shown} is not in [0, {upper})")
    return np.array(arr, dtype=np.int64, order="C", copy=True)


def show(value) -> str:
    """``repr`` for error messages, numpy scalars shown as Python ones (``0.6``, not ``np.float64(0.6)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_positive_int(name: str, value, minimum: int = 1, maximum: int = INT64_MAX) -> int:
    """Return ``value`` as int, raising unless it is an integer in ``[minimum, maximum]``.

    The default ``maximum`` is the int64 limit: counts are stored and indexed as int64.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {show(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {int(value)}")
    return int(value)


def check_episodes(K, per_episode_bytes: float, what: str, name: str = "K") -> int:
    """An episode count ``>= 1`` whose per-episode outputs (``per_episode_bytes`` each) fit in memory."""
    K = check_positive_int(name, K)
    check_output_size(name, K, float(K) * per_episode_bytes, what)
    return K


def check_real(name: str, value, *, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` as a float, raising unless it is a finite real number in the interval.

    Parameters
    ----------
    name : str
    value
        A Python or numpy real scalar (bools, complex numbers, strings and arrays are rejected
        with :class:`ArgumentTypeError`).
    lo, hi : float
        Bounds; ``lo_open`` / ``hi_open`` exclude them.
    """
    if (lo, hi) == (-math.inf, math.inf):
        want = "a finite real number"
    elif hi == math.inf:
        want = f"a finite number {'>' if lo_open else '>='} {lo:g}"
    elif lo == -math.inf:
        want = f"a finite number {'<' if hi_open else '<='} {hi:g}"
    else:
        want = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be {want}, got {type(value).__name__} {show(value)}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(f"{name} must be {want}, got {int(value)} (not a finite float64)") from None
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo) or (hi_open and x == hi):
        raise ValueError(f"{name} must be {want}, got {x!r}")
    return x


def check_instance(name: str, value, cls: type, label: str):
    """Return ``value``, raising unless it is a ``cls`` (``label`` is how the message spells it).

    Catches a raw array or the wrong model class before it fails deep inside with an
    ``AttributeError``; raises :class:`ArgumentTypeError`.
    """
    if not isinstance(value, cls):
        raise ArgumentTypeError(f"{name} must be a {label}, got {type(value).__name__}")
    return value


def readonly(arr: np.ndarray) -> np.ndarray:
    """Mark ``arr`` read-only and return it."""
    arr.flags.writeable = False
    return arr


def check_seed(seed, name: str = "seed"):
    """Accept a non-negative int or a SeedSequence (both reproducible); return it unchanged
    (ints as Python ints). Anything else raises naming ``name``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if seed >= 0:
            return int(seed)
        raise ValueError(f"{name} must be a non-negative int or a numpy.random.SeedSequence, got {int(seed)}")
    raise ArgumentTypeError(f"{name} must be a non-negative int or a numpy.random.SeedSequence, "
                            f"got {type(seed).__name__} {show(seed)}")


def check_optional_seed(seed, name: str = "seed"):
    """Like :func:`check_seed`, also accepting ``None`` (fresh OS entropy) and a
    ``numpy.random.Generator`` (used as given)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_seed(seed, name)
