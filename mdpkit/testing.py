"""Hypothesis strategies for testing code that consumes :class:`~mdpkit.TabularMDP` models.

The strategies build *valid* models and policies whose awkward corners occur often: one
state, one action, horizon one, transition rows with exact zeros (sparse or deterministic
rows) as well as rows with full support, rewards exactly ``0`` and ``1``, tied rewards (so
tied optimal actions), and initial distributions that are either a fixed state or spread
out. Large arrays are drawn from a seeded :class:`numpy.random.Generator` (the seed is drawn
by hypothesis, so failures replay and shrink), while the *kind* of each array (deterministic,
uniform, sparse, full, mixed rows; constant, 0/1, gridded or uniform rewards) is drawn by
hypothesis itself, so every edge case is reachable and the simplest kinds are what a failing
example shrinks to.

Requires ``hypothesis`` (``pip install mdpkit[test]``).

Example
-------
>>> from hypothesis import given, settings, strategies as st
>>> import mdpkit
>>> from mdpkit.testing import tabular_mdps, deterministic_policies
>>>
>>> @settings(max_examples=25, deadline=None)
... @given(st.data(), tabular_mdps(S=st.integers(1, 5), A=2, H=st.integers(1, 4)))
... def test_optimal_value_dominates(data, mdp):
...     policy = data.draw(deterministic_policies(mdp))
...     v_star = mdpkit.solve(mdp).value
...     assert mdpkit.evaluate(mdp, policy).value <= v_star + 1e-9
>>>
>>> test_optimal_value_dominates()

Every size argument (``S``, ``A``, ``H``, ``n``) accepts either an ``int`` or a strategy of
ints. Hypothesis's own profiles (see ``tests/conftest.py``) control the number of examples.
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError(
        "mdpkit.testing needs hypothesis: pip install mdpkit[test] (or pip install hypothesis)"
    ) from exc

from .mdp import REWARD_NOISE, TabularMDP

__all__ = [
    "ROW_KINDS",
    "REWARD_KINDS",
    "distributions",
    "deterministic_policies",
    "stochastic_policies",
    "tabular_mdps",
]

#: Kinds of probability rows, simplest first (what failing examples shrink towards).
#: ``"deterministic"``: one-hot; ``"uniform"``: 1/n everywhere (all tied); ``"sparse"``:
#: Dirichlet on a random support (exact zeros elsewhere); ``"full"``: Dirichlet with full
#: support; ``"mixed"``: each row independently of one of the four kinds.
ROW_KINDS = ("deterministic", "uniform", "sparse", "full", "mixed")

#: Kinds of reward tables, simplest first. ``"constant"``: one value (0, 1/2 or 1) everywhere;
#: ``"binary"``: only 0 and 1; ``"grid"``: multiples of 1/4 (many ties); ``"uniform"``:
#: uniform on [0, 1) with about a fifth of the entries set to exactly 0 and a fifth to exactly 1.
REWARD_KINDS = ("constant", "binary", "grid", "uniform")

_SEEDS = st.integers(0, 2**32 - 1)
_PURE_KINDS = ROW_KINDS[:4]


# ---------------------------------------------------------------------------- helpers
def _size(name: str, value, minimum: int = 1) -> SearchStrategy:
    """An int (validated) or a strategy of ints, as a strategy."""
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int or a hypothesis strategy of ints, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return st.just(int(value))


def _draw_size(draw, name: str, strategy: SearchStrategy, minimum: int = 1) -> int:
    value = draw(strategy)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"the strategy for {name} must produce ints >= {minimum}, drew {value!r}")
    return int(value)


def _random_rows(rng: np.random.Generator, n_rows: int, n: int, kind: str) -> np.ndarray:
    """``n_rows`` probability vectors of length ``n`` of the given kind (see :data:`ROW_KINDS`).

    Plain numpy (no hypothesis); every row sums to 1 up to rounding (well within 1e-9).

    Returns
    -------
    ndarray, shape (n_rows, n)
    """
    if kind not in ROW_KINDS:
        raise ValueError(f"kind must be one of {ROW_KINDS}, got {kind!r}")
    if kind == "mixed":
        kinds = rng.integers(0, len(_PURE_KINDS), size=n_rows)
    else:
        kinds = np.full(n_rows, _PURE_KINDS.index(kind))
    out = np.empty((n_rows, n))
    # deterministic rows
    rows = np.flatnonzero(kinds == 0)
    out[rows] = 0.0
    out[rows, rng.integers(0, n, size=rows.size)] = 1.0
    # uniform rows
    out[kinds == 1] = 1.0 / n
    # sparse and full rows: Dirichlet(alpha) with alpha in {0.3, 1, 5} per row
    rows = np.flatnonzero(kinds >= 2)
    if rows.size:
        alpha = rng.choice(np.array([0.3, 1.0, 5.0]), size=(rows.size, 1))
        g = rng.standard_gamma(np.broadcast_to(alpha, (rows.size, n)))
        g = np.maximum(g, 1e-12)  # full support really is full, even if a gamma draw underflows
        sparse = kinds[rows] == 2
        if sparse.any():
            keep = rng.random((int(sparse.sum()), n)) < rng.random((int(sparse.sum()), 1))
            keep[np.arange(keep.shape[0]), rng.integers(0, n, size=keep.shape[0])] = True
            g[sparse] = np.where(keep, g[sparse], 0.0)
        out[rows] = g / g.sum(axis=1, keepdims=True)
    return out


def _random_rewards(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Mean rewards in ``[0, 1]`` of the given kind (see :data:`REWARD_KINDS`); plain numpy."""
    if kind == "constant":
        return np.full(shape, rng.choice(np.array([0.0, 0.5, 1.0])))
    if kind == "binary":
        return (rng.random(shape) < rng.random()).astype(np.float64)
    if kind == "grid":
        return rng.integers(0, 5, size=shape) / 4.0
    if kind == "uniform":
        R = rng.random(shape)
        u = rng.random(shape)
        R[u < 0.2] = 0.0
        R[u > 0.8] = 1.0
        return R
    raise ValueError(f"kind must be one of {REWARD_KINDS}, got {kind!r}")


# ---------------------------------------------------------------------------- strategies
@st.composite
def _distributions(draw, n_strategy):
    n = _draw_size(draw, "n", n_strategy)
    kind = draw(st.sampled_from(_PURE_KINDS))
    rng = np.random.default_rng(draw(_SEEDS))
    return _random_rows(rng, 1, n, kind)[0]


def distributions(n=st.integers(1, 6)) -> SearchStrategy[np.ndarray]:
    """Probability vectors of length ``n``.

    Parameters
    ----------
    n : int or strategy of int
        Length (``>= 1``).

    Returns
    -------
    strategy of ndarray, shape (n,), float64
        Non-negative entries summing to 1 (to rounding): one-hot, uniform, sparse (exact
        zeros) or full-support vectors.
    """
    return _distributions(_size("n", n))


@st.composite
def _tabular_mdps(draw, S_st, A_st, H_st, stationary, noise_st):
    S = _draw_size(draw, "S", S_st)
    A = _draw_size(draw, "A", A_st)
    H = _draw_size(draw, "H", H_st)
    is_stat = draw(st.booleans()) if stationary is None else stationary
    noise = draw(noise_st)
    row_kind = draw(st.sampled_from(ROW_KINDS))
    reward_kind = draw(st.sampled_from(REWARD_KINDS))
    fixed_start = draw(st.booleans())
    seed = draw(_SEEDS)
    rng = np.random.default_rng(seed)

    n_stages = 1 if is_stat else H
    P = _random_rows(rng, n_stages * S * A, S, row_kind).reshape(n_stages, S, A, S)
    # A stationary model may still have stage-dependent rewards.
    stage_rewards = (not is_stat) or bool(rng.integers(2))
    R = _random_rewards(rng, (H, S, A) if stage_rewards else (S, A), reward_kind)
    mu0 = int(rng.integers(S)) if fixed_start else _random_rows(rng, 1, S, "mixed")[0]
    name = (f"tabular_mdps(seed={seed}, rows={row_kind!r}, rewards={reward_kind!r}, "
            f"start={'fixed' if fixed_start else 'distribution'})")
    if is_stat:
        return TabularMDP.stationary(P[0], R, H, mu0, reward_noise=noise, name=name)
    return TabularMDP(P, R, mu0, reward_noise=noise, name=name)


def tabular_mdps(S=st.integers(1, 6), A=st.integers(1, 4), H=st.integers(1, 5), *,
                 stationary: bool | None = None, reward_noise=None) -> SearchStrategy[TabularMDP]:
    """Valid finite-horizon :class:`~mdpkit.TabularMDP` instances.

    Parameters
    ----------
    S, A, H : int or strategy of int
        Numbers of states, actions and stages (each ``>= 1``).
    stationary : bool or None
        ``True``: built with :meth:`TabularMDP.stationary` (transitions stored once; rewards
        either ``(S, A)`` or stage-dependent ``(H, S, A)``); ``False``: stage-dependent
        transitions ``(H, S, A, S)``; ``None`` (default): either.
    reward_noise : str, strategy of str, or None
        ``"deterministic"`` or ``"bernoulli"``; ``None`` (default): either.

    Returns
    -------
    strategy of TabularMDP
        Transition rows of one of :data:`ROW_KINDS` (so exact zeros, one-hot rows and full
        support all occur); rewards of one of :data:`REWARD_KINDS` (exact 0 and 1, ties);
        ``mu0`` either a fixed state or a distribution (possibly with zeros). The model's
        ``name`` records the seed and kinds, so a failing example can be rebuilt.
    """
    S_st, A_st, H_st = _size("S", S), _size("A", A), _size("H", H)
    if stationary is not None and not isinstance(stationary, (bool, np.bool_)):
        raise ValueError(f"stationary must be True, False or None, got {stationary!r}")
    if reward_noise is None:
        noise_st = st.sampled_from(REWARD_NOISE)
    elif isinstance(reward_noise, SearchStrategy):
        noise_st = reward_noise
    elif reward_noise in REWARD_NOISE:
        noise_st = st.just(reward_noise)
    else:
        raise ValueError(f"reward_noise must be one of {REWARD_NOISE}, a strategy or None, "
                         f"got {reward_noise!r}")
    return _tabular_mdps(S_st, A_st, H_st, None if stationary is None else bool(stationary), noise_st)


def _check_mdp(mdp) -> None:
    if not isinstance(mdp, TabularMDP):
        raise ValueError(f"mdp must be a TabularMDP, got {type(mdp).__name__}")


@st.composite
def _deterministic_policies(draw, H, S, A):
    kind = draw(st.sampled_from(("zeros", "constant", "random")))
    rng = np.random.default_rng(draw(_SEEDS))
    if kind == "zeros":
        return np.zeros((H, S), dtype=np.int64)
    if kind == "constant":
        return np.full((H, S), rng.integers(A), dtype=np.int64)
    return rng.integers(0, A, size=(H, S), dtype=np.int64)


def deterministic_policies(mdp: TabularMDP) -> SearchStrategy[np.ndarray]:
    """Deterministic Markov policies for ``mdp``.

    Returns
    -------
    strategy of ndarray, shape (H, S), int64
        ``policy[h, s]`` in ``[0, A)``: all-zeros, one constant action, or uniformly random actions.
    """
    _check_mdp(mdp)
    return _deterministic_policies(mdp.H, mdp.S, mdp.A)


@st.composite
def _stochastic_policies(draw, H, S, A):
    kind = draw(st.sampled_from(ROW_KINDS))
    rng = np.random.default_rng(draw(_SEEDS))
    return _random_rows(rng, H * S, A, kind).reshape(H, S, A)


def stochastic_policies(mdp: TabularMDP) -> SearchStrategy[np.ndarray]:
    """Stochastic Markov policies for ``mdp``.

    Returns
    -------
    strategy of ndarray, shape (H, S, A), float64
        Each ``policy[h, s]`` a distribution over actions, of one of :data:`ROW_KINDS`
        (so deterministic policies written as one-hot rows, uniform policies and policies with
        zero-probability actions all occur).
    """
    _check_mdp(mdp)
    return _stochastic_policies(mdp.H, mdp.S, mdp.A)
