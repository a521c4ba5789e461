"""numba kernels for UCBVI, StepMix and EpsMix. No policy *choice* logic beyond the pseudocode
steps each kernel names; the algorithms' docstrings live in :mod:`.ucbvi` and :mod:`.stepmix`.

Conventions
-----------
- Counts are float64 (so the empirical dot products vectorise): ``counts_sas`` shape
  ``(G, S, A, S)``, ``counts_sa`` shape ``(G, S, A)`` with ``G = 1`` (pooled over stages, for a
  stationary model) or ``G = H`` (per stage); ``visits`` shape ``(H + 1, S)`` counts the visits of
  each state at each step (step ``H`` = the state after the last action).
- The empirical model is never materialised: ``P_hat V = (counts_sas . V) / counts_sa``. The
  per-pair ``1 / n`` and ``1 / sqrt(n)`` are cached (``inv_n``, ``inv_sqrt_n``, see
  :func:`refresh_pair_inverses`), so no sweep divides or takes a square root for them -- except
  the Bernstein variance, which keeps ``/ n`` (see :func:`optimistic_plan`).
- A policy that plays ``pi^k`` for the first ``m`` steps and the baseline afterwards is encoded by
  ``m`` in ``0..H`` ("number of optimistic steps"). A StepMix path point ``(t, rho)`` plays
  ``m = t + 1`` with probability ``rho`` and ``m = t`` otherwise.
- Uniform layout per episode (StepMix/EpsMix): ``u[0]`` initial state, ``u[1]`` the switch coin,
  ``u[2 + 2h]`` the baseline's action draw at step ``h``, ``u[3 + 2h]`` the transition draw.
  UCBVI uses ``u[0]`` and ``u[1 + h]`` (transition at step ``h``).
- Every kernel writes into caller-owned outputs. Plain-numpy references are in the tests.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._kernels import _dot, _sample

FASTMATH = {"reassoc", "contract"}


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _row_dot(M, g, s, a, V, i):
    """``sum_y M[g, s, a, y] V[i, y]``.

    Indexing the 4-D and 2-D arrays directly, instead of taking the row views ``M[g, s, a]`` and
    ``V[i]`` inside the hot loops, measured 2-3x faster (no array view is built per row).
    """
    total = 0.0
    for y in range(M.shape[3]):
        total += M[g, s, a, y] * V[i, y]
    return total


# ============================================================================ counts
@njit(cache=True, fastmath=FASTMATH)
def refresh_pair_inverses(counts_sa, inv_n, inv_sqrt_n):
    """``1 / n`` and ``1 / sqrt(n)`` of every pair's count, 0 for an unvisited pair (in place).

    Every bonus and every empirical mean is a multiple of one of these, so the sweeps multiply
    instead of dividing and taking a square root per pair (a division or square root costs ~15
    cycles of latency, as much as the pair's whole length-``S`` dot product). The chunk kernels
    call this once at their start, so counts edited between calls (``run_offline`` seeds them
    from a dataset) are always picked up; :func:`record_transition` keeps them current after that.

    Parameters
    ----------
    counts_sa : ndarray, shape (G, S, A)
    inv_n, inv_sqrt_n : ndarray, shape (G, S, A) -- output
    """
    G, S, A = counts_sa.shape
    for g in range(G):
        for s in range(S):
            for a in range(A):
                n = counts_sa[g, s, a]
                if n > 0.0:
                    inv_n[g, s, a] = 1.0 / n
                    inv_sqrt_n[g, s, a] = 1.0 / math.sqrt(n)
                else:
                    inv_n[g, s, a] = 0.0
                    inv_sqrt_n[g, s, a] = 0.0


@njit(cache=True, fastmath=FASTMATH)
def record_transition(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, h, s, a, s_next):
    """Add one observed transition ``(h, s, a) -> s_next`` to the counts and their inverses (in place)."""
    g = h if counts_sas.shape[0] > 1 else 0
    counts_sas[g, s, a, s_next] += 1.0
    n = counts_sa[g, s, a] + 1.0
    counts_sa[g, s, a] = n
    inv_n[g, s, a] = 1.0 / n
    inv_sqrt_n[g, s, a] = 1.0 / math.sqrt(n)
    visits[h + 1, s_next] += 1.0


# ============================================================================ optimistic planning
#: Margin of the saturation test in :func:`optimistic_plan`, relative to ``H - h``: a pair's row sums
#: are skipped only if a lower bound on its backup exceeds the clip by this much, far above the
#: ~1e-13 rounding of either side, so the skipped and the computed Q are the same float.
_SATURATION_SLACK = 1e-9


@njit(cache=True, fastmath=FASTMATH)
def optimistic_plan(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, R, log_term, bernstein, bonus_scale,
                    optimistic_init, w_next, Q, V, policy):
    """UCBVI's optimistic backward induction on the empirical model plus bonus (Azar et al. 2017).

    ``Q[h, s, a] = min(Q_prev[h, s, a], H - h, R + P_hat V[h + 1] + bonus_scale * b)``; unvisited
    pairs get ``H - h``. Hoeffding (UCBVI-CH): ``b = 7 H L / sqrt(n)``. Bernstein-Freedman
    (UCBVI-BF): ``b = sqrt(8 L Var_{P_hat}(V[h+1]) / n) + 14 H L / (3 n)
    + sqrt(8 E_{P_hat}[min(1e4 H^3 S^2 A L^2 / N'_{h+1}(y), H^2)] / n)``.

    Cost: one fused pass over the count row of every *visited* pair per stage (``E[V]`` and
    ``E[V^2]`` together), i.e. at most the ``H S A S`` of one backward induction, plus one square
    root per visited pair (the variance); no division in the sweep (:func:`refresh_pair_inverses`).

    Parameters
    ----------
    counts_sas : ndarray, shape (G, S, A, S)
    counts_sa : ndarray, shape (G, S, A)
    inv_n, inv_sqrt_n : ndarray, shape (G, S, A)
        ``1 / n`` and ``1 / sqrt(n)`` of ``counts_sa`` (0 where unvisited), see
        :func:`refresh_pair_inverses`.
    visits : ndarray, shape (H + 1, S)
        ``N'_h(y)``: visits of ``y`` at step ``h`` (used by the Bernstein bonus only).
    R : ndarray, shape (H, S, A)
        Known mean rewards.
    log_term : float
        ``L``.
    bernstein : bool
    bonus_scale : float
    optimistic_init : bool
        ``True`` (UCBVI): unvisited pairs get ``H - h`` and ``Q_k <= Q_{k-1}``. ``False``: certainty
        equivalence -- an unvisited pair is worth its known reward only and there is no monotone
        clip (``Q_{k-1}`` is an upper bound on ``Q*`` only under optimism). With ``bonus_scale = 0``
        this is the greedy "bonus removed" learner.
    w_next : ndarray, shape (H + 1, S) -- scratch
    Q : ndarray, shape (H, S, A) -- in/out: the previous episode's Q in, this episode's out
    V : ndarray, shape (H + 1, S) -- output
    policy : ndarray, shape (H, S), int64 -- output (ties to the lowest action)
    """
    H, S, A = R.shape
    G = counts_sas.shape[0]
    Hf = float(H)
    if bernstein:
        c_visit = 1e4 * Hf ** 3 * S * S * A * log_term * log_term
        for h in range(1, H + 1):
            for y in range(S):
                n_y = visits[h, y]
                w = Hf * Hf
                if n_y * w > c_visit:  # i.e. c_visit / n_y < H^2 (n_y > 0): divide only then
                    w = c_visit / n_y
                w_next[h, y] = w
    # b * bonus_scale = var_coef sqrt(Var) / sqrt(n) + lin_coef / n + w_coef sqrt(E[w]) / sqrt(n)  (Bernstein)
    #                 = lin_coef / sqrt(n)                                                          (Hoeffding)
    lin_coef = bonus_scale * (14.0 * Hf * log_term / 3.0 if bernstein else 7.0 * Hf * log_term)
    var_coef = bonus_scale * math.sqrt(8.0 * log_term)
    w_coef = bonus_scale * math.sqrt(8.0)
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        cap = Hf - h
        # With the theoretical constant every w_next[h + 1, y] is H^2 until a state is visited
        # ~1e4 H S^2 A L^2 times: then E_{P_hat}[w] = w exactly and the third sum can be skipped.
        w_flat = bernstein
        if bernstein:
            for y in range(1, S):
                if w_next[h + 1, y] != w_next[h + 1, 0]:
                    w_flat = False
                    break
        sqrt_w_flat = math.sqrt(w_next[h + 1, 0]) if w_flat else 0.0
        # Lower bound on R + P_hat V + b without the row sums: P_hat V >= min V[h + 1], Var >= 0 and
        # E_{P_hat}[w] >= min w. Where it already reaches the clip, Q is the clip: see _SATURATION_SLACK.
        v_min = V[h + 1, 0]
        w_min = w_next[h + 1, 0] if bernstein else 0.0
        for y in range(1, S):
            v_min = min(v_min, V[h + 1, y])
            if bernstein:
                w_min = min(w_min, w_next[h + 1, y])
        sqrt_w_min = math.sqrt(w_min)
        for s in range(S):
            best = -np.inf
            best_a = 0
            for a in range(A):
                if counts_sa[g, s, a] > 0.0:
                    inv = inv_n[g, s, a]
                    isq = inv_sqrt_n[g, s, a]
                    clip = cap
                    if optimistic_init:
                        q_prev = Q[h, s, a]
                        clip = clip if clip < q_prev else q_prev
                    if bernstein:
                        q_low = R[h, s, a] + v_min + (w_coef * sqrt_w_min * isq + lin_coef * inv)
                    else:
                        q_low = R[h, s, a] + v_min + lin_coef * isq
                    if q_low >= clip + _SATURATION_SLACK * cap:
                        q = clip  # saturated: the full backup would return the clip exactly
                    else:
                        if bernstein:
                            m1 = 0.0
                            m2 = 0.0
                            if w_flat:
                                for y in range(S):
                                    cv = counts_sas[g, s, a, y] * V[h + 1, y]
                                    m1 += cv
                                    m2 += cv * V[h + 1, y]
                                sqrt_mw = sqrt_w_flat
                            else:
                                mw = 0.0
                                for y in range(S):
                                    c = counts_sas[g, s, a, y]
                                    cv = c * V[h + 1, y]
                                    m1 += cv
                                    m2 += cv * V[h + 1, y]
                                    mw += c * w_next[h + 1, y]
                                sqrt_mw = math.sqrt(mw * inv)
                            # Divided, not multiplied by 1 / n: the square root below turns the rounding of
                            # a near-zero E[V^2] - E[V]^2 into ~sqrt(eps) H, so the variance keeps the
                            # historical arithmetic (a multiplication here moved optimistic values by 1e-9).
                            n = counts_sa[g, s, a]
                            m1 /= n
                            var = m2 / n - m1 * m1
                            var = var if var > 0.0 else 0.0  # rounding of E[V^2] - E[V]^2 only; Var >= 0
                            bonus = (var_coef * math.sqrt(var) + w_coef * sqrt_mw) * isq + lin_coef * inv
                        else:
                            m1 = 0.0
                            for y in range(S):
                                m1 += counts_sas[g, s, a, y] * V[h + 1, y]
                            m1 *= inv
                            bonus = lin_coef * isq
                        q = R[h, s, a] + m1 + bonus
                        q = q if q < cap else cap
                elif optimistic_init:
                    q = cap
                else:
                    q = R[h, s, a]
                if optimistic_init:  # Azar et al.: Q_k <= Q_{k-1} (values only ever tighten)
                    q_prev = Q[h, s, a]
                    q = q if q < q_prev else q_prev
                Q[h, s, a] = q
                # selects, not branches: which action wins is data-dependent (mispredicted) late in a run
                better = q > best
                best = q if better else best
                best_a = a if better else best_a
            V[h, s] = best
            policy[h, s] = best_a


# ============================================================================ exact audit (true model)
@njit(cache=True, fastmath=FASTMATH)
def true_path_value(P_stages, R, mu0, policy_k, Vb_true, m_top, rho, V_buf):
    """Exact value ``mu0 . V_0`` of the StepMix path policy ``(t, rho)`` on the TRUE model.

    Steps ``h < t`` play ``policy_k``; step ``t`` plays ``policy_k`` with probability ``rho`` and
    the baseline otherwise; steps ``h > t`` play the baseline, whose true values ``Vb_true`` are
    given. ``t = m_top``. ``(H - 1, 1)`` is ``pi^k`` itself and ``(0, 0)`` the baseline.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (H, S, A)
    mu0 : ndarray, shape (S,)
    policy_k : ndarray, shape (H, S), int64
    Vb_true : ndarray, shape (H + 1, S)
        True values of the baseline policy.
    m_top : int
        The switch step ``t`` in ``0..H-1``.
    rho : float
    V_buf : ndarray, shape (2, S) -- scratch
    """
    H, S, A = R.shape
    G = P_stages.shape[0]
    t = m_top
    g = t if G > 1 else 0
    cur = V_buf[t % 2]
    for s in range(S):
        a = policy_k[t, s]
        q_k = R[t, s, a] + _row_dot(P_stages, g, s, a, Vb_true, t + 1)
        cur[s] = rho * q_k + (1.0 - rho) * Vb_true[t, s]
    for h in range(t - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            a = policy_k[h, s]
            V_buf[h % 2, s] = R[h, s, a] + _row_dot(P_stages, g, s, a, V_buf, (h + 1) % 2)
    return _dot(mu0, V_buf[0])


@njit(cache=True, fastmath=FASTMATH)
def evaluate_deterministic(P_stages, R, mu0, policy, V):
    """Exact ``mu0 . V^pi_0`` of a deterministic policy on the true model (one ``H S^2`` sweep).

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
    R : ndarray, shape (H, S, A)
    mu0 : ndarray, shape (S,)
    policy : ndarray, shape (H, S), int64
    V : ndarray, shape (H + 1, S) -- output
    """
    H, S, A = R.shape
    G = P_stages.shape[0]
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        for s in range(S):
            a = policy[h, s]
            V[h, s] = R[h, s, a] + _row_dot(P_stages, g, s, a, V, h + 1)
    return _dot(mu0, V[0])


# ============================================================================ UCBVI episode loop
@njit(cache=True, fastmath=FASTMATH)
def run_ucbvi_chunk(P_stages, P_cdf, mu0, mu0_cdf, R, log_term, bernstein, bonus_scale, optimistic_init, uniforms,
                    counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, w_next, Q, V, policy, V_audit,
                    values, optimistic_values):
    """Run ``n`` UCBVI episodes: plan, audit the planned policy exactly, roll it out, count.

    Parameters
    ----------
    P_stages : ndarray, shape (G, S, A, S)
        TRUE transitions, for the exact audit only.
    P_cdf : ndarray, shape (G, S, A, S)
        Their row-wise cumulative sums (environment sampling).
    mu0, mu0_cdf : ndarray, shape (S,)
    R : ndarray, shape (H, S, A)
    log_term, bernstein, bonus_scale, optimistic_init
        As in :func:`optimistic_plan`.
    uniforms : ndarray, shape (n, 1 + H)
        ``u[0]`` initial state, ``u[1 + h]`` transition at step ``h``.
    counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, w_next, Q, V, policy
        Learner state and scratch (in/out), as in :func:`optimistic_plan`; ``inv_n`` and
        ``inv_sqrt_n`` are recomputed from ``counts_sa`` on entry.
    V_audit : ndarray, shape (H + 1, S) -- scratch
    values : ndarray, shape (n,) -- output: exact value of each episode's policy
    optimistic_values : ndarray, shape (n,) -- output: ``mu0 . V_bar_0`` of each episode
    """
    H = R.shape[0]
    refresh_pair_inverses(counts_sa, inv_n, inv_sqrt_n)
    for i in range(uniforms.shape[0]):
        optimistic_plan(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, R, log_term, bernstein, bonus_scale,
                        optimistic_init, w_next, Q, V, policy)
        optimistic_values[i] = _dot(mu0, V[0])
        values[i] = evaluate_deterministic(P_stages, R, mu0, policy, V_audit)
        u = uniforms[i]
        s = _sample(mu0_cdf, u[0])
        visits[0, s] += 1.0
        for h in range(H):
            a = policy[h, s]
            g = h if P_cdf.shape[0] > 1 else 0
            s_next = _sample(P_cdf[g, s, a], u[1 + h])
            record_transition(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, h, s, a, s_next)
            s = s_next


# ============================================================================ pessimistic side (StepMix)
@njit(cache=True, fastmath=FASTMATH, inline="always")
def _lower_q(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, pess_coef, h, s, a, V_next, i):
    # Q_low = max(0, R + P_hat V - b), b = pess_coef * (H - h - 1) / sqrt(n): half the range of
    # V[h+1] times the L1 (Weissman) radius -- pess_coef carries the 1/2 (see stepmix.py).
    # Unvisited pairs have b = inf, i.e. Q_low = 0 -- except at the last step, where V[H] = 0
    # and the known reward is exact.
    H = R.shape[0]
    if h == H - 1:
        return R[h, s, a]
    g = h if counts_sas.shape[0] > 1 else 0
    n = counts_sa[g, s, a]
    if n == 0.0:
        return 0.0
    x = (R[h, s, a] + _row_dot(counts_sas, g, s, a, V_next, i) * inv_n[g, s, a]
         - pess_coef * (H - h - 1) * inv_sqrt_n[g, s, a])
    return x if x > 0.0 else 0.0


@njit(cache=True, fastmath=FASTMATH)
def baseline_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, base_probs, pess_coef, upper, W_low, W_up):
    """Pessimistic (and optionally optimistic) values of the baseline policy on the empirical model.

    Parameters
    ----------
    counts_sas, counts_sa, inv_n, inv_sqrt_n, R
        As in :func:`optimistic_plan`.
    base_probs : ndarray, shape (H, S, A)
        Baseline action distributions (zero-probability actions are skipped).
    pess_coef : float
        Weissman radius numerator ``sqrt(2 (S ln 2 + L'))`` times ``pessimism_scale``.
    upper : bool
        Also compute ``W_up``.
    W_low : ndarray, shape (H + 1, S) -- output
    W_up : ndarray, shape (H + 1, S) -- output (meaningful only if ``upper``)

    Notes
    -----
    ``W_low`` uses the formula of ``_lower_q``; ``W_up`` its mirror ``min(H - h, R + P_hat V + b)``
    (unvisited pairs: ``H - h``). Written out: the helper calls cost more than the
    arithmetic here.
    """
    H, S, A = R.shape
    G = counts_sas.shape[0]
    W_low[H, :] = 0.0
    W_up[H, :] = 0.0
    for s in range(S):  # last step: V[H] = 0 and the reward is known, so both bounds are exact
        total = 0.0
        for a in range(A):
            total += base_probs[H - 1, s, a] * R[H - 1, s, a]
        W_low[H - 1, s] = total
        W_up[H - 1, s] = total
    for h in range(H - 2, -1, -1):
        g = h if G > 1 else 0
        radius = pess_coef * (H - h - 1)
        cap = float(H - h)
        for s in range(S):
            lo = 0.0
            up = 0.0
            for a in range(A):
                p = base_probs[h, s, a]
                if p == 0.0:
                    continue
                r = R[h, s, a]
                if counts_sa[g, s, a] == 0.0:  # infinite radius
                    up += p * cap
                    continue
                b = radius * inv_sqrt_n[g, s, a]
                inv = inv_n[g, s, a]
                x = r + _row_dot(counts_sas, g, s, a, W_low, h + 1) * inv - b
                # a select, not a branch (the sign of x is data-dependent); adding p * 0.0 leaves lo unchanged
                lo += p * (x if x > 0.0 else 0.0)
                if upper:
                    y = r + _row_dot(counts_sas, g, s, a, W_up, h + 1) * inv + b
                    up += p * (y if y < cap else cap)
            W_low[h, s] = lo
            W_up[h, s] = up


@njit(cache=True, fastmath=FASTMATH)
def pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, t, rho, V_buf,
                           dV_buf, with_slope=True):
    """Pessimistic value ``f_t(rho)`` of the StepMix path point ``(t, rho)`` and its right slope in rho.

    Stage ``t``: ``V_t(s) = rho Q_low_t(s, pi^k(s)) + (1 - rho) W_low_t(s)`` (affine in rho);
    earlier stages: ``V_h(s) = max(0, R + P_hat V_{h+1} - b)`` at ``a = pi^k_h(s)``. The slope is
    propagated alongside (forward-mode), taking the right derivative at a kink.

    Parameters
    ----------
    counts_sas, counts_sa, inv_n, inv_sqrt_n, R
        As in :func:`optimistic_plan`.
    mu0 : ndarray, shape (S,)
    pess_coef : float
    policy_k : ndarray, shape (H, S), int64
    W_low : ndarray, shape (H + 1, S)
        Pessimistic baseline values from :func:`baseline_bounds`.
    t : int
        Switch step in ``0..H-1``.
    rho : float
    V_buf, dV_buf : ndarray, shape (2, S) -- scratch
    with_slope : bool
        Propagate the slope (the scan over ``t`` only needs values: half the work).

    Returns
    -------
    (float, float)
        ``f_t(rho)`` and ``d f_t / d rho`` (right derivative; 0 without ``with_slope``).
    """
    H, S, A = R.shape
    G = counts_sas.shape[0]
    k = t % 2
    for s in range(S):
        q_k = _lower_q(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, pess_coef, t, s, policy_k[t, s], W_low, t + 1)
        V_buf[k, s] = rho * q_k + (1.0 - rho) * W_low[t, s]
        dV_buf[k, s] = q_k - W_low[t, s]
    for h in range(t - 1, -1, -1):
        g = h if G > 1 else 0
        cur = V_buf[h % 2]
        nxt = V_buf[(h + 1) % 2]
        radius = pess_coef * (H - h - 1)
        if not with_slope:
            # The value-only sweep (the scan over t and f_k): a plain row view and a select for
            # "unvisited" measured 2x faster than the branchy loop below.
            for s in range(S):
                a = policy_k[h, s]
                row = counts_sas[g, s, a]
                pv = 0.0
                for y in range(S):
                    pv += row[y] * nxt[y]
                x = R[h, s, a] + pv * inv_n[g, s, a] - radius * inv_sqrt_n[g, s, a]
                x = x if x > 0.0 else 0.0
                cur[s] = x if counts_sa[g, s, a] > 0.0 else 0.0  # unvisited: infinite radius
            continue
        d_cur = dV_buf[h % 2]
        d_nxt = dV_buf[(h + 1) % 2]
        for s in range(S):
            a = policy_k[h, s]
            if counts_sa[g, s, a] == 0.0:
                cur[s] = 0.0
                d_cur[s] = 0.0
                continue
            row = counts_sas[g, s, a]
            pv = 0.0
            pdv = 0.0
            for y in range(S):
                pv += row[y] * nxt[y]
                pdv += row[y] * d_nxt[y]
            dx = pdv * inv_n[g, s, a]
            x = R[h, s, a] + pv * inv_n[g, s, a] - radius * inv_sqrt_n[g, s, a]
            # selects, not branches: the sign of x is data-dependent
            keep = (x > 0.0) | ((x == 0.0) & (dx > 0.0))
            cur[s] = x if keep else 0.0
            d_cur[s] = dx if keep else 0.0
    if not with_slope:
        return _dot(mu0, V_buf[0]), 0.0
    return _dot(mu0, V_buf[0]), _dot(mu0, dV_buf[0])


@njit(cache=True, fastmath=FASTMATH)
def largest_feasible_rho(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, t, threshold,
                         V_buf, dV_buf):
    """Largest ``rho`` in ``[0, 1]`` with ``f_t(rho) >= threshold``, given ``f_t(0) >= threshold > f_t(1)``.

    ``f_t`` is convex and piecewise linear in ``rho``, so Newton's method from the left stays
    feasible (the tangent is below ``f``) and reaches the root in finitely many steps; every
    accepted iterate has a *computed* value ``>= threshold``.

    Reconstructed: the convexity is this package's derivation for its own pessimistic backup (only
    the lower clip at 0, deterministic ``pi^k``; ``docs/papers/stepmix.md#stepmix-the-path-and-its-choice-rule``), not a
    result from the paper.

    Returns
    -------
    (float, float)
        ``rho`` and the certified lower bound ``f_t(rho)``.
    """
    rho = 0.0
    val, slope = pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, t,
                                        0.0, V_buf, dV_buf)  # f_t(0) and its slope
    for _ in range(64):
        if slope >= 0.0:
            break  # cannot happen when f_t(1) < threshold (convexity); guards rounding
        step = (val - threshold) / (-slope)
        if not step > 0.0:
            break
        cand = rho + step
        if cand > 1.0:
            cand = 1.0
        c_val, c_slope = pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k,
                                                W_low, t, cand, V_buf, dV_buf)
        if c_val >= threshold and cand > rho:
            rho, val, slope = cand, c_val, c_slope
            if rho >= 1.0:
                break
            continue
        # Landed on the root up to rounding (c_val a few ulps short): step back a hair, and stop
        # either way -- every returned rho has a computed certificate >= threshold.
        for shrink in (1e-12, 1e-9, 1e-6):
            cand = rho + step * (1.0 - shrink)
            c_val, c_slope = pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef,
                                                    policy_k, W_low, t, cand, V_buf, dV_buf)
            if c_val >= threshold and cand > rho:
                rho, val = cand, c_val
                break
        break
    return rho, val


#: Rounding slack of the skip test in :func:`choose_path_point`: a switch step is skipped only if its
#: upper bound is below ``threshold - _SKIP_SLACK``; both sides carry rounding errors ~1e-13 on [0, H].
_SKIP_SLACK = 1e-9


@njit(cache=True, fastmath=FASTMATH)
def path_upper_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, d_buf, U):
    """Upper bounds ``U[t] >= f_t(0)`` for every switch step ``t``, all in one ``O(H S^2)`` forward pass.

    ``f_t(0) = mu0 . B_0 B_1 ... B_{t-1} W_low_t`` with the clipped pessimistic backup
    ``B_h V(s) = max(0, c_h(s) + P_hat_h(s) . V)``, ``c_h(s) = R - b`` at ``a = pi^k_h(s)`` (0 if unvisited).
    Every ``V`` it is applied to lies in ``[0, H - h - 1]`` (rewards in [0, 1], clip at 0), so
    ``x = P_hat . V`` lies in ``[0, X]``, ``X = H - h - 1``, and the convex ``x -> max(0, c + x)`` is
    below its chord: ``B_h V(s) <= max(0, c) + lam(s) P_hat(s) . V`` with
    ``lam = (max(0, c + X) - max(0, c)) / X`` in ``[0, 1]``. This bound is linear in ``V``, so pushing
    the (sub-stochastic) weights ``d_{h+1} = (d_h lam_h) P_hat_h`` forward from ``d_0 = mu0`` gives
    ``U[t] = sum_{h<t} d_h . max(0, c_h) + d_t . W_low_t`` for all ``t`` at once.

    Parameters
    ----------
    counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low
        As in :func:`pessimistic_path_value`.
    d_buf : ndarray, shape (2, S) -- scratch
    U : ndarray, shape (H,) -- output

    Returns
    -------
    float
        The same bound for ``pi^k`` itself, ``>= f_k = f_{H-1}(1)`` (the last step's value is the
        known reward ``R[H - 1, s, pi^k(s)]`` in place of ``W_low[H - 1]``).
    """
    H, S, A = R.shape
    G = counts_sas.shape[0]
    d = d_buf[0]
    for s in range(S):
        d[s] = mu0[s]
    prefix = 0.0
    for t in range(H):
        U[t] = prefix + _dot(d, W_low[t])
        if t == H - 1:
            # pi^k itself, f_k = f_{H-1}(1): its last-step value is the known reward, also in [0, 1]
            for s in range(S):
                prefix += d[s] * R[t, s, policy_k[t, s]]
            return prefix
        g = t if G > 1 else 0
        nxt = d_buf[(t + 1) % 2]
        for y in range(S):
            nxt[y] = 0.0
        X = float(H - t - 1)
        radius = pess_coef * (H - t - 1)
        for s in range(S):
            w = d[s]
            if w == 0.0:
                continue
            a = policy_k[t, s]
            n = counts_sa[g, s, a]
            if n == 0.0:  # pessimistic value exactly 0
                continue
            c = R[t, s, a] - radius * inv_sqrt_n[g, s, a]
            c_pos = c if c > 0.0 else 0.0
            top = c + X
            lam = ((top if top > 0.0 else 0.0) - c_pos) / X
            prefix += w * c_pos
            if lam > 0.0:
                coef = w * lam * inv_n[g, s, a]
                for y in range(S):
                    nxt[y] += coef * counts_sas[g, s, a, y]
        d = nxt
    return prefix  # not reached (the loop returns at t = H - 1)


@njit(cache=True, fastmath=FASTMATH)
def choose_path_point(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, threshold, f_k,
                      V_buf, dV_buf, U):
    """StepMix's choice: the lexicographically largest certified path point ``(t, rho)``.

    Reconstructed: the path and this choice rule are this package's reading of StepMix
    (``docs/papers/stepmix.md#stepmix-the-path-and-its-choice-rule``); the paper's rule was not available.

    ``(H - 1, 1)`` (``pi^k`` itself) if ``f_k = f_{H-1}(1) >= threshold``; else the largest ``t``
    with ``f_t(0) >= threshold`` and the largest certified ``rho`` there; else the baseline
    ``(0, 0)``, uncertified. Switch steps whose upper bound (:func:`path_upper_bounds`) is below
    the threshold are skipped without evaluating ``f_t(0)``: the bound certifies they fail, so the
    choice is exactly the full scan's, at a fraction of its ``H^2 S^2 / 2`` cost.

    Parameters
    ----------
    counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low
        As in :func:`pessimistic_path_value`.
    threshold, f_k : float
    V_buf, dV_buf : ndarray, shape (2, S) -- scratch
    U : ndarray, shape (H,) -- scratch (the upper bounds)

    Returns
    -------
    (int, float, float, bool)
        ``t``, ``rho``, the certified lower bound of the chosen point (the baseline's pessimistic
        value if nothing is certified) and whether it is certified.
    """
    H = R.shape[0]
    if f_k >= threshold:
        return H - 1, 1.0, f_k, True
    path_upper_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, V_buf, U)
    return choose_given_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low,
                               threshold, f_k, V_buf, dV_buf, U)


@njit(cache=True, fastmath=FASTMATH)
def choose_given_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low, threshold, f_k,
                        V_buf, dV_buf, U):
    """:func:`choose_path_point` with the upper bounds ``U`` already computed (:func:`path_upper_bounds`).

    ``f_k`` may be ``-inf`` when the bound on ``f_k`` returned by :func:`path_upper_bounds` is below
    ``threshold - _SKIP_SLACK`` (then ``pi^k`` certainly fails and its exact value is never needed).
    Parameters and returns as :func:`choose_path_point`.
    """
    H = R.shape[0]
    if f_k >= threshold:
        return H - 1, 1.0, f_k, True
    for tt in range(H - 1, -1, -1):
        if U[tt] < threshold - _SKIP_SLACK:
            continue
        g_t, _ = pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low,
                                        tt, 0.0, V_buf, dV_buf, False)
        if g_t >= threshold:  # f_t(0) certified and f_t(1) (= f_{t+1}(0), or f_k) not: rho* in [0, 1)
            rho, lb = largest_feasible_rho(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy_k, W_low,
                                           tt, threshold, V_buf, dV_buf)
            return tt, rho, lb, True
    return 0, 0.0, _dot(mu0, W_low[0]), False


# ============================================================================ StepMix / EpsMix episode loop
@njit(cache=True, fastmath=FASTMATH)
def run_mix_chunk(P_stages, P_cdf, mu0, mu0_cdf, R, base_probs, base_cdf, Vb_true,
                  log_term, bernstein, bonus_scale, optimistic_init, pess_coef, epsmix, thr_from_model, thr_fixed,
                  alpha, baseline_term_exact, baseline_value, uniforms,
                  counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, w_next, Q, V, policy, W_low, W_up, V_buf, dV_buf,
                  U_buf, V_audit,
                  values, switch_step, rho_out, lower_bound, threshold_used, certified, optimistic_values):
    """Run ``n`` StepMix (``epsmix=False``) or EpsMix episodes.

    Reconstructed: both mechanisms (StepMix's path and choice rule, EpsMix's coin and ``rho_k``);
    see :mod:`.stepmix`.

    Per episode: optimistic plan ``pi^k``; pessimistic baseline values; the learner's threshold;
    choose ``(t, rho)`` (StepMix: lexicographically largest certified path point; EpsMix: closed-form
    ``rho_k``, encoded as ``t = H - 1`` with the coin choosing between ``pi^k`` and the baseline for
    the whole episode); exact audit of the deployed policy; roll out; count. Cost per episode: see
    :mod:`.stepmix` (one plan, one ``H S A S`` baseline sweep on the baseline's support, a few
    ``H S^2`` passes).

    Parameters
    ----------
    P_stages, P_cdf, mu0, mu0_cdf, R
        As in :func:`run_ucbvi_chunk`.
    base_probs, base_cdf : ndarray, shape (H, S, A)
        Baseline action distributions and their cumulative sums.
    Vb_true : ndarray, shape (H + 1, S)
        True baseline values (audit only).
    log_term, bernstein, bonus_scale, optimistic_init
        Optimistic side, as in :func:`optimistic_plan`.
    pess_coef : float
        Pessimistic radius numerator (see :func:`baseline_bounds`).
    epsmix : bool
    thr_from_model : bool
        Threshold ``(1 - alpha) * mu0 . W_up_0`` (unknown baseline value) instead of ``thr_fixed``.
    thr_fixed, alpha : float
    baseline_term_exact : bool
        EpsMix: the baseline's contribution is the known ``baseline_value`` (else its lower bound).
    baseline_value : float
    uniforms : ndarray, shape (n, 2 + 2 H)
        Layout in the module docstring.
    counts_sas ... V_audit
        Learner state and scratch (in/out); ``U_buf`` shape (H,) holds the switch-step upper bounds;
        ``inv_n`` and ``inv_sqrt_n`` are recomputed from ``counts_sa`` on entry.
    values : ndarray, shape (n,) -- output: exact value of the deployed (randomised) policy
    switch_step : ndarray, shape (n,), int64 -- output: ``t`` (EpsMix: ``H - 1``)
    rho_out : ndarray, shape (n,) -- output
    lower_bound : ndarray, shape (n,) -- output: the certified pessimistic value of the deployed policy
    threshold_used : ndarray, shape (n,) -- output: the learner's threshold
    certified : ndarray, shape (n,), bool -- output: False when nothing passed the safety test and the
        baseline was played uncertified (EpsMix with ``rho = 0`` from a failed baseline bound, StepMix's fallback)
    optimistic_values : ndarray, shape (n,) -- output
    """
    H, S, A = R.shape
    G = P_cdf.shape[0]
    refresh_pair_inverses(counts_sa, inv_n, inv_sqrt_n)
    k_certified = True  # only picks the order of two exact computations, never the outcome
    for i in range(uniforms.shape[0]):
        optimistic_plan(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, R, log_term, bernstein, bonus_scale,
                        optimistic_init, w_next, Q, V, policy)
        optimistic_values[i] = _dot(mu0, V[0])
        baseline_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, base_probs, pess_coef, thr_from_model, W_low, W_up)
        thr = (1.0 - alpha) * _dot(mu0, W_up[0]) if thr_from_model else thr_fixed
        threshold_used[i] = thr
        # f_k: pessimistic value of pi^k itself, the path point (H - 1, 1). StepMix, when the last
        # episode did not certify pi^k: the O(H S^2) bounds first, and f_k only if its bound can pass.
        bounds_first = not epsmix and not k_certified
        u_k = np.inf
        if bounds_first:
            u_k = path_upper_bounds(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy, W_low, V_buf,
                                    U_buf)
        if bounds_first and u_k < thr - _SKIP_SLACK:
            f_k = -np.inf  # f_k <= u_k < thr: pi^k fails, its value is not needed
        else:
            f_k, _ = pessimistic_path_value(counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy,
                                            W_low, H - 1, 1.0, V_buf, dV_buf, False)
        if epsmix:
            t = H - 1
            if baseline_term_exact:
                base_lo = baseline_value
            else:
                base_lo = _dot(mu0, W_low[0])
            certified[i] = True
            if f_k >= thr:
                rho = 1.0
            elif base_lo < thr:
                rho = 0.0
                certified[i] = baseline_term_exact
            else:
                rho = (base_lo - thr) / (base_lo - f_k)
            lower_bound[i] = rho * f_k + (1.0 - rho) * base_lo
            v_k = true_path_value(P_stages, R, mu0, policy, Vb_true, H - 1, 1.0, V_buf)
            values[i] = rho * v_k + (1.0 - rho) * _dot(mu0, Vb_true[0])
        else:
            if bounds_first:
                t, rho, lower_bound[i], certified[i] = choose_given_bounds(
                    counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy, W_low, thr, f_k, V_buf,
                    dV_buf, U_buf)
            else:
                t, rho, lower_bound[i], certified[i] = choose_path_point(
                    counts_sas, counts_sa, inv_n, inv_sqrt_n, R, mu0, pess_coef, policy, W_low, thr, f_k, V_buf,
                    dV_buf, U_buf)
            k_certified = t == H - 1 and rho == 1.0
            values[i] = true_path_value(P_stages, R, mu0, policy, Vb_true, t, rho, V_buf)
        switch_step[i] = t
        rho_out[i] = rho
        # roll out: the first m steps follow pi^k, the rest the baseline
        u = uniforms[i]
        heads = u[1] < rho
        if epsmix:
            m = H if heads else 0
        else:
            m = t + 1 if heads else t
        s = _sample(mu0_cdf, u[0])
        visits[0, s] += 1.0
        for h in range(H):
            if h < m:
                a = policy[h, s]
            else:
                a = _sample(base_cdf[h, s], u[2 + 2 * h])
            g = h if G > 1 else 0
            s_next = _sample(P_cdf[g, s, a], u[3 + 2 * h])
            record_transition(counts_sas, counts_sa, inv_n, inv_sqrt_n, visits, h, s, a, s_next)
            s = s_next
