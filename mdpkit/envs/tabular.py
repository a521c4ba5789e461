"""Tabular instance library: random MDPs, RiverSwim, Deep Sea, the n-chain, gridworlds, bandits.

Every function returns a validated :class:`~mdpkit.TabularMDP` with ``name`` set; rewards are
mean rewards in ``[0, 1]``. Where the optimal value has a closed form the docstring gives it,
and ``tests/test_envs.py`` checks :func:`mdpkit.solve` against it.

Randomised instances take ``seed`` (``None``, an int, a :class:`numpy.random.SeedSequence` or a
:class:`numpy.random.Generator`); the same int or ``SeedSequence`` always gives the same instance.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    ArgumentTypeError,
    as_float_array,
    check_in_range,
    check_model_size,
    check_positive_int,
    check_real,
    show,
)
from ..mdp import TabularMDP

__all__ = ["GRID_MOVES", "bandit", "chain", "deep_sea", "gridworld", "gridworld_cells", "random_mdp", "riverswim"]

RANDOM_REWARDS = ("uniform", "binary", "sparse")


# ----------------------------------------------------------------------------- validation helpers
def _probability(name: str, value, *, lo: float = 0.0, hi: float = 1.0) -> float:
    if hi == math.inf:
        return check_real(name, value, lo=lo)
    return check_real(name, value, lo=lo, hi=hi)


def _concentration(name: str, value, k: int) -> float:
    """A Dirichlet concentration: positive, normal (not subnormal) and with ``k * value`` finite
    (numpy's Dirichlet sums ``k`` gamma draws of mean ``value``; beyond that they overflow and
    the rows come out as zeros or NaN)."""
    value = check_real(name, value, lo=0.0, lo_open=True)
    if value < np.finfo(np.float64).tiny or not math.isfinite(k * value):
        raise ValueError(f"{name} = {value!r} is outside the range numpy's Dirichlet sampler handles for "
                         f"{k} categories: [{np.finfo(np.float64).tiny!r}, {np.finfo(np.float64).max / k:.3g}]")
    return value


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence) or (
            isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0):
        return np.random.default_rng(seed)
    message = f"seed must be None, a non-negative int, a SeedSequence or a Generator, got {show(seed)}"
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        raise ValueError(message)
    raise ArgumentTypeError(message)


def _seed_label(seed) -> str:
    if isinstance(seed, (int, np.integer)):
        return f", seed={int(seed)}"
    if isinstance(seed, np.random.SeedSequence):
        return f", seed=SeedSequence({seed.entropy})"
    return ""


# ----------------------------------------------------------------------------- sparse construction
#: Bytes per stored transition entry while a sparse instance is built (entry lists, their sort
#: and the CSR copy), for the up-front memory check.
_BYTES_PER_ENTRY = 64.0


def _csr_from_entries(n_rows: int, S: int, rows, cols, values):
    """CSR arrays of the matrix whose ``(rows[i], cols[i])`` entry gets ``values[i]`` added, in order.

    Adding in the given order from 0.0 reproduces, float for float, a dense construction that
    runs the same assignments and ``+=`` on a zero array; entries that end up exactly 0 are not
    stored (as the dense model's CSR form does not store them).

    Returns
    -------
    indptr : ndarray, shape (n_rows + 1,), int64
    indices : ndarray, shape (nnz,), int64
        Increasing within each row.
    data : ndarray, shape (nnz,)
    """
    keys = np.asarray(rows, dtype=np.int64) * S + np.asarray(cols, dtype=np.int64)
    unique_keys, slot = np.unique(keys, return_inverse=True)
    data = np.zeros(unique_keys.shape[0])
    np.add.at(data, slot, np.asarray(values, dtype=np.float64))  # unbuffered, in the given order
    stored = data != 0.0
    row_of, indices = np.divmod(unique_keys[stored], S)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=n_rows), out=indptr[1:])
    return indptr, indices, data[stored]


def _entries(*blocks):
    """Concatenate ``(rows, cols, values)`` blocks (arrays or scalars broadcast against rows)."""
    rows, cols, values = [], [], []
    for r, c, v in blocks:
        r = np.asarray(r, dtype=np.int64)
        rows.append(r)
        cols.append(np.broadcast_to(np.asarray(c, dtype=np.int64), r.shape))
        values.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(values)


# ----------------------------------------------------------------------------- random MDPs
def random_mdp(S: int, A: int, H: int, *, concentration: float = 1.0, n_successors: int | None = None,
               stationary: bool = True, reward: str = "uniform", mu0=0,
               reward_noise: str = "deterministic", seed=None) -> TabularMDP:
    """A random MDP with Dirichlet transition rows.

    Parameters
    ----------
    S, A, H : int
        States, actions, horizon (each ``>= 1``).
    concentration : float
        Dirichlet parameter (``> 0``) of every transition row: ``1`` is uniform on the simplex,
        small values give near-deterministic rows, large values near-uniform ones.
    n_successors : int, optional
        If given (``1 <= n_successors <= S``), each ``(h, s, a)`` moves only to ``n_successors``
        distinct successors drawn uniformly without replacement, with Dirichlet weights on them:
        a sparse instance with density ``n_successors / S`` (the CSR solver path).
    stationary : bool
        Draw one transition kernel and one reward table for all stages (``True``), or
        independent ones per stage.
    reward : {"uniform", "binary", "sparse"}
        Mean rewards: i.i.d. Uniform[0, 1); i.i.d. Bernoulli(1/2) values in {0, 1}; or zero
        everywhere except one uniformly drawn ``(s, a)`` pair (per stage when not stationary)
        with reward 1 -- a needle to be found.
    mu0 : int or array_like, shape (S,)
        Initial state (default 0) or distribution.
    reward_noise : {"deterministic", "bernoulli"}
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    TabularMDP
        Named ``"random_mdp(S=.., A=.., H=.., ...)"``.

    Notes
    -----
    Nothing structural makes these hard; they are the generic case for correctness tests,
    solver benchmarks and regret curves. No closed-form optimal value.
    """
    S, A, H = check_positive_int("S", S), check_positive_int("A", A), check_positive_int("H", H)
    if n_successors is not None:
        n_successors = check_positive_int("n_successors", n_successors)
        if n_successors > S:
            raise ValueError(f"n_successors must be <= S = {S}, got {n_successors}")
    conc = _concentration("concentration", concentration, S if n_successors is None else n_successors)
    if not isinstance(reward, str) or reward not in RANDOM_REWARDS:
        raise ValueError(f"reward must be one of {RANDOM_REWARDS}, got {show(reward)}")
    if not isinstance(stationary, (bool, np.bool_)):
        raise ArgumentTypeError(f"stationary must be True or False, got {show(stationary)}")
    G = 1 if stationary else H
    n_rows = G * S * A
    k = S if n_successors is None else n_successors
    if k == S:
        check_model_size({"S": S, "A": A, "H": H}, 8.0 * S * A * (G * S + 2 * H), "the transitions and rewards")
    else:  # stored sparse; the successor draw uses S uniforms per row, a chunk of rows at a time
        check_model_size({"S": S, "A": A, "n_successors": k}, _BYTES_PER_ENTRY * n_rows * k + 16.0 * S * A,
                         "the sparse transitions and rewards")
    rng = _rng(seed)

    weights = rng.dirichlet(np.full(k, conc), size=n_rows)
    if k == S:
        P = weights.reshape(G, S, A, S)
    else:
        # k distinct successors per row: the k smallest of S i.i.d. uniform keys. Drawn in chunks
        # of rows: the same stream of uniforms as one (n_rows, S) draw, in bounded memory.
        succ = np.empty((n_rows, k), dtype=np.int64)
        chunk = max(1, (1 << 22) // S)
        for start in range(0, n_rows, chunk):
            stop = min(n_rows, start + chunk)
            succ[start:stop] = np.argpartition(rng.random((stop - start, S)), k - 1, axis=1)[:, :k]
        order = np.argsort(succ, axis=1)  # CSR rows list successors in increasing order
        succ = np.take_along_axis(succ, order, axis=1)
        weights = np.take_along_axis(weights, order, axis=1)
        csr = _csr_from_entries(n_rows, S, np.repeat(np.arange(n_rows), k), succ.ravel(), weights.ravel())

    if reward == "uniform":
        R = rng.random((G, S, A))
    elif reward == "binary":
        R = (rng.random((G, S, A)) < 0.5).astype(np.float64)
    else:
        R = np.zeros((G, S * A))
        R[np.arange(G), rng.integers(0, S * A, size=G)] = 1.0
        R = R.reshape(G, S, A)
    name = (f"random_mdp(S={S}, A={A}, H={H}, concentration={conc:g}"
            + (f", n_successors={n_successors}" if n_successors is not None else "")
            + f", reward={reward!r}" + ("" if stationary else ", stationary=False") + _seed_label(seed) + ")")
    if k < S:
        return TabularMDP.from_csr(*csr, R[0] if stationary else R, H, mu0, stationary=stationary,
                                   reward_noise=reward_noise, name=name)
    if stationary:
        return TabularMDP.stationary(P[0], R[0], H, mu0, reward_noise=reward_noise, name=name)
    return TabularMDP(P, R, mu0, reward_noise=reward_noise, name=name)


# ----------------------------------------------------------------------------- RiverSwim
def riverswim(S: int = 6, H: int = 20, *, p_right: float = 0.35, p_left: float = 0.05,
              p_right_first: float = 0.6, p_left_last: float = 0.4, small: float = 0.005,
              large: float = 1.0, reward_noise: str = "deterministic") -> TabularMDP:
    """RiverSwim: a chain of ``S`` states against a current.

    Action 0 (swim left, with the current) moves one state left with certainty (state 0 stays).
    Action 1 (swim right, against the current) from an interior state moves right with
    probability ``p_right``, left with ``p_left`` and stays otherwise; from state 0 it moves
    right with ``p_right_first`` and stays otherwise; from state ``S - 1`` it falls back left with
    ``p_left_last`` and stays otherwise. Rewards: ``small`` for swimming left in state 0, ``large``
    for swimming right in state ``S - 1``, 0 elsewhere. Episodes start in state 0.

    Parameters
    ----------
    S : int
        Number of states, ``>= 2``.
    H : int
        Horizon (default 20, the episode length of Osband et al. 2013).
    p_right, p_left, p_right_first, p_left_last : float
        Transition probabilities (see above); ``p_right + p_left <= 1``.
    small, large : float
        Rewards in [0, 1].
    reward_noise : {"deterministic", "bernoulli"}

    Returns
    -------
    TabularMDP
        Stationary, with at most 3 successors per ``(s, a)`` (density about ``2 / S``): the
        instance for the sparse solver path at large ``S``.

    Notes
    -----
    Source: Strehl & Littman (2008), "An analysis of model-based interval estimation for Markov
    decision processes", JCSS 74(8), with the parameters of Osband, Russo & Van Roy (2013),
    "(More) efficient reinforcement learning via posterior sampling", NeurIPS, Figure 2: swimming
    right succeeds with probability 0.35 (0.6 from the left end), slips back with 0.05 (0.4 at
    the right end); rewards 5/1000 at the left end and 1 at the right end, already in [0, 1]
    (Strehl & Littman used 5 and 10000).

    What makes it hard: swimming left pays immediately, while the large reward is ``S - 1``
    unreliable steps away and each right-swim looks worthless until it is reached, so dithering
    (epsilon-greedy) exploration needs a number of episodes exponential in ``S``; optimism or
    posterior sampling solves it. No simple closed-form optimal value.
    """
    S = check_positive_int("S", S, minimum=2)
    H = check_positive_int("H", H)
    check_model_size({"S": S}, _BYTES_PER_ENTRY * 4 * S + 16.0 * 2 * S, "the sparse transitions and rewards")
    p_right = _probability("p_right", p_right)
    p_left = _probability("p_left", p_left)
    if p_right + p_left > 1.0:
        raise ValueError(f"p_right + p_left must be <= 1, got p_right={p_right}, p_left={p_left}")
    p_right_first = _probability("p_right_first", p_right_first)
    p_left_last = _probability("p_left_last", p_left_last)
    small = _probability("small", small)
    large = _probability("large", large)

    # Built in CSR form (row s * 2 + a): at most 3 successors per (s, a), never an (S, 2, S) array.
    idx = np.arange(S)
    inner = idx[1:-1]
    left, right = 2 * idx, 2 * idx + 1  # rows of (s, swim left) and (s, swim right)
    csr = _csr_from_entries(2 * S, S, *_entries(
        (left, np.maximum(idx - 1, 0), 1.0),
        (right[1:-1], inner - 1, p_left),
        (right[1:-1], inner + 1, p_right),
        (right[1:-1], inner, 1.0 - p_right - p_left),
        (right[[0, 0]], [0, 1], [1.0 - p_right_first, p_right_first]),
        (right[[S - 1, S - 1]], [S - 2, S - 1], [p_left_last, 1.0 - p_left_last]),
    ))
    R = np.zeros((S, 2))
    R[0, 0] = small
    R[S - 1, 1] = large
    return TabularMDP.from_csr(*csr, R, H, 0, reward_noise=reward_noise, name=f"riverswim(S={S}, H={H})")


# ----------------------------------------------------------------------------- Deep Sea
def deep_sea(N: int, *, move_cost: float = 0.01, stochastic: bool = False,
             randomize_actions: bool = False, reward_noise: str = "deterministic", seed=None) -> TabularMDP:
    """bsuite's Deep Sea: an ``N x N`` grid descended one row per step.

    The agent starts in the top-left cell; every step it descends one row and moves one column
    left or right (clipped at the edges); the episode lasts ``H = N`` steps. The row always
    equals the stage ``h``, so the state is the **column** alone: ``S = N``, ``A = 2``, and the
    grid cell at stage ``h`` is ``(row=h, column=s)``. Action 1 is *right* and action 0 *left*
    (unless ``randomize_actions``). Moving right costs ``move_cost / N``; moving right in the last
    column pays 1. Only the always-right path reaches that cell.

    Rewards are bsuite's plus ``move_cost / N`` on every step (the same constant at every step,
    so policies are ranked exactly as in bsuite) so that they lie in ``[0, 1]``: *left* pays
    ``move_cost / N``, *right* pays 0, *right* in column ``N - 1`` pays 1.

    Parameters
    ----------
    N : int
        Grid size and horizon, ``>= 1``.
    move_cost : float
        bsuite's ``unscaled_move_cost`` (default 0.01), in ``[0, 1]``.
    stochastic : bool
        bsuite's non-deterministic variant: *right* fails (the column stays) with probability
        ``1 / N``. bsuite's N(0, 1) reward noise at the bottom corners is dropped (it has mean 0).
    randomize_actions : bool
        As in bsuite: which action means *right* is drawn per cell (row, column) with ``seed``;
        the model is then stage-dependent.
    reward_noise : {"deterministic", "bernoulli"}
    seed : None, int, SeedSequence or Generator
        Only used with ``randomize_actions``.

    Returns
    -------
    TabularMDP
        Stationary unless ``randomize_actions``; at most 2 successors per ``(s, a)``.

    Notes
    -----
    Source: Osband et al. (2019), "Behaviour Suite for Reinforcement Learning" (bsuite),
    ``bsuite/environments/deep_sea.py``; Osband, Van Roy, Russo & Wen (2019), "Deep exploration
    via randomized value functions", JMLR.

    What makes it hard: every *right* costs, so locally the cheap move is *left*; a random
    policy reaches the reward with probability ``2^-(N-1)``: dithering needs exponentially many
    episodes, deep exploration polynomially many.

    Closed forms (with ``c = move_cost``):

    - deterministic: ``V* = 1`` (always right: ``N - 1`` zero rewards, then 1); always-left
      earns ``c``.
    - ``stochastic=True`` with ``c <= 1/e``: with ``p = 1 - 1/N``, always-right on the diagonal
      and always-left once off it is optimal, and
      ``V* = p^(N-1) + (1 - p) (c / N) sum_{h=0}^{N-2} p^h (N - 1 - h)``.
      (Off the diagonal the reward is out of reach, so *left* is best; on it, *right* is worth
      at least ``p^(N-1) >= 1/e >= c``, which bounds what *left* can still earn.)
    """
    N = check_positive_int("N", N)
    c = _probability("move_cost", move_cost)
    for flag, value in (("stochastic", stochastic), ("randomize_actions", randomize_actions)):
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(f"{flag} must be True or False, got {show(value)}")
    # at most 2 successors per (s, a), stored per stage with randomised actions
    check_model_size({"N": N}, (_BYTES_PER_ENTRY * 4 + 16.0) * N * (N if randomize_actions else 1),
                     "the sparse transitions and rewards")
    rng = _rng(seed)  # validated even when unused (randomize_actions=False): a bad seed is a mistake
    p = 1.0 - 1.0 / N if stochastic else 1.0
    cols = np.arange(N)
    left, right = np.maximum(cols - 1, 0), np.minimum(cols + 1, N - 1)
    # canonical (action 0 = left, 1 = right) dynamics, CSR row s * 2 + a
    indptr, indices, data = _csr_from_entries(2 * N, N, *_entries(
        (2 * cols, left, 1.0),
        (2 * cols + 1, right, p),
        (2 * cols + 1, cols, 1.0 - p),
    ))
    R = np.zeros((N, 2))
    R[:, 0] = c / N
    R[N - 1, 1] = 1.0
    label = f"deep_sea(N={N}" + (", stochastic" if stochastic else "")
    if not randomize_actions:
        return TabularMDP.from_csr(indptr, indices, data, R, N, 0, reward_noise=reward_noise, name=label + ")")
    flip = rng.integers(0, 2, size=(N, N)).astype(bool)  # flip[h, s]: action 0 means right
    # row (h * N + s) * 2 + a of stage h copies canonical row s * 2 + (a, or 1 - a if flipped)
    source = (2 * cols[None, :, None] + (np.arange(2)[None, None, :] ^ flip[:, :, None])).ravel()
    Rh = np.where(flip[:, :, None], R[None, :, ::-1], R[None])
    return TabularMDP.from_csr(*_copy_rows(indptr, indices, data, source), Rh, N, 0, stationary=False,
                               reward_noise=reward_noise,
                               name=label + ", randomize_actions" + _seed_label(seed) + ")")


def _copy_rows(indptr, indices, data, source):
    """CSR arrays whose row ``i`` is row ``source[i]`` of the given CSR arrays."""
    counts = indptr[source + 1] - indptr[source]
    new_indptr = np.zeros(source.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    # position in the source arrays of every new entry: its row's start plus its rank in the row
    take = np.repeat(indptr[source] - new_indptr[:-1], counts) + np.arange(new_indptr[-1])
    return new_indptr, indices[take], data[take]


# ----------------------------------------------------------------------------- n-chain
def chain(N: int, H: int | None = None, *, small: float = 0.001, large: float = 1.0, slip: float = 0.0,
          reward_noise: str = "deterministic") -> TabularMDP:
    """The n-chain of Osband et al. (2016): two rewarding ends, the far one worth more.

    States ``0 .. N-1`` in a line; action 0 moves left, action 1 moves right (clipped at the
    ends). With probability ``slip`` the move goes the other way. The episode starts in state 1
    and lasts ``H = N + 9`` steps by default.
    Moving left in state 0 pays ``small``, moving right in state ``N - 1`` pays ``large``.

    Parameters
    ----------
    N : int
        Chain length, ``>= 2``.
    H : int, optional
        Horizon; default ``N + 9``.
    small, large : float
        End rewards in ``[0, 1]``.
    slip : float
        Probability in ``[0, 1]`` that a move goes the opposite way.
    reward_noise : {"deterministic", "bernoulli"}

    Returns
    -------
    TabularMDP
        Stationary, at most 2 successors per ``(s, a)``.

    Notes
    -----
    Source: Osband, Blundell, Pritzel & Van Roy (2016), "Deep exploration via bootstrapped DQN",
    NeurIPS, Figure 3 (chain length N, start s2, N + 9 steps, rewards 1/1000 at s1 and 1 at sN).
    Reconstructed: rewards are paid for the action that keeps the agent at an end (the paper
    pays them for being at the end).

    What makes it hard: the small reward is one step away, the large one ``N - 2`` unrewarded
    steps away; dithering reaches it with probability about ``2^-(N-2)`` per episode. Unlike
    :func:`deep_sea`, the horizon leaves time to collect the reward repeatedly, and going left
    is never penalised.

    Closed form (``slip = 0``): the best policy either swims straight right or straight left, so
    ``V* = max(large * max(H - N + 2, 0), small * (H - 1))``.
    """
    N = check_positive_int("N", N, minimum=2)
    H = N + 9 if H is None else check_positive_int("H", H)
    check_model_size({"N": N}, _BYTES_PER_ENTRY * 4 * N + 16.0 * 2 * N, "the sparse transitions and rewards")
    small, large = _probability("small", small), _probability("large", large)
    slip = _probability("slip", slip)
    idx = np.arange(N)
    left, right = np.maximum(idx - 1, 0), np.minimum(idx + 1, N - 1)
    csr = _csr_from_entries(2 * N, N, *_entries(  # CSR row s * 2 + a
        (2 * idx, left, 1.0 - slip),
        (2 * idx, right, slip),
        (2 * idx + 1, right, 1.0 - slip),
        (2 * idx + 1, left, slip),
    ))
    R = np.zeros((N, 2))
    R[0, 0] = small
    R[N - 1, 1] = large
    name = f"chain(N={N}, H={H}" + (f", slip={slip:g}" if slip else "") + ")"
    return TabularMDP.from_csr(*csr, R, H, 1, reward_noise=reward_noise, name=name)


# ----------------------------------------------------------------------------- gridworld
#: Action order of :func:`gridworld`: (row, column) displacement of up, right, down, left.
GRID_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
_FREE = ".S "


def _parse_layout(layout) -> list[str]:
    if isinstance(layout, str):
        rows = [r for r in (line.strip() for line in layout.strip("\n").splitlines()) if r]
    elif isinstance(layout, (list, tuple)) and all(isinstance(r, str) for r in layout):
        rows = list(layout)
    else:
        raise ValueError(f"layout must be a string or a list of strings, got {type(layout).__name__}")
    if not rows or not rows[0]:
        raise ValueError("layout is empty")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ValueError(f"layout row {i} has length {len(r)}, expected {width} (rows must be equally long)")
    return rows


def gridworld_cells(layout) -> list[tuple[int, int]]:
    """The ``(row, column)`` of each state of ``gridworld(layout, ...)``, in state order.

    The non-wall cells, in row-major order; with ``absorbing=True`` the extra exit state ``S - 1``
    is not a cell and is not listed.
    """
    rows = _parse_layout(layout)
    return [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch != "#"]


def gridworld(layout, H: int, *, slip: float = 0.0, rewards: dict[str, float] | None = None,
              absorbing: bool = False, reward_noise: str = "deterministic") -> TabularMDP:
    """A gridworld from a text layout.

    Layout syntax: a multi-line string (blank lines and surrounding spaces ignored) or a list
    of equally long strings, one character per cell:

    - ``#`` wall (not a state); the outer boundary need not be walled;
    - ``.`` (or a space inside a list row) free cell;
    - ``S`` start cell: episodes start uniformly at random among the ``S`` cells (at least one);
    - ``G`` goal cell, paying 1;
    - any other character must be a key of ``rewards``, giving the reward of that cell
      (``rewards`` may also override ``G``).

    Each non-wall cell is a state (row-major order; see :func:`gridworld_cells`). Actions are
    0 up, 1 right, 2 down, 3 left (:data:`GRID_MOVES`); a move into a wall or off the grid leaves
    the agent in place. With probability ``slip`` the action is replaced by a uniformly random one
    (so the intended move happens with probability ``1 - slip + slip / 4``). Acting in a reward
    cell pays that cell's reward, whatever the action.

    Parameters
    ----------
    layout : str or list of str
    H : int
        Horizon.
    slip : float
        In ``[0, 1]``.
    rewards : dict of str to float, optional
        Cell character -> reward in ``[0, 1]``; default ``{"G": 1.0}``.
    absorbing : bool
        If True, acting in a reward cell (collecting its reward once) moves the agent to an extra
        zero-reward exit state ``S - 1`` that it never leaves. Otherwise the agent moves as usual,
        and may stay on a goal to collect its reward at every step.
    reward_noise : {"deterministic", "bernoulli"}

    Returns
    -------
    TabularMDP
        Stationary, at most 5 successors per ``(s, a)``.

    Notes
    -----
    What makes it hard: a sparse reward ``d`` steps from the start; with a horizon close to
    ``d`` (or slip) there is little slack for detours.

    Closed forms (``slip = 0``, a single start, a single goal ``G`` paying 1 and no other reward
    cells), with ``d`` the shortest-path distance from start to goal (BFS):

    - absorbing: ``V* = 1`` if ``d <= H - 1`` else 0;
    - not absorbing, and the goal has a wall or the grid edge next to it (bumping into it keeps
      the agent on the goal): ``V* = max(H - d, 0)``.
    """
    rows = _parse_layout(layout)
    H = check_positive_int("H", H)
    slip = _probability("slip", slip)
    if not isinstance(absorbing, (bool, np.bool_)):
        raise ValueError(f"absorbing must be True or False, got {absorbing!r}")
    table = {"G": 1.0} if rewards is None else dict(rewards)
    for ch, r in table.items():
        if not isinstance(ch, str) or len(ch) != 1 or ch in "#" + _FREE:
            raise ValueError(f"rewards keys must be single cell characters other than '#', '.', 'S', ' '; "
                             f"got {ch!r}")
        table[ch] = _probability(f"rewards[{ch!r}]", r)
    cells = gridworld_cells(rows)
    if not cells:
        raise ValueError("layout has no free cell")
    check_model_size({"layout": len(cells)}, (_BYTES_PER_ENTRY * 16 + 16.0) * len(GRID_MOVES) * len(cells),
                     f"the sparse transitions and rewards of {len(cells)} cells")
    index = {cell: k for k, cell in enumerate(cells)}
    n = len(cells)
    starts, reward_of = [], np.zeros(n)
    for k, (i, j) in enumerate(cells):
        ch = rows[i][j]
        if ch == "S":
            starts.append(k)
        elif ch in table:
            reward_of[k] = table[ch]
        elif ch not in _FREE:
            raise ValueError(f"layout[{i}][{j}] = {ch!r} is not '#', '.', 'S', 'G' or a key of rewards")
    if not starts:
        raise ValueError("layout has no start cell 'S'")

    S = n + 1 if absorbing else n
    # target[k, m]: state reached from cell k by move m
    target = np.empty((n, 4), dtype=np.int64)
    for k, (i, j) in enumerate(cells):
        for m, (di, dj) in enumerate(GRID_MOVES):
            target[k, m] = index.get((i + di, j + dj), k)
    move = np.full((4, 4), slip / 4.0) + np.eye(4) * (1.0 - slip)  # move[a, m] = P(move m | action a)
    cell = np.arange(n)
    moving = np.ones(n, dtype=bool)  # cells whose actions move the agent (not absorbed)
    if absorbing:
        moving = reward_of <= 0
    mover = cell[moving]
    # CSR row s * 4 + a; probabilities of moves reaching the same cell are added in move order
    blocks = [(4 * mover + a, target[mover, m], move[a, m]) for a in range(4) for m in range(4)]
    if absorbing:
        exits = np.concatenate([cell[~moving], [n]])
        blocks += [(4 * exits + a, n, 1.0) for a in range(4)]
    csr = _csr_from_entries(4 * S, S, *_entries(*blocks))
    R = np.zeros((S, 4))
    R[:n] = reward_of[:, None]
    mu0 = np.zeros(S)
    mu0[starts] = 1.0 / len(starts)
    name = (f"gridworld({len(rows)}x{len(rows[0])}, H={H}" + (f", slip={slip:g}" if slip else "")
            + (", absorbing" if absorbing else "") + ")")
    return TabularMDP.from_csr(*csr, R, H, mu0, reward_noise=reward_noise, name=name)


# ----------------------------------------------------------------------------- bandit
def bandit(means, *, reward_noise: str = "bernoulli") -> TabularMDP:
    """A ``K``-armed Bernoulli bandit as a one-step MDP (``S = 1``, ``H = 1``, ``A = K``).

    Parameters
    ----------
    means : array_like, shape (K,)
        Arm means in ``[0, 1]``, ``K >= 1``.
    reward_noise : {"bernoulli", "deterministic"}
        Bernoulli by default: pulling arm ``a`` pays 1 with probability ``means[a]``.

    Returns
    -------
    TabularMDP

    Notes
    -----
    What makes it hard: the gaps ``max(means) - means[a]``; a learner needs about
    ``sum_a 1 / gap_a`` log K pulls (Lai & Robbins). Closed form: ``V* = max(means)``.
    """
    means = as_float_array("means", means, ndim=1, axis_names=("a",))
    if means.size == 0:
        raise ValueError("means must hold at least one arm, got an empty array")
    check_in_range("means", means, 0.0, 1.0, ("a",))
    K = means.size
    label = ", ".join(f"{m:g}" for m in means[:8]) + (", ..." if K > 8 else "")
    return TabularMDP.stationary(np.ones((1, K, 1)), means[None, :], 1, 0, reward_noise=reward_noise,
                                 name=f"bandit([{label}])")
