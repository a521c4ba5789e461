"""numba kernel of self-play Hedge (:mod:`mdpkit.algorithms.mwu`).

The whole recurrence runs in one call, writing every iterate and the running average into
caller-owned arrays: the per-iteration work is an ``n x n`` mat-vec and ``O(n)`` log-domain
normalisation (~1 us at n <= 50), far below the ~9 us a Python loop spends dispatching it.

Its plain-numpy specification is :func:`mdpkit.algorithms.mwu.reference_iterates` (the loop over
:func:`mdpkit.algorithms.mwu.step`); tests/test_mwu.py checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The project's kernel convention (see mdpkit/_kernels.py): vectorisable dot products, IEEE
# NaN/inf semantics kept for the -inf initialised maximum.
FASTMATH = {"reassoc", "contract"}


@njit(cache=True, fastmath=FASTMATH)
def hedge_self_play(P, eta, log_policies, average):
    """Self-play Hedge ``log pi_{t+1} = log_normalize(log pi_t + eta P exp(log pi_t))``.

    Parameters
    ----------
    P : ndarray, shape (n, n)
        ``P[y, y'] = P(y > y')``.
    eta : float
        Step size.
    log_policies : ndarray, shape (T + 1, n)
        Row 0 holds ``log pi_0`` on entry; rows ``1..T`` are overwritten with the iterates.
    average : ndarray, shape (T + 1, n)
        Overwritten with the running means ``(pi_0 + ... + pi_t) / (t + 1)``.
    """
    n = P.shape[0]
    T = log_policies.shape[0] - 1
    pi = np.empty(n)
    logits = np.empty(n)
    running_sum = np.zeros(n)
    for y in range(n):
        pi[y] = np.exp(log_policies[0, y])
    for t in range(T + 1):
        for y in range(n):
            running_sum[y] += pi[y]              # sequential sum: the same order as np.cumsum
            average[t, y] = running_sum[y] / (t + 1)
        if t == T:
            break
        log_pi = log_policies[t]
        largest = -np.inf
        for y in range(n):
            win_rate = 0.0                       # P(y > pi_t), the one preference query
            for x in range(n):
                win_rate += P[y, x] * pi[x]
            logits[y] = log_pi[y] + eta * win_rate
            largest = max(largest, logits[y])
        total = 0.0
        for y in range(n):
            logits[y] -= largest
            pi[y] = np.exp(logits[y])
            total += pi[y]
        log_total = np.log(total)
        for y in range(n):
            log_policies[t + 1, y] = logits[y] - log_total
            # pi_{t+1} from the normalisation's exponentials: n exponentials per step instead of 2n
            # (exp(log pi_{t+1}) would differ from it by rounding only).
            pi[y] /= total
