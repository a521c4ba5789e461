"""Exact finite-horizon solvers: backward induction and policy evaluation.

Both run one numba sweep over the stages, on the dense transitions or on their CSR form
(cost proportional to the number of non-zero transitions), and accept a batch of reward
functions solved in the same sweep -- reward-free planning needs many rewards at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _kernels
from .._validation import ArgumentTypeError, as_float_array, check_instance, check_sums_finite, show
from ..mdp import TabularMDP, validate_policy

#: ``method="auto"`` takes the CSR path when at most this fraction of the stored transition
#: entries is non-zero. A CSR entry costs a data read, an index read and a gathered V read
#: against one streamed, vectorised read for a dense entry: the measured crossover on random
#: successors is at 5-8% non-zeros (``benchmarks/bench_core.py``, "crossover").
SPARSE_DENSITY_THRESHOLD = 0.05

METHODS = ("auto", "dense", "sparse")
VALUES = ("all", "initial")


@dataclass(frozen=True)
class Solution:
    """Exact finite-horizon values of the optimal policy (:func:`solve`) or a given one (:func:`evaluate`).

    With a batch of ``B`` reward functions every array gains a leading axis of length ``B``.

    Attributes
    ----------
    Q : ndarray, shape (H, S, A) or (B, H, S, A), or None
        None when not requested (:func:`solve` with ``return_q=False``).
    V : ndarray, shape (H + 1, S) or (B, H + 1, S); ``V[..., H, :] = 0``, or None
        None when not requested (:func:`solve` with ``values="initial"``; ``V0`` holds ``V[0]``).
    policy : ndarray or None
        :func:`solve`: greedy optimal policy, shape (H, S) or (B, H, S), int64 unless another
        ``policy_dtype`` was requested (ties to the lowest action); None with
        ``return_policy=False``. :func:`evaluate`: the evaluated policy as validated, (H, S)
        int64 or (H, S, A).
    value : float or ndarray, shape (B,)
        ``mu0 @ V[0]``, the expected return from the initial distribution.
    method : str
        ``"dense"`` or ``"sparse"``: the path that computed it.
    V0 : ndarray, shape (S,) or (B, S)
        Stage-0 values ``V[..., 0, :]`` (a view of ``V`` when that is stored); always set by
        :func:`solve` and :func:`evaluate`.

    Notes
    -----
    Guarantee: backward induction is exact; the only error is floating-point rounding, of the
    order of ``H * 1e-16`` relative. :func:`bellman_residual` measures it.
    """

    Q: np.ndarray
    V: np.ndarray
    policy: np.ndarray | None
    value: float | np.ndarray
    method: str
    V0: np.ndarray | None = None


def check_mdp(mdp) -> TabularMDP:
    """Return ``mdp``, raising a ValueError naming the argument unless it is a TabularMDP."""
    return check_instance("mdp", mdp, TabularMDP, "mdpkit.TabularMDP")


def _batched_rewards(mdp: TabularMDP, rewards) -> tuple[np.ndarray, bool]:
    """Return rewards as (B, H, S, A) and whether the caller passed a batch."""
    if rewards is None:
        return mdp.R[None], False
    H, S, A = mdp.H, mdp.S, mdp.A
    R = as_float_array("rewards", rewards, ndim=(3, 4), axis_names=None)
    if R.ndim == 3:
        if R.shape != (H, S, A):
            raise ValueError(f"rewards must have shape (H, S, A) = ({H}, {S}, {A}) or "
                             f"(B, H, S, A), got {R.shape}")
        check_reward_sums("rewards", R, H, ("h", "s", "a"))
        return R[None], False
    if R.shape[1:] != (H, S, A):
        raise ValueError(f"rewards must have shape (B, H, S, A) = (*, {H}, {S}, {A}), got {R.shape}")
    check_reward_sums("rewards", R, H, ("b", "h", "s", "a"))
    return R, True


def check_reward_sums(name: str, R: np.ndarray, H: int, axis_names) -> None:
    """Reject rewards whose H-stage returns can overflow: ``H * |R|`` must be finite.

    A value is a probability-weighted sum of at most ``H`` rewards, so this is exactly what
    keeps every backup finite (an ``inf`` would turn into ``nan`` at the next ``inf - inf``).
    """
    check_sums_finite(name, R, H, f"the H = {H}-stage return", axis_names)


def _resolve_method(mdp: TabularMDP, method: str) -> str:
    if not isinstance(method, str):
        raise ArgumentTypeError(f"method must be one of {METHODS}, got {show(method)}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "sparse" if mdp.density <= SPARSE_DENSITY_THRESHOLD else "dense"
    return method


def solve(mdp: TabularMDP, *, rewards=None, method: str = "auto", return_q: bool = True,
          values: str = "all", return_policy: bool = True, policy_dtype=np.int64) -> Solution:
    """Optimal values and a greedy optimal policy by backward induction.

    Parameters
    ----------
    mdp : TabularMDP
    rewards : array_like, shape (H, S, A) or (B, H, S, A), optional
        Reward function(s) to plan for instead of ``mdp.R``: any finite reals (planners add
        bonuses that leave [0, 1]). A batch is solved in one sweep over the transitions.
    method : {"auto", "dense", "sparse"}
        ``"auto"`` uses the CSR path when ``mdp.density <= SPARSE_DENSITY_THRESHOLD``.
    return_q : bool
        Store Q (``H S A`` floats; 1.6 GB at S = 10^6, A = 2, H = 100). If False,
        ``Solution.Q`` is None.
    values : {"all", "initial"}
        Store V for every stage, or only ``V[0]`` (``Solution.V`` is then None and
        ``Solution.V0`` holds it): the sweep keeps two rows of V instead of ``H + 1``.
    return_policy : bool
        Store the greedy policy (``H S`` integers). If False, ``Solution.policy`` is None.
    policy_dtype : numpy integer dtype
        Signed integer type of the stored policy (default int64); ``np.int8`` takes 1/8 of the
        memory when ``A <= 128``.

    Returns
    -------
    Solution
        Bit-identical entries whichever of these options are chosen. With the defaults, all of
        Q, V and the policy are stored, as before these options existed. What is not stored is
        not computed into memory only on the CSR path with a single reward function (the
        large-model case); elsewhere it is computed and dropped.
    """
    check_mdp(mdp)
    return_q, return_policy, all_values, policy_dtype = _check_outputs(
        mdp, return_q, values, return_policy, policy_dtype)
    method = _resolve_method(mdp, method)
    lean = not (return_q and all_values and return_policy and policy_dtype == np.int64)
    if lean and method == "sparse" and rewards is None and getattr(mdp, "feasible", None) is None:
        return _solve_sparse_select(mdp, return_q, all_values, return_policy, policy_dtype)
    R, batched = _batched_rewards(mdp, rewards)
    if mdp.feasible is not None:
        R = _penalise_infeasible(R, mdp.feasible)
    B, H, S, A = R.shape
    Q = np.empty((B, H, S, A))
    V = np.empty((B, H + 1, S))
    policy = np.empty((B, H, S), dtype=np.int64)
    if method == "dense":  # serial or parallel over states (large models), bit-identical
        _kernels.solve_dense(mdp.P_stages, R, Q, V, policy)
    elif B == 1:
        csr = mdp.sparse_transitions()
        _kernels.backward_induction_sparse_single(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                                  R[0], Q[0], V[0], policy[0])
    else:
        csr = mdp.sparse_transitions()
        _kernels.backward_induction_sparse(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                           R, Q, V, policy)
    if mdp.feasible is not None:
        Q[:, ~mdp.feasible] = -np.inf  # not a choice; the penalised values are meaningless
    initial = _initial_values(V, mdp.mu0)
    Q = Q if return_q else None
    policy = policy.astype(policy_dtype) if return_policy else None
    if not batched:
        Q, V, policy = (None if x is None else x[0] for x in (Q, V, policy))
    V0 = V[..., 0, :] if all_values else V[..., 0, :].copy()  # a copy lets the full V be freed
    V = V if all_values else None
    if batched:
        return Solution(Q, V, policy, initial, method, V0)
    return Solution(Q, V, policy, float(initial[0]), method, V0)


def _penalise_infeasible(R: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """Rewards (B, H, S, A) with every infeasible action made worse than any feasible one.

    With ``m <= R <= M`` a feasible action's Q at stage ``h`` is at least ``(H - h) m`` and an
    infeasible one's at most ``pen + (H - h - 1) M``; ``pen = m - H (M - m) - max(1, |m|)`` puts
    the latter strictly below, so backward induction maximises over feasible actions only and
    computes their values with the same arithmetic as without the mask.
    """
    H = R.shape[1]
    lo, hi = R.min(axis=(1, 2, 3), keepdims=True), R.max(axis=(1, 2, 3), keepdims=True)
    pen = lo - H * (hi - lo) - np.maximum(1.0, np.abs(lo))
    return np.where(feasible[None], R, pen)


def _check_outputs(mdp, return_q, values, return_policy, policy_dtype):
    for name, flag in (("return_q", return_q), ("return_policy", return_policy)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ArgumentTypeError(f"{name} must be True or False, got {show(flag)}")
    if not isinstance(values, str) or values not in VALUES:
        raise ValueError(f"values must be one of {VALUES}, got {show(values)}")
    try:
        dtype = np.dtype(policy_dtype)
    except TypeError:
        raise ArgumentTypeError(f"policy_dtype must be a numpy signed integer dtype, got {show(policy_dtype)}") from None
    if dtype.kind != "i":
        raise ArgumentTypeError(f"policy_dtype must be a numpy signed integer dtype, got {dtype}")
    if mdp.A - 1 > np.iinfo(dtype).max:
        raise ValueError(f"policy_dtype = {dtype} cannot hold action indices up to A - 1 = {mdp.A - 1}")
    return bool(return_q), bool(return_policy), values == "all", dtype


def _solve_sparse_select(mdp: TabularMDP, return_q: bool, all_values: bool, return_policy: bool,
                         policy_dtype: np.dtype) -> Solution:
    """The CSR sweep for ``mdp.R`` that allocates only the requested outputs (and reads the
    stationary rewards as stored, without materialising an (H, S, A) copy)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    csr = mdp.sparse_transitions()
    Q = np.empty((H, S, A)) if return_q else np.empty((0, 0, 0))
    V = np.empty((H + 1 if all_values else 2, S))
    policy = np.empty((H, S) if return_policy else (0, 0), dtype=policy_dtype)
    _kernels.backward_induction_sparse_select(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                              mdp._R_stages, H, Q, V, policy)
    V0 = V[0]
    value = float(_initial_values(V[None], mdp.mu0)[0])
    return Solution(Q if return_q else None, V if all_values else None,
                    policy if return_policy else None, value, "sparse", V0)


def _initial_values(V: np.ndarray, mu0: np.ndarray) -> np.ndarray:
    # One dot per reward, so a batch member's value is bit-identical to solving it alone
    # (a single gemv over the batch may round differently).
    return np.array([V[b, 0] @ mu0 for b in range(V.shape[0])])


_NO_DET = np.zeros((0, 0), dtype=np.int64)
_NO_STOCH = np.zeros((0, 0, 0))


def evaluate(mdp: TabularMDP, policy, *, rewards=None, method: str = "auto", return_q: bool = True,
             values: str = "all") -> Solution:
    """Exact Q^π and V^π of a deterministic or stochastic policy.

    Parameters
    ----------
    mdp : TabularMDP
    policy : array_like, shape (H, S) int or (H, S, A)
        Deterministic action indices, or action distributions (rows validated as for ``P``).
    rewards : array_like, shape (H, S, A) or (B, H, S, A), optional
        As in :func:`solve`.
    method : {"auto", "dense", "sparse"}
    return_q : bool
        Store Q^π; if False ``Solution.Q`` is None.
    values : {"all", "initial"}
        Store V^π for every stage, or only ``V[0]`` (``Solution.V`` is None, ``Solution.V0``
        holds it).

    Returns
    -------
    Solution
        ``policy`` holds the validated policy. Bit-identical entries whichever options are
        chosen; as in :func:`solve`, only the CSR path with ``mdp.R`` avoids allocating what is
        not stored.
    """
    check_mdp(mdp)
    pol = validate_policy(policy, mdp.H, mdp.S, mdp.A, feasible=mdp.feasible)
    return_q, _, all_values, _ = _check_outputs(mdp, return_q, values, True, np.int64)
    method = _resolve_method(mdp, method)
    det, stoch = (pol, _NO_STOCH) if pol.ndim == 2 else (_NO_DET, pol)
    if not (return_q and all_values) and method == "sparse" and rewards is None:
        return _evaluate_sparse_select(mdp, pol, det, stoch, return_q, all_values)
    R, batched = _batched_rewards(mdp, rewards)
    B, H, S, A = R.shape
    Q = np.empty((B, H, S, A))
    V = np.empty((B, H + 1, S))
    if method == "dense":
        _kernels.evaluate_dense(mdp.P_stages, R, det, stoch, Q, V)
    else:
        csr = mdp.sparse_transitions()
        _kernels.policy_evaluation_sparse(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                          R, det, stoch, Q, V)
    initial = _initial_values(V, mdp.mu0)
    Q = Q if return_q else None
    V0 = V[:, 0] if all_values else V[:, 0].copy()
    V = V if all_values else None
    if batched:
        return Solution(Q, V, pol, initial, method, V0)
    return Solution(None if Q is None else Q[0], None if V is None else V[0], pol, float(initial[0]), method,
                    V0[0])


def _evaluate_sparse_select(mdp, pol, det, stoch, return_q, all_values) -> Solution:
    """The CSR evaluation of ``mdp.R`` allocating only the requested outputs."""
    H, S, A = mdp.H, mdp.S, mdp.A
    csr = mdp.sparse_transitions()
    Q = np.empty((H, S, A)) if return_q else np.empty((0, 0, 0))
    V = np.empty((H + 1 if all_values else 2, S))
    _kernels.policy_evaluation_sparse_select(csr.indptr, csr.indices, csr.data, mdp.n_stored_stages,
                                             mdp._R_stages, H, det, stoch, Q, V)
    value = float(_initial_values(V[None], mdp.mu0)[0])
    return Solution(Q if return_q else None, V if all_values else None, pol, value, "sparse", V[0])


def bellman_residual(mdp: TabularMDP, V, *, rewards=None) -> float:
    """Largest Bellman-optimality residual ``max_h,s |V[h,s] - max_a (R + P V[h+1])[h,s,a]|``.

    Computed with plain numpy, independently of the kernels, so it can certify them.

    Parameters
    ----------
    mdp : TabularMDP
    V : array_like, shape (H + 1, S)
    rewards : array_like, shape (H, S, A), optional
    """
    check_mdp(mdp)
    V = as_float_array("V", V, shape=(mdp.H + 1, mdp.S), axis_names=("h", "s"))
    R = mdp.R if rewards is None else as_float_array("rewards", rewards, shape=(mdp.H, mdp.S, mdp.A),
                                                     axis_names=("h", "s", "a"))
    # |V[h] - R - P V[h+1]| <= 2 max|V| + max|R| must not overflow.
    check_sums_finite("V", V, 3, "the residual bound 2|V| + |R|", ("h", "s"))
    check_sums_finite("rewards", R, 3, "the residual bound 2|V| + |R|", ("h", "s", "a"))
    worst = abs(V[mdp.H]).max()
    for h in range(mdp.H):
        g = h if mdp.n_stored_stages > 1 else 0
        if mdp.has_dense_transitions:
            expected_next = mdp.P_stages[g] @ V[h + 1]
        else:  # CSR model: the same sums from its non-zeros, without materialising P
            expected_next = _csr_matvec(mdp.sparse_transitions(), g, mdp.S, mdp.A, V[h + 1])
        Q_h = R[h] + expected_next
        if mdp.feasible is not None:  # the optimality backup ranges over feasible actions only
            Q_h = np.where(mdp.feasible[h], Q_h, -np.inf)
        backup = Q_h.max(axis=1)
        worst = max(worst, float(np.abs(V[h] - backup).max()))
    return float(worst)


def _csr_matvec(csr, g: int, S: int, A: int, v: np.ndarray) -> np.ndarray:
    """``P_g @ v`` of shape (S, A) from CSR transitions, in plain numpy."""
    rows = slice(g * S * A, (g + 1) * S * A)
    starts, stops = csr.indptr[rows], csr.indptr[1:][rows]
    products = csr.data[starts[0]:stops[-1]] * v[csr.indices[starts[0]:stops[-1]]]
    row_of = np.repeat(np.arange(S * A), stops - starts)
    return np.bincount(row_of, weights=products, minlength=S * A).reshape(S, A)
