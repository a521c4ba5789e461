"""gymnasium's toy-text environments, built by mdpkit itself (gymnasium is not needed).

Each function writes the environment's transition table -- state and action numbering,
slipping, rewards, terminating transitions and initial distribution as gymnasium 1.x defines
them -- and converts it with :func:`mdpkit.convert.table_to_mdp`, the code behind
:func:`mdpkit.convert.from_gymnasium`. So ``frozen_lake()`` equals
``from_gymnasium(gymnasium.make("FrozenLake-v1"), H=100)`` (``tests/test_toy_text.py`` checks
all four against gymnasium when it is installed). Rewards stay on the transitions
(``transition_rewards``), and states that end an episode are absorbing with reward 0.

Optimal values (exact, :func:`mdpkit.solve`; tested):

====================================  =====  ==========================================
instance                                H    ``V*``
====================================  =====  ==========================================
``frozen_lake("4x4")``                 100    0.7441903 (success probability)
``frozen_lake("8x8")``                 200    0.9132202
``cliff_walking()``                    100    -13 (the 13-step path along the cliff)
``taxi()``                             200    7.93 (mean of 20 - steps over the 300 starts)
====================================  =====  ==========================================
"""

from __future__ import annotations

import numpy as np

from .._validation import ArgumentTypeError, check_positive_int, check_real, show
from ..convert import table_to_mdp
from ..mdp import TabularMDP

__all__ = ["FROZEN_LAKE_MAPS", "cliff_walking", "frozen_lake", "taxi"]

#: gymnasium's two built-in FrozenLake maps: S start, F frozen, H hole, G goal.
FROZEN_LAKE_MAPS = {
    "4x4": ("SFFF", "FHFH", "FFFH", "HFFG"),
    "8x8": ("SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"),
}
#: gymnasium's TimeLimit for the two registered FrozenLake maps.
_FROZEN_LAKE_H = {"4x4": 100, "8x8": 200}


def frozen_lake(map_name="4x4", *, H: int | None = None, is_slippery: bool = True,
                success_rate: float = 1.0 / 3.0) -> TabularMDP:
    """FrozenLake: walk from S to G over frozen tiles without falling into a hole.

    Parameters
    ----------
    map_name : {"4x4", "8x8"} or sequence of str
        A built-in map or rows of ``S``/``F``/``H``/``G`` letters (one ``S`` at least).
    H : int, optional
        Horizon; default gymnasium's time limit (100 for "4x4", 200 for "8x8"; required for
        a custom map).
    is_slippery : bool, default True
        With probability ``success_rate`` the intended move, otherwise one of the two
        perpendicular moves (``(1 - success_rate) / 2`` each), as in gymnasium.
    success_rate : float in [0, 1]

    Returns
    -------
    TabularMDP
        ``S = rows * cols`` (state ``row * cols + col``), ``A = 4`` (left, down, right, up);
        reward 1 on entering G, 0 otherwise; G and H absorbing. ``V*`` is the probability of
        reaching G within ``H`` steps.
    """
    if isinstance(map_name, str):
        if map_name not in FROZEN_LAKE_MAPS:
            raise ValueError(f"map_name must be one of {sorted(FROZEN_LAKE_MAPS)} or a sequence of rows, "
                             f"got {map_name!r}")
        rows, label = FROZEN_LAKE_MAPS[map_name], map_name
        H = _FROZEN_LAKE_H[map_name] if H is None else H
    else:
        rows, label = _check_map(map_name), "custom"
        if H is None:
            raise ValueError("H is required for a custom FrozenLake map")
    H = check_positive_int("H", H)
    if not isinstance(is_slippery, (bool, np.bool_)):
        raise ArgumentTypeError(f"is_slippery must be a bool, got {show(is_slippery)}")
    success_rate = check_real("success_rate", success_rate, lo=0.0, hi=1.0)
    n_rows, n_cols = len(rows), len(rows[0])
    S, A = n_rows * n_cols, 4
    fail_rate = (1.0 - success_rate) / 2.0
    moves = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}  # left, down, right, up

    def outcome(row, col, move):
        r = min(max(row + moves[move][0], 0), n_rows - 1)
        c = min(max(col + moves[move][1], 0), n_cols - 1)
        letter = rows[r][c]
        return r * n_cols + c, 1.0 if letter == "G" else 0.0, letter in "GH"

    table = {}
    for row in range(n_rows):
        for col in range(n_cols):
            s = row * n_cols + col
            table[s] = {}
            for a in range(A):
                if rows[row][col] in "GH":
                    table[s][a] = [(1.0, s, 0.0, True)]
                elif is_slippery:
                    table[s][a] = [(success_rate if b == a else fail_rate, *outcome(row, col, b))
                                   for b in ((a - 1) % 4, a, (a + 1) % 4)]
                else:
                    table[s][a] = [(1.0, *outcome(row, col, a))]
    starts = np.array([letter == "S" for line in rows for letter in line], dtype=float)
    name = f"FrozenLake {label}{'' if is_slippery else ' (not slippery)'} (H={H})"
    return table_to_mdp(table, S, A, H, starts / starts.sum(), name=name)


def _check_map(rows) -> tuple[str, ...]:
    try:
        rows = tuple(str(r) if isinstance(r, str) else r.decode() for r in rows)
    except (TypeError, AttributeError):
        raise ArgumentTypeError(f"map_name must be a map name or a sequence of str rows, got {show(rows)}") from None
    if not rows or any(len(r) != len(rows[0]) for r in rows) or len(rows[0]) == 0:
        raise ValueError(f"map rows must be non-empty and of equal length, got {rows!r}")
    bad = [ch for r in rows for ch in r if ch not in "SFHG"]
    if bad:
        raise ValueError(f"map letters must be S, F, H or G, got {bad[0]!r}")
    if not any("S" in r for r in rows):
        raise ValueError("the map needs a start tile S")
    return rows


def cliff_walking(*, H: int = 100) -> TabularMDP:
    """CliffWalking (Sutton & Barto, Example 6.6) on gymnasium's 4 x 12 grid, not slippery.

    Start at the bottom-left corner (state 36), goal at the bottom-right (47); the cells between
    them are the cliff. Every move pays -1; stepping into the cliff pays -100 and returns to the
    start (the episode goes on); entering the goal ends it.

    Parameters
    ----------
    H : int, default 100
        Horizon (gymnasium registers no time limit).

    Returns
    -------
    TabularMDP
        ``S = 48`` (state ``row * 12 + col``), ``A = 4`` (up, right, down, left),
        ``reward_range = (-100, 0)``; ``V* = -13`` for ``H >= 13``.

    Notes
    -----
    gymnasium's slippery variant is not offered: slipping from the start into the cliff and
    slipping against the wall both lead back to the start with different rewards, a reward
    that is random given the transition (``from_gymnasium`` refuses it for the same reason).
    """
    H = check_positive_int("H", H)
    n_rows, n_cols = 4, 12
    start, goal = 3 * n_cols, 3 * n_cols + n_cols - 1
    moves = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}  # up, right, down, left
    table = {}
    for s in range(n_rows * n_cols):
        row, col = divmod(s, n_cols)
        table[s] = {}
        for a, (dr, dc) in moves.items():
            r, c = min(max(row + dr, 0), n_rows - 1), min(max(col + dc, 0), n_cols - 1)
            if r == n_rows - 1 and 0 < c < n_cols - 1:  # the cliff
                table[s][a] = [(1.0, start, -100.0, False)]
            else:
                t = r * n_cols + c
                table[s][a] = [(1.0, t, -1.0, t == goal)]
    return table_to_mdp(table, n_rows * n_cols, 4, H, start, name=f"CliffWalking (H={H})")


#: Taxi's map: ``|`` between two cells is a wall, ``:`` is not.
TAXI_MAP = ("+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |", "| | : | : |", "|Y| : |B: |",
            "+---------+")
TAXI_LOCATIONS = ((0, 0), (0, 4), (4, 0), (4, 3))  # R, G, Y, B


def taxi(*, H: int = 200) -> TabularMDP:
    """Taxi (Dietterich 2000) as in gymnasium's ``Taxi-v4`` (dry, passenger not fickle).

    State ``((row * 5 + col) * 5 + passenger) * 4 + destination`` with passenger in
    ``0..3`` (at R, G, Y, B) or 4 (in the taxi). Actions: south, north, east, west, pick up,
    drop off. Every step pays -1; an illegal pick-up or drop-off -10; dropping the passenger
    at the destination pays +20 and ends the episode.

    Parameters
    ----------
    H : int, default 200
        Horizon (gymnasium's time limit).

    Returns
    -------
    TabularMDP
        ``S = 500``, ``A = 6``, ``reward_range = (-10, 20)``; the 300 starting states (passenger
        waiting, not at the destination) are equally likely. ``V* = 7.93`` for ``H = 200``:
        the mean over starts of ``20 - (shortest number of moves + 1 pick-up)``.
    """
    H = check_positive_int("H", H)

    def encode(row, col, passenger, destination):
        return ((row * 5 + col) * 5 + passenger) * 4 + destination

    table = {}
    mu0 = np.zeros(500)
    for row in range(5):
        for col in range(5):
            for passenger in range(5):
                for destination in range(4):
                    s = encode(row, col, passenger, destination)
                    if passenger < 4 and passenger != destination:
                        mu0[s] = 1.0
                    table[s] = {a: [_taxi_step(row, col, passenger, destination, a, encode)] for a in range(6)}
    return table_to_mdp(table, 500, 6, H, mu0 / mu0.sum(), name=f"Taxi (H={H})")


def _taxi_step(row, col, passenger, destination, action, encode):
    reward, done = -1.0, False
    if action == 0:
        row = min(row + 1, 4)
    elif action == 1:
        row = max(row - 1, 0)
    elif action == 2:
        if TAXI_MAP[1 + row][2 * col + 2] == ":":  # no wall to the east
            col = min(col + 1, 4)
    elif action == 3:
        if TAXI_MAP[1 + row][2 * col] == ":":  # no wall to the west
            col = max(col - 1, 0)
    elif action == 4:
        if passenger < 4 and (row, col) == TAXI_LOCATIONS[passenger]:
            passenger = 4
        else:
            reward = -10.0
    else:
        if passenger == 4 and (row, col) == TAXI_LOCATIONS[destination]:
            passenger, reward, done = destination, 20.0, True
        elif passenger == 4 and (row, col) in TAXI_LOCATIONS:
            passenger = TAXI_LOCATIONS.index((row, col))
        else:
            reward = -10.0
    return 1.0, encode(row, col, passenger, destination), reward, done
