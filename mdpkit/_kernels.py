"""numba kernels for finite-horizon tabular MDPs. No policy logic lives here.

Conventions
-----------
- ``P_stages`` has shape ``(G, S, A, S)`` with ``G = 1`` (stationary: stage ``h`` reads
  ``P_stages[0]``) or ``G = H``; the sparse form is a CSR over the ``G * S * A`` rows
  ``(g * S + s) * A + a``.
- Rewards come batched, ``R`` shape ``(B, H, S, A)``: the batch loop sits *inside* the
  ``(s, a)`` loop so each transition row is read from memory once for all ``B`` rewards.
- Every kernel writes into caller-owned outputs and allocates nothing per stage.
- ``fastmath={"reassoc", "contract"}`` lets LLVM vectorise the dot products (about 2x at DRAM
  scale, 5x in cache) while keeping IEEE NaN/inf semantics that the ``-inf`` initialised
  max/argmax relies on. ``fastmath=True`` would also assume no infinities, so it is not used.

Each kernel has a plain-numpy counterpart in :mod:`mdpkit.solvers.reference` and is tested
against it.

Threads
-------
The dense sweeps have ``*_parallel`` twins that split each stage's states over threads (numba
``prange``; the stages stay sequential, as each needs ``V[h + 1]``). A state's entries are computed
by the same inlined per-state function, with the same reduction order, as in the serial kernel,
so the two give bit-identical results (``tests/test_parallel_kernels.py``).
:func:`dense_threads` decides which one runs: see it for the size threshold and the thread knobs
(``numba.set_num_threads``, ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import numba
import numpy as np
from numba import njit, prange

FASTMATH = {"reassoc", "contract"}

#: A dense sweep runs its ``*_parallel`` kernel only when one stage multiplies at least this many
#: transition entries by values (``B * S * A * S``); below it, starting and joining the threads
#: at every stage costs more than the split saves (measured crossover in
#: ``benchmarks/bench_core.py``, "parallel crossover").
PARALLEL_MIN_STAGE_WORK = 1_000_000

# One parallel sweep at a time per process: a concurrent caller runs the (bit-identical) serial
# kernel instead. This keeps numba's workqueue layer, which aborts the process on concurrent
# use, safe, and two sweeps from two Python threads from oversubscribing the cores.
_parallel_lock = threading.Lock()
# Set in a child forked after numba's GNU OpenMP layer was started: that layer kills such a
# child at its first parallel region, so the child runs serial kernels only.
_omp_started_before_fork = False


def _threading_layer() -> str | None:
    """numba's threading layer, or None while no parallel kernel has started it."""
    try:
        return numba.threading_layer()
    except ValueError:
        return None


def _after_fork_in_child() -> None:
    global _parallel_lock, _omp_started_before_fork
    _parallel_lock = threading.Lock()  # a lock held by a parent thread would stay held forever
    _omp_started_before_fork = _threading_layer() == "omp"


os.register_at_fork(after_in_child=_after_fork_in_child)


def _preload_pip_tbb() -> None:
    # numba's TBB layer opens "libtbb.so.12" by name, which the loader finds in a conda prefix but
    # not where pip's `tbb` wheel puts it (<prefix>/lib of a venv). Loaded once with RTLD_GLOBAL,
    # the library is found by that name. TBB is preferred over workqueue: workqueue starts its
    # threads per parallel region, which cost 1.4-1.8x numpy's BLAS loop at S = 500, A = 10,
    # H = 100 (100 regions), against 1.08x with TBB; under load both are equal.
    if not sys.platform.startswith("linux") or _threading_layer() is not None:
        return
    library = os.path.join(sys.prefix, "lib", "libtbb.so.12")
    if os.path.exists(library):
        try:
            ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
        except OSError:   # an unusable library: numba falls back to the next layer
            pass


_preload_pip_tbb()


def _prefer_blocking_threading_layer() -> None:
    # numba's default order (tbb, omp, workqueue) picks GNU OpenMP where TBB is absent; its
    # threads spin at the per-stage join, and on a loaded machine (2 cores, ~9 runnable
    # processes) the parallel sweep then ran 5-8x *slower* than the serial one at S = 500,
    # A = 10, H = 100; workqueue's ran 0.8-2x faster. workqueue threads sleep instead, and the
    # layer is fork-safe. A layer the user chose (environment or numba.config) is kept.
    chosen = any(name in os.environ for name in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"))
    if chosen or numba.config.THREADING_LAYER != "default" or _threading_layer() is not None:
        return
    if list(numba.config.THREADING_LAYER_PRIORITY) == ["tbb", "omp", "workqueue"]:
        numba.config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]


_prefer_blocking_threading_layer()


def dense_threads(stage_work: int) -> int:
    """Threads a dense sweep should use now; 1 means the serial kernel.

    Parameters
    ----------
    stage_work : int
        Transition entries multiplied per stage, ``B * S * A * S``.

    Returns
    -------
    int
        1 if ``stage_work < PARALLEL_MIN_STAGE_WORK``, if this is a child forked after GNU
        OpenMP started, or if ``OMP_NUM_THREADS`` (read at every call: ``proofs_check`` sets it
        to 1 around each observation) is 1; otherwise ``numba.get_num_threads()`` (set by
        ``numba.set_num_threads`` -- per Python thread -- or the ``NUMBA_NUM_THREADS``
        environment variable), capped by ``OMP_NUM_THREADS``.
    """
    if stage_work < PARALLEL_MIN_STAGE_WORK or _omp_started_before_fork:
        return 1
    threads = numba.get_num_threads()
    omp_limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp_limit.isdigit() and int(omp_limit) >= 1:
        threads = min(threads, int(omp_limit))
    return threads


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _dot(row, v):
    total = 0.0
    for i in range(row.shape[0]):
        total += row[i] * v[i]
    return total


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _csr_dot(indptr, indices, data, row, v):
    total = 0.0
    for k in range(indptr[row], indptr[row + 1]):
        total += data[k] * v[indices[k]]
    return total


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _backup_dense(P_stages, R, Q, V, g, h, s):
    # Q[b, h, s, :] = R[b, h, s, :] + P_g[s] @ V[b, h + 1] for every reward b; each row of P
    # is read once for the whole batch.
    for a in range(R.shape[3]):
        row = P_stages[g, s, a]
        for b in range(R.shape[0]):
            Q[b, h, s, a] = R[b, h, s, a] + _dot(row, V[b, h + 1])


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _backup_sparse(indptr, indices, data, R, Q, V, g, h, s):
    # CSR twin of _backup_dense.
    S, A = R.shape[2], R.shape[3]
    for a in range(A):
        row = (g * S + s) * A + a
        for b in range(R.shape[0]):
            Q[b, h, s, a] = R[b, h, s, a] + _csr_dot(indptr, indices, data, row, V[b, h + 1])


@njit(cache=True, fastmath=FASTMATH)
def _greedy_stage(Q, V, policy, b, h, s):
    # Ties go to the lowest action index, as numpy's argmax does.
    best = -np.inf
    best_a = 0
    for a in range(Q.shape[3]):
        if Q[b, h, s, a] > best:
            best = Q[b, h, s, a]
            best_a = a
    V[b, h, s] = best
    policy[b, h, s] = best_a


@njit(cache=True, fastmath=FASTMATH)
def backward_induction_dense(P_stages, R, Q, V, policy):
    """Optimal Q, V, greedy policy for ``B`` reward functions at once (dense P).

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (B, H, S, A)
    Q : ndarray, shape (B, H, S, A) -- output
    V : ndarray, shape (B, H + 1, S) -- output
    policy : ndarray, shape (B, H, S), int64 -- output
    """
    B, H, S, A = R.shape
    G = P_stages.shape[0]
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            _backup_dense(P_stages, R, Q, V, g, h, s)
            for b in range(B):
                _greedy_stage(Q, V, policy, b, h, s)


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def backward_induction_dense_parallel(P_stages, R, Q, V, policy):
    """:func:`backward_induction_dense` with each stage's states split over threads.

    Bit-identical to the serial kernel (same per-state functions); same parameters.
    """
    B, H, S, A = R.shape
    G = P_stages.shape[0]
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in prange(S):
            _backup_dense(P_stages, R, Q, V, g, h, s)
            for b in range(B):
                _greedy_stage(Q, V, policy, b, h, s)


#: The single-reward dense backup takes actions in pairs (:func:`_dot_pair`) from this many
#: states on. Rows of P are then >= 4 KiB and a stage streams from L3 or DRAM, where sharing the
#: loads of V between two rows pays (serial S = 2000, A = 10: 11% faster). On cache-resident
#: models the paired loop measured 1.2-3x *slower* than one row at a time (S = 20-200), so
#: small models keep the single-row loop. Serial and parallel kernels take the same path.
PAIRED_MIN_STATES = 512


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _dot_pair(row0, row1, v):
    # Two rows against one vector in one pass: v is loaded once for both, and two streams of P
    # are in flight, which is what a bandwidth-bound backup gains from (benchmarks/bench_core.py).
    total0 = 0.0
    total1 = 0.0
    for i in range(v.shape[0]):
        x = v[i]
        total0 += row0[i] * x
        total1 += row1[i] * x
    return total0, total1


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _optimal_backup_single(P_g, R_h, v_next, Q_h, V_h, policy_h, s):
    # Q_h[s, :] = R_h[s, :] + P_g[s] @ v_next with the greedy max fused into the action loop,
    # so a stage streams P once with nothing else in the loop.
    A = R_h.shape[1]
    best = -np.inf
    best_a = 0
    if v_next.shape[0] < PAIRED_MIN_STATES:
        for a in range(A):
            q = R_h[s, a] + _dot(P_g[s, a], v_next)
            Q_h[s, a] = q
            if q > best:  # ties go to the lowest action index, as numpy's argmax does
                best = q
                best_a = a
    else:
        for a in range(0, A - 1, 2):
            dot0, dot1 = _dot_pair(P_g[s, a], P_g[s, a + 1], v_next)
            Q_h[s, a] = R_h[s, a] + dot0
            Q_h[s, a + 1] = R_h[s, a + 1] + dot1
        if A % 2 == 1:
            Q_h[s, A - 1] = R_h[s, A - 1] + _dot(P_g[s, A - 1], v_next)
        for a in range(A):
            if Q_h[s, a] > best:
                best = Q_h[s, a]
                best_a = a
    V_h[s] = best
    policy_h[s] = best_a


@njit(cache=True, fastmath=FASTMATH)
def backward_induction_dense_single(P_stages, R, Q, V, policy):
    """:func:`backward_induction_dense` for one reward (the common case), with the greedy max
    fused into the action loop: each stage then streams P once with nothing else in the loop.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (H, S, A)
    Q : ndarray, shape (H, S, A) -- output
    V : ndarray, shape (H + 1, S) -- output
    policy : ndarray, shape (H, S), int64 -- output
    """
    H, S, A = R.shape
    G = P_stages.shape[0]
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        P_g, R_h, v_next, Q_h, V_h, policy_h = P_stages[g], R[h], V[h + 1], Q[h], V[h], policy[h]
        for s in range(S):
            _optimal_backup_single(P_g, R_h, v_next, Q_h, V_h, policy_h, s)


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def backward_induction_dense_single_parallel(P_stages, R, Q, V, policy):
    """:func:`backward_induction_dense_single` with each stage's states split over threads.

    Bit-identical to the serial kernel (same per-state function); same parameters.
    """
    H, S, A = R.shape
    G = P_stages.shape[0]
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        P_g, R_h, v_next, Q_h, V_h, policy_h = P_stages[g], R[h], V[h + 1], Q[h], V[h], policy[h]
        for s in prange(S):
            _optimal_backup_single(P_g, R_h, v_next, Q_h, V_h, policy_h, s)


@njit(cache=True, fastmath=FASTMATH)
def backward_induction_sparse_single(indptr, indices, data, G, R, Q, V, policy):
    """:func:`backward_induction_sparse` for one reward, greedy max fused (see the dense twin).

    Parameters
    ----------
    indptr, indices, data : CSR arrays of the stored transitions (see module docstring)
    G : int
        Number of stored stages (1 if stationary, else H).
    R : ndarray, shape (H, S, A)
    Q : ndarray, shape (H, S, A) -- output
    V : ndarray, shape (H + 1, S) -- output
    policy : ndarray, shape (H, S), int64 -- output
    """
    H, S, A = R.shape
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            best = -np.inf
            best_a = 0
            row = (g * S + s) * A
            for a in range(A):
                total = 0.0
                for k in range(indptr[row + a], indptr[row + a + 1]):
                    total += data[k] * V[h + 1, indices[k]]
                q = R[h, s, a] + total
                Q[h, s, a] = q
                if q > best:
                    best = q
                    best_a = a
            V[h, s] = best
            policy[h, s] = best_a


@njit(cache=True, fastmath=FASTMATH)
def backward_induction_sparse(indptr, indices, data, G, R, Q, V, policy):
    """As :func:`backward_induction_dense` with P in CSR form (cost proportional to nnz)."""
    B, H, S, A = R.shape
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            _backup_sparse(indptr, indices, data, R, Q, V, g, h, s)
            for b in range(B):
                _greedy_stage(Q, V, policy, b, h, s)


@njit(cache=True, fastmath=FASTMATH)
def backward_induction_sparse_select(indptr, indices, data, G, R_stages, H, Q, V, policy):
    """:func:`backward_induction_sparse_single` storing only what the caller asked for.

    The same arithmetic in the same order (bit-identical ``Q``, ``V``, policy); at S = 10^6,
    H = 100 a full Q is 1.6 GB and a full V 0.8 GB, which a caller who wants the initial value
    and the policy should not pay for.

    Parameters
    ----------
    indptr, indices, data : CSR arrays of the stored transitions (see module docstring)
    G : int
        Number of stored transition stages (1 if stationary, else H).
    R_stages : ndarray, shape (1, S, A) or (H, S, A)
        Rewards as stored: stage ``h`` reads ``R_stages[h if R_stages.shape[0] > 1 else 0]``.
    H : int
        Horizon.
    Q : ndarray, shape (H, S, A), or (0, 0, 0) not to store Q -- output
    V : ndarray, shape (H + 1, S) for every stage, or (2, S): two alternating rows, ``V[0]`` is
        the stage-0 value on return -- output
    policy : ndarray, shape (H, S), any integer dtype holding ``A - 1``, or (0, 0) -- output
    """
    S, A = R_stages.shape[1], R_stages.shape[2]
    keep_q = Q.shape[0] > 0
    keep_policy = policy.shape[0] > 0
    all_stages = V.shape[0] == H + 1
    V[H if all_stages else H % 2, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        r = h if R_stages.shape[0] > 1 else 0
        nxt = h + 1 if all_stages else (h + 1) % 2
        cur = h if all_stages else h % 2
        for s in range(S):
            best = -np.inf
            best_a = 0
            row = (g * S + s) * A
            for a in range(A):
                total = 0.0
                for k in range(indptr[row + a], indptr[row + a + 1]):
                    total += data[k] * V[nxt, indices[k]]
                q = R_stages[r, s, a] + total
                if keep_q:
                    Q[h, s, a] = q
                if q > best:  # ties go to the lowest action index, as numpy's argmax does
                    best = q
                    best_a = a
            V[cur, s] = best
            if keep_policy:
                policy[h, s] = best_a


@njit(cache=True, fastmath=FASTMATH)
def _policy_value_at(Q, V, det_policy, stoch_policy, b, h, s):
    A = Q.shape[3]
    if det_policy.shape[0] > 0:
        V[b, h, s] = Q[b, h, s, det_policy[h, s]]
    else:
        total = 0.0
        for a in range(A):
            total += stoch_policy[h, s, a] * Q[b, h, s, a]
        V[b, h, s] = total


@njit(cache=True, fastmath=FASTMATH)
def policy_evaluation_dense(P_stages, R, det_policy, stoch_policy, Q, V):
    """Q^π and V^π for ``B`` rewards at once (dense P).

    Exactly one of ``det_policy`` (shape (H, S), int64) and ``stoch_policy``
    (shape (H, S, A)) is used: pass the other with a zero-length first axis.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (B, H, S, A)
    det_policy : ndarray, shape (H, S) or (0, 0), int64
    stoch_policy : ndarray, shape (H, S, A) or (0, 0, 0)
    Q : ndarray, shape (B, H, S, A) -- output
    V : ndarray, shape (B, H + 1, S) -- output
    """
    B, H, S, A = R.shape
    G = P_stages.shape[0]
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            _backup_dense(P_stages, R, Q, V, g, h, s)
            for b in range(B):
                _policy_value_at(Q, V, det_policy, stoch_policy, b, h, s)


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def policy_evaluation_dense_parallel(P_stages, R, det_policy, stoch_policy, Q, V):
    """:func:`policy_evaluation_dense` with each stage's states split over threads.

    Bit-identical to the serial kernel (same per-state functions); same parameters.
    """
    B, H, S, A = R.shape
    G = P_stages.shape[0]
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in prange(S):
            _backup_dense(P_stages, R, Q, V, g, h, s)
            for b in range(B):
                _policy_value_at(Q, V, det_policy, stoch_policy, b, h, s)


@njit(cache=True, fastmath=FASTMATH)
def policy_evaluation_sparse(indptr, indices, data, G, R, det_policy, stoch_policy, Q, V):
    """As :func:`policy_evaluation_dense` with P in CSR form."""
    B, H, S, A = R.shape
    V[:, H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            _backup_sparse(indptr, indices, data, R, Q, V, g, h, s)
            for b in range(B):
                _policy_value_at(Q, V, det_policy, stoch_policy, b, h, s)


@njit(cache=True, fastmath=FASTMATH)
def policy_evaluation_sparse_select(indptr, indices, data, G, R_stages, H, det_policy, stoch_policy, Q, V):
    """:func:`policy_evaluation_sparse` for one reward, storing only what the caller asked for.

    The same arithmetic in the same order (bit-identical ``Q`` and ``V``).

    Parameters
    ----------
    indptr, indices, data, G, R_stages, H
        As in :func:`backward_induction_sparse_select`.
    det_policy : ndarray, shape (H, S) or (0, 0), int64
    stoch_policy : ndarray, shape (H, S, A) or (0, 0, 0)
    Q : ndarray, shape (H, S, A), or (0, 0, 0) not to store Q -- output
    V : ndarray, shape (H + 1, S), or (2, S) (two alternating rows, ``V[0]`` is the stage-0 value
        on return) -- output
    """
    S, A = R_stages.shape[1], R_stages.shape[2]
    keep_q = Q.shape[0] > 0
    all_stages = V.shape[0] == H + 1
    deterministic = det_policy.shape[0] > 0
    q = np.empty(A)
    V[H if all_stages else H % 2, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        r = h if R_stages.shape[0] > 1 else 0
        nxt = h + 1 if all_stages else (h + 1) % 2
        cur = h if all_stages else h % 2
        for s in range(S):
            row = (g * S + s) * A
            for a in range(A):
                q[a] = R_stages[r, s, a] + _csr_dot(indptr, indices, data, row + a, V[nxt])
                if keep_q:
                    Q[h, s, a] = q[a]
            if deterministic:
                V[cur, s] = q[det_policy[h, s]]
            else:
                total = 0.0
                for a in range(A):
                    total += stoch_policy[h, s, a] * q[a]
                V[cur, s] = total


def solve_dense(P_stages, R, Q, V, policy) -> None:
    """Backward induction on dense P: serial or parallel kernel (see :func:`dense_threads`),
    the one-reward kernel when ``B = 1``. Bit-identical whichever runs.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (B, H, S, A)
    Q : ndarray, shape (B, H, S, A) -- output
    V : ndarray, shape (B, H + 1, S) -- output
    policy : ndarray, shape (B, H, S), int64 -- output
    """
    B, _, S, A = R.shape
    single = B == 1
    if dense_threads(B * S * A * S) > 1 and _parallel_lock.acquire(blocking=False):
        try:
            if single:
                backward_induction_dense_single_parallel(P_stages, R[0], Q[0], V[0], policy[0])
            else:
                backward_induction_dense_parallel(P_stages, R, Q, V, policy)
            return
        finally:
            _parallel_lock.release()
    if single:
        backward_induction_dense_single(P_stages, R[0], Q[0], V[0], policy[0])
    else:
        backward_induction_dense(P_stages, R, Q, V, policy)


def evaluate_dense(P_stages, R, det_policy, stoch_policy, Q, V) -> None:
    """Policy evaluation on dense P: serial or parallel kernel (see :func:`dense_threads`).
    Bit-identical whichever runs; parameters as :func:`policy_evaluation_dense`."""
    B, _, S, A = R.shape
    if dense_threads(B * S * A * S) > 1 and _parallel_lock.acquire(blocking=False):
        try:
            policy_evaluation_dense_parallel(P_stages, R, det_policy, stoch_policy, Q, V)
            return
        finally:
            _parallel_lock.release()
    policy_evaluation_dense(P_stages, R, det_policy, stoch_policy, Q, V)


@njit(cache=True, fastmath=FASTMATH)
def stream_transitions(P_stages, H):
    """Sum every stored transition entry, ``H`` times: the memory-streaming floor of a sweep.

    Used by the benchmarks as the physical limit backward induction is measured against.
    """
    G, S, A, _ = P_stages.shape
    total = 0.0
    for h in range(H):
        g = h if G > 1 else 0
        for s in range(S):
            for a in range(A):
                row = P_stages[g, s, a]
                acc = 0.0
                for i in range(S):
                    acc += row[i]
                total += acc
    return total


# ----------------------------------------------------------------------------- simulation
@njit(cache=True)
def _sample(cdf, u):
    # First index whose cumulative mass exceeds u. cdf[-1] == 1.0 exactly (see
    # cumulative_rows), and u < 1, so a zero-probability state is never returned.
    return np.searchsorted(cdf, u, side="right")


@njit(cache=True)
def simulate_episodes(P_cdf, mu0_cdf, det_policy, policy_cdf, R, bernoulli, uniforms,
                      states, actions, rewards):
    """Roll out ``n`` episodes with pre-drawn uniforms (bit-identical for the same draws).

    Parameters
    ----------
    P_cdf : ndarray, shape (G, S, A, S)
        Row-wise cumulative transition probabilities, last entry exactly 1.
    mu0_cdf : ndarray, shape (S,)
    det_policy : ndarray, shape (H, S) or (0, 0), int64
    policy_cdf : ndarray, shape (H, S, A) or (0, 0, 0)
        Cumulative action probabilities of a stochastic policy.
    R : ndarray, shape (H, S, A)
    bernoulli : bool
        Draw rewards as Bernoulli(R) instead of returning the mean.
    uniforms : ndarray, shape (n, 1 + 3 H)
        Per episode: initial state, then for each stage the action, transition and reward draws.
    states : ndarray, shape (n, H + 1), int64 -- output
    actions : ndarray, shape (n, H), int64 -- output
    rewards : ndarray, shape (n, H) -- output
    """
    n = uniforms.shape[0]
    H = R.shape[0]
    G = P_cdf.shape[0]
    deterministic = det_policy.shape[0] > 0
    for i in range(n):
        u = uniforms[i]
        s = _sample(mu0_cdf, u[0])
        states[i, 0] = s
        for h in range(H):
            if deterministic:
                a = det_policy[h, s]
            else:
                a = _sample(policy_cdf[h, s], u[1 + 3 * h])
            mean = R[h, s, a]
            if bernoulli:
                rewards[i, h] = 1.0 if u[3 + 3 * h] < mean else 0.0
            else:
                rewards[i, h] = mean
            g = h if G > 1 else 0
            s = _sample(P_cdf[g, s, a], u[2 + 3 * h])
            actions[i, h] = a
            states[i, h + 1] = s


@njit(cache=True)
def simulate_episodes_general(P_cdf, mu0_cdf, det_policy, policy_cdf, R, transition_rewards, two_point,
                              lo, hi, uniforms, states, actions, rewards):
    """:func:`simulate_episodes` for any reward range and for next-state-dependent rewards.

    Same uniforms, same order of use, same states and actions. The reward of stage ``h`` is
    ``m = transition_rewards[g, s, a, s']`` of the *realised* transition when
    ``transition_rewards`` is non-empty (shape (G_r, S, A, S), ``g = h if G_r > 1 else 0``),
    else ``m = R[h, s, a]``; it is paid as ``m`` itself, or with ``two_point`` as ``hi`` with
    probability ``(m - lo) / (hi - lo)`` and ``lo`` otherwise (mean ``m``; Bernoulli(m) for
    ``[lo, hi] = [0, 1]``, bit-identical to :func:`simulate_episodes` there).

    Parameters
    ----------
    transition_rewards : ndarray, shape (G_r, S, A, S) or (0, 0, 0, 0)
    two_point : bool
    lo, hi : float
        Reward range, ``lo < hi``.
    Others as in :func:`simulate_episodes`.
    """
    n = uniforms.shape[0]
    H = R.shape[0]
    G = P_cdf.shape[0]
    G_r = transition_rewards.shape[0]
    deterministic = det_policy.shape[0] > 0
    width = hi - lo
    for i in range(n):
        u = uniforms[i]
        s = _sample(mu0_cdf, u[0])
        states[i, 0] = s
        for h in range(H):
            if deterministic:
                a = det_policy[h, s]
            else:
                a = _sample(policy_cdf[h, s], u[1 + 3 * h])
            g = h if G > 1 else 0
            s_next = _sample(P_cdf[g, s, a], u[2 + 3 * h])
            if G_r > 0:
                mean = transition_rewards[h if G_r > 1 else 0, s, a, s_next]
            else:
                mean = R[h, s, a]
            if two_point:
                rewards[i, h] = hi if u[3 + 3 * h] < (mean - lo) / width else lo
            else:
                rewards[i, h] = mean
            actions[i, h] = a
            states[i, h + 1] = s_next
            s = s_next


@njit(cache=True)
def cumulative_csr_rows(indptr, data):
    """:func:`cumulative_rows` of CSR rows: running sums within each row, divided by the row
    total. The same floats as the dense rows' cumulative sums at their non-zero entries (adding
    the zeros in between changes nothing).

    Parameters
    ----------
    indptr : ndarray, shape (n_rows + 1,), int64
    data : ndarray, shape (nnz,); every row non-empty

    Returns
    -------
    ndarray, shape (nnz,)
    """
    cdf = np.empty_like(data)
    for r in range(indptr.shape[0] - 1):
        total = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            total += data[k]
            cdf[k] = total
        for k in range(indptr[r], indptr[r + 1]):
            cdf[k] /= total
    return cdf


@njit(cache=True)
def simulate_episodes_csr(indptr, indices, cdf, G, mu0_cdf, det_policy, policy_cdf, R, two_point, lo, hi,
                          uniforms, states, actions, rewards):
    """:func:`simulate_episodes_general` (without transition rewards) for CSR transitions.

    Draws the same states, actions and rewards from the same uniforms as the dense kernels:
    the first CSR entry of the row whose cumulative mass exceeds ``u`` is the first dense entry
    that does (zero-probability states never are), so trajectories are bit-identical.

    Parameters
    ----------
    indptr, indices : CSR structure of the stored transitions (see module docstring)
    cdf : ndarray, shape (nnz,)
        :func:`cumulative_csr_rows` of the CSR data.
    G : int
        Number of stored transition stages (1 if stationary, else H).
    R : ndarray, shape (H, S, A)
        Mean rewards (a broadcast view of stationary ones is fine).
    Others as in :func:`simulate_episodes_general`.
    """
    n = uniforms.shape[0]
    H, S, A = R.shape
    deterministic = det_policy.shape[0] > 0
    width = hi - lo
    for i in range(n):
        u = uniforms[i]
        s = _sample(mu0_cdf, u[0])
        states[i, 0] = s
        for h in range(H):
            if deterministic:
                a = det_policy[h, s]
            else:
                a = _sample(policy_cdf[h, s], u[1 + 3 * h])
            mean = R[h, s, a]
            if two_point:
                rewards[i, h] = hi if u[3 + 3 * h] < (mean - lo) / width else lo
            else:
                rewards[i, h] = mean
            row = ((h if G > 1 else 0) * S + s) * A + a
            start = indptr[row]
            s = indices[start + _sample(cdf[start:indptr[row + 1]], u[2 + 3 * h])]
            actions[i, h] = a
            states[i, h + 1] = s


@njit(cache=True)
def worst_path_totals(possible, R, worst):
    """Largest reward total along any feasible path, from every state at every stage.

    ``worst[h, s, b] = max_a (R[h, s, a, b] + max_{s' : possible[s, a, s']} worst[h + 1, s', b])``
    with ``worst[H] = 0``: a max-plus backward induction, exact in floating point (max and one
    addition per entry), so any evaluation order gives the same floats.

    Parameters
    ----------
    possible : ndarray, shape (S, A, S), bool
        ``possible[s, a, s']``: ``s'`` can follow ``(s, a)``; every ``(s, a)`` has at least one.
    R : ndarray, shape (H, S, A, B)
        Rewards, batch last.
    worst : ndarray, shape (H + 1, S, B), written
    """
    H, S, A, B = R.shape
    best_next = np.empty(B)
    worst[H] = 0.0
    for h in range(H - 1, -1, -1):
        for s in range(S):
            for b in range(B):
                worst[h, s, b] = -np.inf
            for a in range(A):
                for b in range(B):
                    best_next[b] = -np.inf
                for t in range(S):
                    if possible[s, a, t]:
                        for b in range(B):
                            best_next[b] = max(best_next[b], worst[h + 1, t, b])
                for b in range(B):
                    worst[h, s, b] = max(worst[h, s, b], R[h, s, a, b] + best_next[b])


def cumulative_rows(probabilities: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis, scaled so each row ends at exactly 1.0.

    Rows of validated distributions sum to 1 within 1e-9; dividing by the row total (not
    overwriting the last entry) keeps zero-probability trailing states unreachable.
    """
    cdf = np.cumsum(probabilities, axis=-1)
    cdf /= cdf[..., -1:]
    return cdf
