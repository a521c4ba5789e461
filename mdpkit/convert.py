"""Models from the ecosystem: gymnasium toy-text environments, pymdptoolbox arrays, QuantEcon.

Every converter returns a validated finite-horizon :class:`~mdpkit.TabularMDP` (pass the
horizon ``H``); none of the source libraries is imported here, so none is a dependency.

- :func:`from_gymnasium` -- the transition table ``env.unwrapped.P`` of a gymnasium toy-text
  environment (FrozenLake, CliffWalking, Taxi, ...): rewards stay on the transitions
  (``transition_rewards``), and the states that end an episode become absorbing with reward 0.
- :func:`from_mdptoolbox` -- pymdptoolbox's ``P`` of shape (A, S, S) and ``R`` of shape
  (S, A), (A, S, S) or (S,).
- :func:`from_quantecon` -- a QuantEcon ``DiscreteDP``, in product form (``R`` (S, A),
  ``Q`` (S, A, S)) or state-action-pair form (``s_indices``/``a_indices``); actions with reward
  ``-inf`` or absent from the pairs become infeasible (``TabularMDP.feasible``).

The mdptoolbox and QuantEcon models are discounted; the finite-horizon model drops the
discount, which :func:`mdpkit.solvers.discounted.solve_finite_horizon` (finite ``H``)
and :func:`mdpkit.solvers.discounted.value_iteration` (infinite horizon) apply.
"""

from __future__ import annotations

import numpy as np

from ._validation import ArgumentTypeError, as_float_array, check_positive_int, show
from .mdp import TabularMDP, _validate_mu0

__all__ = ["from_gymnasium", "from_mdptoolbox", "from_quantecon", "table_to_mdp", "terminal_absorbing"]


# ----------------------------------------------------------------------------- gymnasium
def _transition_table(env):
    """``env.unwrapped.P`` and the numbers of states and actions, validated for shape."""
    base = getattr(env, "unwrapped", env)
    table = getattr(base, "P", None)
    if not isinstance(table, dict):
        raise ArgumentTypeError(f"env must be a gymnasium environment with a transition table env.unwrapped.P "
                                f"(a dict state -> action -> [(prob, next_state, reward, terminated)]), "
                                f"got {show(env)}")
    if getattr(base, "fickle_passenger", False):
        raise ValueError("env is a Taxi with fickle_passenger=True: its step() changes the destination "
                         "outside env.unwrapped.P, so the table does not describe its dynamics")
    n_states = getattr(getattr(base, "observation_space", None), "n", len(table))
    n_actions = getattr(getattr(base, "action_space", None), "n", None)
    if n_actions is None:
        n_actions = max(len(v) for v in table.values())
    return base, table, int(n_states), int(n_actions)


def from_gymnasium(env, H: int, *, mu0=None, reward_range=None, name: str | None = None) -> TabularMDP:
    """The finite-horizon model of a gymnasium environment with a transition table.

    Parameters
    ----------
    env : gymnasium.Env
        Its ``env.unwrapped.P[s][a]`` lists ``(probability, next_state, reward, terminated)``
        for every state ``s`` and action ``a`` (gymnasium's toy-text environments).
    H : int
        Horizon, ``>= 1`` (gymnasium's ``TimeLimit``: ``max_episode_steps``).
    mu0 : array_like, shape (S,), or int, optional
        Initial-state distribution; default ``env.unwrapped.initial_state_distrib``.
    reward_range : (float, float), optional
        Default: the smallest and largest reward in the table, widened to include 0 (the reward
        of the absorbing states); ``(0, 1)`` if every reward is 0.
    name : str, optional
        Default: the environment's id (e.g. ``"FrozenLake-v1"``) with ``H``.

    Returns
    -------
    TabularMDP
        Stationary, with ``transition_rewards[0, s, a, s']`` = the reward of ``s -> s'`` under
        ``a``. Every state entered by a transition marked ``terminated`` is absorbing with reward
        0 (the episode is over; this reproduces gymnasium's returns for ``H`` steps under a
        ``TimeLimit`` of ``H``).

    Raises
    ------
    ValueError
        If a probability is negative or a row does not sum to 1; if ``(s, a, s')`` is listed
        twice with different rewards (the reward would then be random given the transition,
        which ``transition_rewards`` cannot express); if a state is entered both by a
        terminating and by a non-terminating transition from a live state; or if ``mu0`` is
        missing.
    """
    H = check_positive_int("H", H)
    base, table, S, A = _transition_table(env)
    if mu0 is None:
        mu0 = getattr(base, "initial_state_distrib", None)
        if mu0 is None:
            raise ValueError("mu0 is required: env.unwrapped has no initial_state_distrib")
    if name is None:
        spec = getattr(env, "spec", None)
        name = f"{getattr(spec, 'id', None) or type(base).__name__} (H={H})"
    return table_to_mdp(table, S, A, H, mu0, reward_range=reward_range, name=name)


def table_to_mdp(table, S: int, A: int, H: int, mu0, *, reward_range=None, name=None) -> TabularMDP:
    """A gymnasium-style transition table ``table[s][a] = [(prob, next_state, reward, terminated)]``
    as a stationary model; see :func:`from_gymnasium` (which calls it) for the conventions."""
    P = np.zeros((S, A, S))
    TR = np.zeros((S, A, S))
    reward_seen = np.zeros((S, A, S), dtype=bool)
    ends = np.zeros((S, A, S), dtype=np.int8)  # 1: a non-terminating transition, 2: terminating; 3: both
    for s in range(S):
        if s not in table:
            raise ValueError(f"env.unwrapped.P has no entry for state {s} (observation_space has {S} states)")
        for a in range(A):
            outcomes = table[s].get(a)
            if not outcomes:
                raise ValueError(f"env.unwrapped.P[{s}][{a}] is missing or empty")
            for prob, s_next, reward, terminated in outcomes:
                prob, s_next, reward, terminated = float(prob), int(s_next), float(reward), bool(terminated)
                if not 0 <= s_next < S:
                    raise ValueError(f"env.unwrapped.P[{s}][{a}] lists next state {s_next}, not in [0, {S})")
                if prob == 0.0:
                    continue
                if reward_seen[s, a, s_next] and TR[s, a, s_next] != reward:
                    raise ValueError(f"env.unwrapped.P[{s}][{a}] lists next state {s_next} with two rewards, "
                                     f"{float(TR[s, a, s_next])!r} and {reward!r}: a reward that is random given the "
                                     "transition is not expressible as transition_rewards")
                P[s, a, s_next] += prob
                TR[s, a, s_next] = reward
                reward_seen[s, a, s_next] = True
                ends[s, a, s_next] |= 2 if terminated else 1
    mu0 = _validate_mu0(mu0, S)  # first: the terminal-state check follows the states it reaches
    P, TR = terminal_absorbing(P, TR, ends, mu0)
    if reward_range is None:
        lo, hi = min(0.0, float(TR.min())), max(0.0, float(TR.max()))
        reward_range = (0.0, 1.0) if lo == hi else (lo, hi)
    return TabularMDP.stationary(P, None, H, mu0, transition_rewards=TR,
                                 reward_range=reward_range, name=name)


def terminal_absorbing(P, TR, ends, mu0):
    """Make every state entered by a terminating transition absorbing with reward 0.

    Parameters
    ----------
    P, TR : ndarray, shape (S, A, S)
        Transitions and their rewards (modified copies are returned).
    ends : ndarray, shape (S, A, S), int
        Bit 1: ``s -> s'`` is listed as non-terminating; bit 2: as terminating.
    mu0 : ndarray, shape (S,)
        Initial distribution: only states reachable from it (before termination) are checked.

    Returns
    -------
    P, TR : ndarray, shape (S, A, S)

    Raises
    ------
    ValueError
        If a terminal state is also entered by a non-terminating transition from a live state
        reachable from ``mu0`` (then "terminal" is a property of the transition, not of the
        state). Unreachable states are not checked: Taxi lists states with the passenger
        already at the destination that no episode can visit.
    """
    terminal = (ends & 2).any(axis=(0, 1))
    reachable = np.asarray(mu0) > 0
    frontier = reachable & ~terminal
    while frontier.any():  # breadth-first over transitions out of live states
        successors = (P[frontier] > 0).any(axis=(0, 1))
        frontier = successors & ~reachable
        reachable |= successors
        frontier &= ~terminal
    live = reachable & ~terminal
    mixed = (ends[live] & 1).astype(bool) & terminal[None, None, :]
    if mixed.any():
        i, a, t = np.unravel_index(int(np.argmax(mixed)), mixed.shape)
        s = int(np.flatnonzero(live)[i])
        raise ValueError(f"state {t} ends the episode when entered by some transitions but not by "
                         f"{s} -> {t} under action {a}; an absorbing terminal state cannot express that")
    P, TR = P.copy(), TR.copy()
    P[terminal] = 0.0
    for t in np.flatnonzero(terminal):
        P[t, :, t] = 1.0
    TR[terminal] = 0.0
    return P, TR


# ----------------------------------------------------------------------------- pymdptoolbox
def from_mdptoolbox(P, R, H: int, mu0, *, reward_range=None, name: str | None = None) -> TabularMDP:
    """A model from pymdptoolbox's arrays (``mdptoolbox.example.forest()`` and the like).

    Parameters
    ----------
    P : array_like, shape (A, S, S)
        ``P[a, s, s']`` (pymdptoolbox's action-first layout); a list/tuple of A (S, S) arrays,
        dense or scipy-sparse, is accepted too.
    R : array_like, shape (S, A), (A, S, S) or (S,)
        Rewards by state-action (pymdptoolbox's usual form), by transition ``R[a, s, s']``
        (kept as ``transition_rewards``), or by state only.
    H : int
        Horizon, ``>= 1``.
    mu0 : array_like, shape (S,), or int
        Initial-state distribution (pymdptoolbox has none).
    reward_range : (float, float), optional
        Default: the smallest and largest reward (widened by 1 above if they are equal).
    name : str, optional

    Returns
    -------
    TabularMDP
        Undiscounted and stationary. pymdptoolbox's solvers are discounted: compare with
        :func:`mdpkit.solvers.discounted.value_iteration` on ``(mdp, None, gamma)``.
    """
    H = check_positive_int("H", H)
    if isinstance(P, (list, tuple)) or (hasattr(P, "dtype") and P.dtype == object):
        P = np.stack([np.asarray(p.todense() if hasattr(p, "todense") else p, dtype=float) for p in P])
    P = as_float_array("P", P, ndim=3, axis_names=("a", "s", "s'"))
    A, S, S2 = P.shape
    if S2 != S:
        raise ValueError(f"P must have pymdptoolbox's shape (A, S, S), got {P.shape}")
    P_sas = np.ascontiguousarray(P.transpose(1, 0, 2))
    if hasattr(R, "todense"):
        R = R.todense()
    R = as_float_array("R", R, ndim=(1, 2, 3), axis_names=None)
    transition_rewards = None
    if R.shape == (A, S, S):
        transition_rewards, R = np.ascontiguousarray(R.transpose(1, 0, 2)), None
        values = transition_rewards
    elif R.shape == (S, A):
        values = R
    elif R.shape == (S,):
        R = np.repeat(R[:, None], A, axis=1)
        values = R
    else:
        raise ValueError(f"R must have shape (S, A) = ({S}, {A}), (A, S, S) = ({A}, {S}, {S}) or (S,) = ({S},), "
                         f"got {R.shape}")
    reward_range = _default_range(values) if reward_range is None else reward_range
    return TabularMDP.stationary(P_sas, R, H, mu0, transition_rewards=transition_rewards,
                                 reward_range=reward_range, name=name)


def _default_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if lo < hi else (lo, lo + 1.0)


# ----------------------------------------------------------------------------- QuantEcon
def from_quantecon(ddp, H: int, mu0, *, reward_range=None, name: str | None = None) -> TabularMDP:
    """A model from a QuantEcon ``DiscreteDP`` (``quantecon.markov.DiscreteDP``).

    Parameters
    ----------
    ddp : quantecon.markov.DiscreteDP
        Product form (``ddp.R`` (S, A), ``ddp.Q`` (S, A, S)) or state-action-pair form
        (``ddp.R`` (L,), ``ddp.Q`` (L, S), ``ddp.s_indices``, ``ddp.a_indices``; dense or
        scipy-sparse ``Q``).
    H : int
        Horizon, ``>= 1``.
    mu0 : array_like, shape (S,), or int
        Initial-state distribution (a ``DiscreteDP`` has none).
    reward_range : (float, float), optional
        Default: the smallest and largest finite reward (widened by 1 above if equal).
    name : str, optional

    Returns
    -------
    TabularMDP
        Undiscounted, stationary; ``feasible`` marks the actions QuantEcon allows (reward not
        ``-inf`` in product form; listed pairs in state-action-pair form), or is None if every
        action is allowed. At an infeasible action the model stays put (``P[s, a, s] = 1``) with
        reward ``reward_range[0]``; the solvers never choose it. The discount ``ddp.beta`` is not
        applied: solve with :func:`mdpkit.solvers.discounted.value_iteration` (``gamma=ddp.beta``)
        for the infinite-horizon problem.

    Raises
    ------
    ValueError
        For a reward ``+inf`` or NaN, a transition row that is not a distribution at a feasible
        action, or a state with no feasible action.
    """
    H = check_positive_int("H", H)
    if not all(hasattr(ddp, attr) for attr in ("R", "Q", "num_states")):
        raise ArgumentTypeError(f"ddp must be a quantecon.markov.DiscreteDP, got {show(ddp)}")
    S = int(ddp.num_states)
    Q = ddp.Q.toarray() if hasattr(ddp.Q, "toarray") else np.asarray(ddp.Q, dtype=float)
    R_in = np.asarray(ddp.R, dtype=float)
    if getattr(ddp, "_sa_pair", False) or R_in.ndim == 1:
        s_idx, a_idx = np.asarray(ddp.s_indices), np.asarray(ddp.a_indices)
        A = int(a_idx.max()) + 1
        R = np.full((S, A), -np.inf)
        P = np.zeros((S, A, S))
        R[s_idx, a_idx] = R_in
        P[s_idx, a_idx] = Q
    else:
        R, P = R_in.copy(), Q.astype(float).copy()
        A = R.shape[1]
    if np.isnan(R).any() or np.isposinf(R).any():
        s, a = np.unravel_index(int(np.argmax(np.isnan(R) | np.isposinf(R))), R.shape)
        raise ValueError(f"ddp.R[s={s}, a={a}] = {R[s, a]!r}: rewards must be finite or -inf (infeasible)")
    feasible = R > -np.inf
    none = ~feasible.any(axis=1)
    if none.any():
        raise ValueError(f"state {int(np.argmax(none))} of ddp has no feasible action")
    reward_range = _default_range(R) if reward_range is None else reward_range
    states = np.arange(S)
    for s, a in zip(*np.nonzero(~feasible)):
        R[s, a] = reward_range[0]
        P[s, a] = states == s
    return TabularMDP.stationary(P, R, H, mu0, reward_range=reward_range,
                                 feasible=None if feasible.all() else feasible, name=name)
