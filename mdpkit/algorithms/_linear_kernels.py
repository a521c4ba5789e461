"""numba kernels for reward-free exploration in linear mixture MDPs. No policy logic lives here.

Conventions
-----------
- ``phi`` has shape ``(S, A, S, d)``: ``phi[s, a, s', i] = phi_i(s' | s, a)``.
- Value arrays have shape ``(H + 1, S)`` with row ``H`` zero; stages run ``h = 0 .. H-1``.
- Every kernel writes into caller-owned outputs and allocates only O(d + S) scratch.
- ``fastmath={"reassoc", "contract"}`` (never ``fastmath=True``: ``-inf`` initialised argmax
  needs IEEE infinities).

Each kernel has a plain-numpy reference in ``tests/test_hf_rfe.py`` and is tested against it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._kernels import _dot

FASTMATH = {"reassoc", "contract"}


@njit(cache=True, fastmath=FASTMATH)
def psi_batch(phi, V, out):
    """``out[n, s, a, i] = sum_t phi[s, a, t, i] V[n, t]`` (value features of ``n`` functions).

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)
    V : ndarray, shape (n, S)
    out : ndarray, shape (n, S, A, d), written
    """
    n, S = V.shape
    A, d = phi.shape[1], phi.shape[3]
    for k in range(n):
        for s in range(S):
            for a in range(A):
                for i in range(d):
                    out[k, s, a, i] = 0.0
                for t in range(S):
                    v = V[k, t]
                    for i in range(d):
                        out[k, s, a, i] += phi[s, a, t, i] * v


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _feature(phi, s, a, V, x):
    """x = psi_V(s, a) for one V of shape (S,)."""
    for i in range(x.shape[0]):
        x[i] = 0.0
    for t in range(V.shape[0]):
        v = V[t]
        if v != 0.0:
            for i in range(x.shape[0]):
                x[i] += phi[s, a, t, i] * v


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _quad(M, x):
    """x^T M x."""
    total = 0.0
    for i in range(x.shape[0]):
        row = 0.0
        for j in range(x.shape[0]):
            row += M[i, j] * x[j]
        total += x[i] * row
    return total


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _norm(M, x):
    """||x||_M; clamps rounding-level negatives of x^T M x to 0."""
    q = _quad(M, x)
    return np.sqrt(q) if q > 0.0 else 0.0


@njit(cache=True, fastmath=FASTMATH)
def max_vertex_norms(phi, inv, norms, vertices):
    """``max_{f in {0,1}^S} ||psi_f(s, a)||_{inv}`` and its maximiser, for every ``(s, a)``.

    A norm of a linear function of ``f`` is convex, so its maximum over the cube ``[0, 1]^S`` is
    attained at a vertex; all ``2^S`` vertices are enumerated (the caller bounds ``S``).

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)
    inv : ndarray, shape (d, d)
        Inverse Gram matrix defining the norm.
    norms : ndarray, shape (S, A), written
    vertices : ndarray, shape (S, A), int64, written
        Bit ``t`` of ``vertices[s, a]`` is ``f(t)`` of the maximiser (lowest bitmask on ties).
    """
    S, A, _, d = phi.shape
    G = np.empty((S, S))  # Gram of the columns phi(t | s, a) in the inv-norm
    w = np.empty(d)
    for s in range(S):
        for a in range(A):
            for t in range(S):
                for i in range(d):
                    acc = 0.0
                    for j in range(d):
                        acc += inv[i, j] * phi[s, a, t, j]
                    w[i] = acc
                for u in range(S):
                    acc = 0.0
                    for i in range(d):
                        acc += phi[s, a, u, i] * w[i]
                    G[t, u] = acc
            best = -1.0
            best_v = 0
            for v in range(1 << S):
                q = 0.0
                for t in range(S):
                    if (v >> t) & 1:
                        for u in range(S):
                            if (v >> u) & 1:
                                q += G[t, u]
                if q > best:
                    best = q
                    best_v = v
            norms[s, a] = np.sqrt(best) if best > 0.0 else 0.0
            vertices[s, a] = best_v


#: Two backups within this relative distance are tied (rounding of sums of equal terms in a
#: different order; the objective's genuine differences are many orders of magnitude larger).
TIE_RTOL = 1e-12


@njit(cache=True, fastmath=FASTMATH)
def uncertainty_dp(phi, u, tie_key, theta, inv, bonus, V, policy, n_tied):
    """Greedy backward recursion of the optimistic trajectory uncertainty (HF-UCRL-RFE++ oracle).

    ``V[h, s] = max_a clip_[0,1]( u_h(s, a) + <psi_{V[h+1]}(s, a), theta> + bonus ||psi_{V[h+1]}(s, a)||_{inv} )``
    with ``u_h = u`` for ``h < H - 1`` and ``u_{H-1} = 0`` (the last stage has no successor value
    to be uncertain about). The action maximises the *untruncated* backup: clipping is monotone,
    so this is a maximiser of the truncated one too, and it breaks the ties that truncation
    creates (saturated ``V = 1`` everywhere) in favour of the most uncertain action rather than
    the lowest index. Actions whose untruncated backups are tied (within ``TIE_RTOL`` of the
    maximum, relative to ``max(1, |max|)``) are all maximisers; among them the one with the
    largest ``tie_key[h, s, a]`` is played, and remaining exact ties go to the lowest action.

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)
    u : ndarray, shape (S, A)
        Per-step uncertainty (pseudo-reward) in [0, 1].
    tie_key : ndarray, shape (H, S, A)
        Secondary key among tied maximisers (e.g. the uncapped uncertainty, or seeded uniforms
        for random tie-breaking; a constant key gives the lowest index).
    theta : ndarray, shape (d,)
    inv : ndarray, shape (d, d)
    bonus : float
        ``2 beta`` in the paper.
    V : ndarray, shape (H + 1, S), written (row ``H`` set to 0)
    policy : ndarray, shape (H, S), int64, written
    n_tied : ndarray, shape (H, S), int64, written
        Number of tied maximisers at each ``(h, s)`` (1 when the objective alone decides).
    """
    S, A, _, d = phi.shape
    H = policy.shape[0]
    x = np.empty(d)
    q = np.empty(A)
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -np.inf
            for a in range(A):
                _feature(phi, s, a, V[h + 1], x)
                q[a] = _dot(x, theta) + bonus * _norm(inv, x)
                if h < H - 1:
                    q[a] += u[s, a]
                if q[a] > best:
                    best = q[a]
            floor = best - TIE_RTOL * max(1.0, abs(best))
            best_a = -1
            tied = 0
            for a in range(A):
                if q[a] >= floor:
                    tied += 1
                    if best_a < 0 or tie_key[h, s, a] > tie_key[h, s, best_a]:
                        best_a = a
            n_tied[h, s] = tied
            V[h, s] = min(1.0, max(0.0, best))
            policy[h, s] = max(best_a, 0)  # -1 only if every backup is NaN


@njit(cache=True, fastmath=FASTMATH)
def optimistic_dp(phi, R, theta, inv, beta, cap, V, policy):
    """UCRL-RFE's PLAN: ``Q_h = clip_[0,cap](R_h + <psi_{V_{h+1}}, theta> + beta ||psi_{V_{h+1}}||_{inv})``.

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)
    R : ndarray, shape (H, S, A)
    theta : ndarray, shape (d,)
    inv : ndarray, shape (d, d)
    beta, cap : float
    V : ndarray, shape (H + 1, S), written
    policy : ndarray, shape (H, S), int64, written: greedy on the untruncated backup (a maximiser
        of the clipped one; see :func:`uncertainty_dp`), exact ties to the lowest action
    """
    S, A, _, d = phi.shape
    H = policy.shape[0]
    x = np.empty(d)
    V[H, :] = 0.0
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -np.inf
            best_a = 0
            for a in range(A):
                _feature(phi, s, a, V[h + 1], x)
                q = R[h, s, a] + _dot(x, theta) + beta * _norm(inv, x)
                if q > best:
                    best = q
                    best_a = a
            V[h, s] = min(cap, max(0.0, best))
            policy[h, s] = best_a


@njit(cache=True, fastmath=FASTMATH)
def sherman_morrison_update(inv, gram, x, weight, work):
    """Rank-one update ``gram += weight x x^T`` and its inverse, in place.

    ``(G + w x x^T)^-1 = G^-1 - w (G^-1 x)(G^-1 x)^T / (1 + w x^T G^-1 x)``.

    Parameters
    ----------
    inv, gram : ndarray, shape (d, d), updated
    x : ndarray, shape (d,)
    weight : float, > 0
    work : ndarray, shape (d,), scratch
    """
    d = x.shape[0]
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += inv[i, j] * x[j]
        work[i] = acc
    _rank_one_update(inv, gram, x, work, weight)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _rank_one_update(inv, gram, x, w_inv_x, weight):
    """As :func:`sherman_morrison_update` with ``w_inv_x = inv @ x`` already computed."""
    d = x.shape[0]
    scale = weight / (1.0 + weight * _dot(x, w_inv_x))
    for i in range(d):
        wi = w_inv_x[i] * scale
        xi = x[i] * weight
        for j in range(d):
            inv[i, j] -= wi * w_inv_x[j]
            gram[i, j] += xi * x[j]


@njit(cache=True, fastmath=FASTMATH)
def vtr_moment_update(V_next, phi, s, a, s_next, theta, inv_run, gram_run, inv_frozen, b,
                      beta, alpha, gamma, weighted, X, y, sigma2, work, power):
    """One step of weighted value-targeted regression at every moment level (HOME weights).

    Level ``m`` regresses ``V_next^(2^m)``: feature ``x_m = psi_{V_next^(2^m)}(s, a)``, response
    ``V_next(s_next)^(2^m)``. Its variance weight (thesis Alg. 5) is, for ``m < M - 1``,
    ``sigma_m^2 = max{gamma^2 ||x_m||_{Sigma_m^-1}, var_m + E_m, alpha^2}`` with
    ``var_m = clip01(<x_{m+1}, theta_{m+1}>) - clip01(<x_m, theta_m>)^2`` and
    ``E_m = min{1, 2 beta ||x_m||_{frozen_m^-1}} + min{1, beta ||x_{m+1}||_{frozen_{m+1}^-1}}``;
    the top level uses the trivial variance bound 1. All weights are computed from the matrices
    *before* this step's updates, then every level gets its rank-one update.

    Per-level work is about ``4 d^2``: ``Sigma_m^-1 x_m`` is computed once and serves both the
    epistemic norm and the Sherman-Morrison update. Two exact shortcuts: a 0/1-valued target
    (the tilde family's vertices) has the same power at every level, so its feature is computed
    once; once ``V_next^(2^m)`` underflows to exactly 0, every higher level has ``x_m = 0`` and
    response 0, whose update is the identity (only ``sigma2`` is filled in, with its value
    ``max(alpha^2, 0)`` below the top level and ``max(alpha^2, 1)`` at it).

    Parameters
    ----------
    V_next : ndarray, shape (S,)
        Target function, values in [0, 1].
    phi : ndarray, shape (S, A, S, d)
    s, a, s_next : int
        Visited pair and observed successor.
    theta : ndarray, shape (M, d)
        Estimates from the frozen matrices.
    inv_run, gram_run : ndarray, shape (M, d, d), updated
        Running Gram matrices and their inverses.
    inv_frozen : ndarray, shape (M, d, d)
        Inverses frozen at the start of the episode.
    b : ndarray, shape (M, d), updated
    beta, alpha, gamma : float
    weighted : bool
        False sets every ``sigma^2 = 1`` (ordinary ridge VTR; the ablation/mutant).
    X : ndarray, shape (M, d), scratch (features), y : ndarray, shape (M,), scratch (responses)
    sigma2 : ndarray, shape (M,), written
    work : ndarray, shape (M, d), scratch (``Sigma_m^-1 x_m``)
    power : ndarray, shape (S,), scratch (holds ``V_next^(2^m)``)
    """
    M, d = theta.shape
    S = V_next.shape[0]
    binary = True
    for t in range(S):
        if V_next[t] != 0.0 and V_next[t] != 1.0:
            binary = False
            break
    power[:] = V_next
    live = M  # levels 0 .. live-1 have a non-zero target
    for m in range(M):
        nonzero = False
        for t in range(S):
            if power[t] != 0.0:
                nonzero = True
                break
        if not nonzero:
            live = m
            break
        if binary and m > 0:
            X[m, :] = X[0]
        else:
            _feature(phi, s, a, power, X[m])
        y[m] = power[s_next]
        if not binary:
            for t in range(S):
                power[t] = power[t] * power[t]
    if weighted:
        for m in range(live):  # sigma2 holds ||x_m||_{frozen_m^-1} for now (each used twice below)
            sigma2[m] = _norm(inv_frozen[m], X[m])
    for m in range(live):
        row_dot = 0.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += inv_run[m, i, j] * X[m, j]
            work[m, i] = acc
            row_dot += X[m, i] * acc
        if not weighted:
            sigma2[m] = 1.0
            continue
        epistemic = gamma * gamma * (np.sqrt(row_dot) if row_dot > 0.0 else 0.0)
        if m < M - 1:
            first = min(1.0, max(0.0, _dot(X[m], theta[m])))
            if m + 1 < live:
                second = min(1.0, max(0.0, _dot(X[m + 1], theta[m + 1])))
                error = min(1.0, 2.0 * beta * sigma2[m]) + min(1.0, beta * sigma2[m + 1])
            else:  # x_{m+1} = 0
                second = 0.0
                error = min(1.0, 2.0 * beta * sigma2[m])
            aleatoric = second - first * first + error
        else:
            aleatoric = 1.0
        sigma2[m] = max(epistemic, aleatoric, alpha * alpha)
    for m in range(live, M):  # x_m = 0: epistemic 0, var_m + E_m = 0 (top level: 1)
        if not weighted:
            sigma2[m] = 1.0
        else:
            sigma2[m] = max(1.0 if m == M - 1 else 0.0, alpha * alpha)
    for m in range(live):
        w = 1.0 / sigma2[m]
        _rank_one_update(inv_run[m], gram_run[m], X[m], work[m], w)
        for i in range(d):
            b[m, i] += w * y[m] * X[m, i]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _sample(cum, u):
    """Index drawn by inverse CDF from a cumulative distribution ``cum`` and a uniform ``u``."""
    n = cum.shape[0]
    for i in range(n):
        if u < cum[i]:
            return i
    # u >= cum[-1] can only happen when rounding leaves cum[-1] < 1: take the last
    # state of positive probability.
    i = n - 1
    while i > 0 and cum[i] == cum[i - 1]:
        i -= 1
    return i


@njit(cache=True, fastmath=FASTMATH)
def hf_episode(phi, cum_P, cum_mu0, draws, policy, V_hat, vertices, theta, inv_run, gram_run,
               inv_frozen, b, beta, alpha, gamma, weighted, states, actions, sigma2_steps):
    """Roll out one HF-UCRL-RFE++ episode and update both regression families at every step.

    Family 0 ("hat") regresses the trajectory uncertainty ``V_hat[h + 1]``; family 1 ("tilde")
    regresses the pseudo value function chosen at the visited pair, the vertex
    ``f in {0, 1}^S`` encoded by ``vertices[s, a]``. The last stage has the zero target and
    carries no information, so it is skipped.

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)
    cum_P : ndarray, shape (S, A, S)
        Cumulative true transition rows (the environment).
    cum_mu0 : ndarray, shape (S,)
    draws : ndarray, shape (H + 1,)
        Pre-drawn uniforms: ``draws[0]`` picks the start state, ``draws[h + 1]`` the successor at ``h``.
    policy : ndarray, shape (H, S), int64
    V_hat : ndarray, shape (H + 1, S)
    vertices : ndarray, shape (S, A), int64
    theta : ndarray, shape (2, M, d)
    inv_run, gram_run : ndarray, shape (2, M, d, d), updated
    inv_frozen : ndarray, shape (2, M, d, d)
    b : ndarray, shape (2, M, d), updated
    beta, alpha, gamma : float
    weighted : bool
    states : ndarray, shape (H + 1,), int64, written
    actions : ndarray, shape (H,), int64, written
    sigma2_steps : ndarray, shape (H, 2, M), written for ``h < H - 1``
        The HOME weights ``sigma^2`` used at every step, family and level (for audits).
    """
    S, A, _, d = phi.shape
    H = policy.shape[0]
    M = theta.shape[1]
    X = np.empty((M, d))
    y = np.empty(M)
    sigma2 = np.empty(M)
    work = np.empty((M, d))
    power = np.empty(S)
    f = np.empty(S)
    s = _sample(cum_mu0, draws[0])
    states[0] = s
    for h in range(H):
        a = policy[h, s]
        s_next = _sample(cum_P[s, a], draws[h + 1])
        actions[h] = a
        states[h + 1] = s_next
        if h < H - 1:
            vtr_moment_update(V_hat[h + 1], phi, s, a, s_next, theta[0], inv_run[0], gram_run[0],
                              inv_frozen[0], b[0], beta, alpha, gamma, weighted, X, y, sigma2, work, power)
            sigma2_steps[h, 0, :] = sigma2
            for t in range(S):
                f[t] = float((vertices[s, a] >> t) & 1)
            vtr_moment_update(f, phi, s, a, s_next, theta[1], inv_run[1], gram_run[1],
                              inv_frozen[1], b[1], beta, alpha, gamma, weighted, X, y, sigma2, work, power)
            sigma2_steps[h, 1, :] = sigma2
        s = s_next


@njit(cache=True, fastmath=FASTMATH)
def ucrl_episode(phi, cum_P, cum_mu0, draws, policy, vertices, inv, gram, b, states, actions):
    """Roll out one UCRL-RFE episode; ridge VTR update with the maximising pseudo value.

    At stage ``h`` the target is ``u_h = (H - 1 - h) f`` with ``f in {0, 1}^S`` the vertex
    ``vertices[s_h, a_h]`` (the maximiser of ``||psi_f(s_h, a_h)||`` over ``f : S -> [0, H - 1 - h]``
    is that scaled vertex); feature ``psi_{u_h}(s_h, a_h)``, response ``u_h(s_{h+1})``, unit weight.

    Parameters
    ----------
    phi, cum_P, cum_mu0, draws, policy, vertices
        As in :func:`hf_episode`.
    inv, gram : ndarray, shape (d, d), updated
    b : ndarray, shape (d,), updated
    states : ndarray, shape (H + 1,), int64, written
    actions : ndarray, shape (H,), int64, written
    """
    S, A, _, d = phi.shape
    H = policy.shape[0]
    x = np.empty(d)
    work = np.empty(d)
    f = np.empty(S)
    s = _sample(cum_mu0, draws[0])
    states[0] = s
    for h in range(H):
        a = policy[h, s]
        s_next = _sample(cum_P[s, a], draws[h + 1])
        actions[h] = a
        states[h + 1] = s_next
        scale = float(H - 1 - h)
        if scale > 0.0:
            for t in range(S):
                f[t] = scale * float((vertices[s, a] >> t) & 1)
            _feature(phi, s, a, f, x)
            sherman_morrison_update(inv, gram, x, 1.0, work)
            for i in range(d):
                b[i] += x[i] * f[s_next]
        s = s_next


# ============================================================================ batched planning (BLAS-3)
def feature_major(phi):
    """``phi`` rearranged to shape (d S A, S): ``(feature_major(phi) @ V).reshape(d, S A B)`` holds the
    value features of ``B`` functions ``V`` (shape (S, B)) with the feature index *first*.

    Parameters
    ----------
    phi : ndarray, shape (S, A, S, d)

    Returns
    -------
    ndarray, shape (d * S * A, S), C-contiguous
    """
    S, A, _, d = phi.shape
    return np.ascontiguousarray(np.transpose(phi, (3, 0, 1, 2))).reshape(d * S * A, S)


def plan_ellipsoids_blas(phi_fm, mu0, R, plan_theta, centres, inverse_grams, radius, plugin, V_up, V_low, V_model,
                         policy):
    """Batched planning and certification on ellipsoids, every contraction a BLAS-3 product.

    Same recursion as :func:`mdpkit.linear.plan_with_ellipsoids` (greedy on the untruncated model
    backup; upper bound ``min_j <psi, c_j> + radius ||psi||_{Sigma_j^-1}`` capped by ``max V``;
    lower bound at the chosen actions, floored by ``min V``), laid out so that the ``B`` rewards
    share every product. Everything linear in ``psi_V = Phi_{s,a} V`` is folded into ``Phi`` once
    per call: with ``Sigma_j^-1 = F_j F_j^T``, ``||psi_V||_{Sigma_j^-1} = ||(F_j^T Phi_{s,a}) V||``
    and ``<psi_V, c_j> = (c_j^T Phi_{s,a}) V``, so per stage and bound the whole batch is one
    ``((E d + E) S A, S) @ (S, B)`` product followed by a sum of squares. Not a numba kernel: for
    ``B >> 1`` the work is dense products, which BLAS does faster than a loop nest; for ``B = 1``
    the cost is the per-stage call overhead, shared by the whole batch.

    Parameters
    ----------
    phi_fm : ndarray, shape (d S A, S)
        :func:`feature_major` of ``phi``.
    mu0 : ndarray, shape (S,)
    R : ndarray, shape (H, S, A, B)
        Rewards, batch last.
    plan_theta : ndarray, shape (d,)
    centres : ndarray, shape (E, d)
    inverse_grams : ndarray, shape (E, d, d)
        Symmetric positive semi-definite.
    radius : float
    plugin : bool
        True: greedy on the plug-in model ``plan_theta`` (HF-UCRL-RFE++); False: greedy on the
        upper bound (UCRL-RFE's PLAN).
    V_up, V_low, V_model : ndarray, shape (H + 1, S, B), written
    policy : ndarray, shape (H, S, B), int64, written

    Returns
    -------
    certificate : ndarray, shape (B,)
        ``mu0 @ (V_up[0] - V_low[0])``.
    """
    H, S, A, Bn = R.shape
    E, d = centres.shape
    SA = S * A
    phi_rows = phi_fm.reshape(d, SA * S)
    # F_j with F_j F_j^T = Sigma_j^-1 (eigen-factor: robust to a rank-deficient PSD matrix).
    w, Q = np.linalg.eigh(inverse_grams)
    F = Q * np.sqrt(np.maximum(w, 0.0))[:, None, :]  # (E, d, d)
    norm_rows = np.einsum("eij,ik->ejk", F, phi_rows).reshape(E * d * SA, S)
    centre_rows = (centres @ phi_rows).reshape(E * SA, S)
    bound_rows = np.concatenate([norm_rows, centre_rows])  # ((E d + E) S A, S)
    theta_rows = (plan_theta @ phi_rows).reshape(SA, S)
    s_idx = np.arange(S)[:, None]
    b_idx = np.arange(Bn)[None, :]

    def bound(V, sign):  # (S, B) -> tightest bound on <psi_V(s, a), theta*> over the ellipsoids, (S, A, B)
        out = bound_rows @ V
        Z = out[:E * d * SA].reshape(E, d, SA * Bn)
        width = np.sqrt(np.einsum("ein,ein->en", Z, Z))
        values = out[E * d * SA:].reshape(E, SA * Bn)
        values += sign * radius * width
        best = values.min(axis=0) if sign > 0 else values.max(axis=0)
        return best.reshape(S, A, Bn)

    V_up[H] = 0.0
    V_low[H] = 0.0
    V_model[H] = 0.0
    for h in range(H - 1, -1, -1):
        # P is a distribution, so <psi_V, theta*> = [P V] also lies in [min V, max V].
        backup_up = R[h] + np.minimum(bound(V_up[h + 1], +1.0), V_up[h + 1].max(axis=0))
        if plugin:
            backup_model = R[h] + (theta_rows @ V_model[h + 1]).reshape(S, A, Bn)
        else:
            backup_model = backup_up
        chosen = np.argmax(backup_model, axis=1)  # (S, B); untruncated: see plan_with_ellipsoids
        policy[h] = chosen
        V_model[h] = np.clip(backup_model[s_idx, chosen, b_idx], 0.0, 1.0)
        V_up[h] = np.minimum(1.0, backup_up.max(axis=1))
        # Lower bound: all actions in one product (as cheap as gathering per reward), then the chosen ones.
        lower_next = np.maximum(bound(V_low[h + 1], -1.0)[s_idx, chosen, b_idx], V_low[h + 1].min(axis=0))
        V_low[h] = np.minimum(1.0, np.maximum(0.0, R[h][s_idx, chosen, b_idx] + lower_next))
    return mu0 @ (V_up[0] - V_low[0])
