"""numba kernels of the contrastive learner (:mod:`mdpkit.algorithms.contrastive`).

The loss and its gradient in two layouts (the public ``(H, n_anchors, d)`` / ``(H, d, S)`` one and
the learner's compact one over seen anchors and next states), the box-constrained L-BFGS the learner
fits with (numba, so a refit has no per-iteration Python overhead), and the block selection of its
incremental refits. Each kernel is tested against a plain-numpy reference
(tests/test_contrastive.py, tests/test_contrastive_learner.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True, fastmath={"reassoc", "contract"})
def _loss_and_grad_kernel(theta, vartheta, stage, anchor, next_state, label, weight, log_m,
                          g_theta, g_vartheta):
    """Weighted loss sum; writes the gradient into the caller-owned ``g_theta`` (H, N, d) and
    ``g_vartheta`` (H, d, S). One fused pass over the data (no (n, d) temporaries)."""
    g_theta[:] = 0.0
    g_vartheta[:] = 0.0
    d = theta.shape[2]
    joint = np.empty(d)
    exp_th = np.empty(d)
    exp_joint = np.empty(d)
    total = 0.0
    for n in range(stage.shape[0]):
        h, x, t = stage[n], anchor[n], next_state[n]
        max_th = -np.inf
        max_joint = -np.inf
        for i in range(d):
            joint[i] = theta[h, x, i] + vartheta[h, i, t]
            max_th = max(max_th, theta[h, x, i])
            max_joint = max(max_joint, joint[i])
        sum_th = 0.0
        sum_joint = 0.0
        for i in range(d):
            exp_th[i] = np.exp(theta[h, x, i] - max_th)
            exp_joint[i] = np.exp(joint[i] - max_joint)
            sum_th += exp_th[i]
            sum_joint += exp_joint[i]
        z = (max_joint + np.log(sum_joint)) - (max_th + np.log(sum_th)) - log_m
        y = label[n]
        u = -z if y == 1.0 else z  # the loss is softplus(u)
        e = np.exp(-abs(z))
        total += weight[n] * (max(u, 0.0) + np.log1p(e))
        sig = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        r = weight[n] * (sig - y)
        for i in range(d):
            w_i = exp_joint[i] / sum_joint
            g_theta[h, x, i] += r * (w_i - exp_th[i] / sum_th)
            g_vartheta[h, i, t] += r * w_i
    return total


@njit(cache=True, fastmath={"reassoc", "contract"})
def _fit_loss_grad(theta, vartheta, row, col, label, weight, log_m, phi, psi, g_theta, g_vartheta):
    """Weighted loss sum in the learner's compact layout; gradient into caller-owned arrays.

    Parameters
    ----------
    theta : ndarray, shape (R, d)
        Feature logits of the ``R`` anchors ``(h, x)`` that have data (compact row ids).
    vartheta : ndarray, shape (C, d)
        Log ratio factors of the ``C`` next states ``(h, s')`` that have data, one ROW per column.
    row, col : ndarray of int64, shape (n,)
        Compact row / column id of each datum.
    label, weight : ndarray, shape (n,)
    log_m : float
    phi, psi : ndarray, shapes (R, d), (C, d)
        Scratch: filled with ``softmax(theta)`` and ``exp(vartheta)``.
    g_theta, g_vartheta : ndarray, shapes (R, d), (C, d)
        Outputs: gradient of the weighted sum.

    Returns
    -------
    float
        The weighted loss sum.

    Notes
    -----
    ``f = <phi, psi>`` is formed from per-row exponentials (``R d + C d`` exps per evaluation,
    then ``O(d)`` flops, one ``log1p`` and one division per datum) instead of two logsumexps per
    datum. This is exact only inside the learner's box: ``vartheta >= -20`` gives
    ``f >= min_i psi_i >= e^-20`` (``phi`` sums to one), so neither ``f`` nor ``w = phi psi / f``
    can underflow. :func:`_loss_and_grad` (unbounded parameters) keeps the logsumexp form.
    """
    d = theta.shape[1]
    for r in range(theta.shape[0]):
        top = theta[r, 0]
        for i in range(1, d):
            top = max(top, theta[r, i])
        norm = 0.0
        for i in range(d):
            phi[r, i] = np.exp(theta[r, i] - top)
            norm += phi[r, i]
        for i in range(d):
            phi[r, i] /= norm
    for c in range(vartheta.shape[0]):
        for i in range(d):
            psi[c, i] = np.exp(vartheta[c, i])
    g_theta[:] = 0.0
    g_vartheta[:] = 0.0
    m = np.exp(log_m)
    total = 0.0
    for n in range(row.shape[0]):
        r, c = row[n], col[n]
        f = 0.0
        for i in range(d):
            f += phi[r, i] * psi[c, i]
        # With z = log(f / m): softplus(-z) = log1p(m / f), softplus(z) = log1p(f / m), sigmoid(z) = f / (f + m).
        if label[n] == 1.0:
            total += weight[n] * np.log1p(m / f)
            res = -weight[n] * m / (f + m)
        else:
            total += weight[n] * np.log1p(f / m)
            res = weight[n] * f / (f + m)
        scale = res / f
        for i in range(d):
            wi = phi[r, i] * psi[c, i] * scale  # res * posterior weight of component i
            g_theta[r, i] += wi - res * phi[r, i]
            g_vartheta[c, i] += wi
    return total


@njit(cache=True, fastmath={"reassoc", "contract"})
def _mean_loss_grad(x, n_rows, d, row, col, label, weight, log_m, inv_total, phi, psi, grad):
    """Mean loss at the flat compact vector ``x = [theta (R, d), vartheta (C, d)]``; gradient into ``grad``."""
    k = n_rows * d
    theta = x[:k].reshape(n_rows, d)
    vartheta = x[k:].reshape(-1, d)
    total = _fit_loss_grad(theta, vartheta, row, col, label, weight, log_m, phi, psi,
                           grad[:k].reshape(n_rows, d), grad[k:].reshape(-1, d))
    for j in range(grad.shape[0]):
        grad[j] *= inv_total
    return total * inv_total


@njit(cache=True, fastmath={"reassoc", "contract"})
def _free_direction(x, g, lower, upper, free, direction):
    """Mark the free variables; steepest-descent direction on them; returns the max projected gradient.

    A variable is held when at a bound with the gradient pointing out of the box.
    """
    pg = 0.0
    for j in range(x.shape[0]):
        held = (x[j] <= lower[j] and g[j] >= 0.0) or (x[j] >= upper[j] and g[j] <= 0.0)
        free[j] = 0.0 if held else 1.0  # a float mask keeps the L-BFGS loops branch-free (vectorised)
        direction[j] = -g[j] * free[j]
        pg = max(pg, abs(min(max(x[j] - g[j], lower[j]), upper[j]) - x[j]))
    return pg


@njit(cache=True, fastmath={"reassoc", "contract"})
def _eval_movable(xq, movable, x_full, n_rows, d, row, col, label, weight, log_m, inv_total, phi, psi, g_full, gq):
    """Mean loss with the movable entries of ``x_full`` set to ``xq``; their gradient into ``gq``."""
    for j in range(movable.shape[0]):
        x_full[movable[j]] = xq[j]
    f = _mean_loss_grad(x_full, n_rows, d, row, col, label, weight, log_m, inv_total, phi, psi, g_full)
    for j in range(movable.shape[0]):
        gq[j] = g_full[movable[j]]
    return f


@njit(cache=True, fastmath={"reassoc", "contract"})
def _minimize_box(x, lower, upper, n_rows, d, row, col, label, weight, log_m, inv_total, max_iter, ftol, gtol,
                  memory, grad):
    """Projected (two-metric) L-BFGS on the mean loss over the box ``[lower, upper]``; ``x`` in place.

    Entries with ``lower == upper`` are constants (frozen features, or the neighbours of a block
    pass): the optimiser's vectors hold only the ``q`` movable entries, so its cost per
    iteration is ``O(memory * q)`` plus one loss evaluation. Per iteration: movable variables at
    a bound whose gradient points out of the box are held; the L-BFGS direction is formed on the
    free ones with the curvature pairs restricted to them (Bertsekas' two-metric projection); a
    bracketing line search along ``clip(x + t d)`` enforces the weak Wolfe conditions (Armijo
    with 1e-4, curvature with 0.9, directional derivatives along the projected step).

    Stopping rules are L-BFGS-B's (as in scipy): max-abs projected gradient ``<= gtol``, or
    relative decrease ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol``.

    Parameters
    ----------
    x, lower, upper : ndarray, shape (p,)
        ``x = [theta (n_rows, d), vartheta (C, d)]`` flattened (see :func:`_fit_loss_grad`).
    n_rows, d : int
    row, col, label, weight : ndarray, shape (n,)
    log_m, inv_total : float
        Negatives correction; ``1 / total weight`` (the mean loss is minimised).
    max_iter : int
    ftol, gtol : float
    memory : int
        Curvature pairs kept.
    grad : ndarray, shape (p,)
        Output: the gradient at the returned ``x``.

    Returns
    -------
    f : float
        Mean loss at the returned ``x``.
    n_iter : int
        Accepted steps.
    status : int
        0 iteration cap, 1 gtol, 2 ftol, 3 no descent step found.

    Notes
    -----
    Scratch of size ``O(memory * q + p)`` is allocated once per call.
    """
    p = x.shape[0]
    n_cols = (p - n_rows * d) // d
    q = 0
    for j in range(p):
        x[j] = min(max(x[j], lower[j]), upper[j])
        if lower[j] < upper[j]:
            q += 1
    movable = np.empty(q, dtype=np.int64)
    q = 0
    for j in range(p):
        if lower[j] < upper[j]:
            movable[q] = j
            q += 1
    m = memory
    s_mem, y_mem, alpha = np.empty((m, q)), np.empty((m, q)), np.empty(m)
    xq, gq, lo, hi = np.empty(q), np.empty(q), np.empty(q), np.empty(q)
    x_new, g_new, direction, free = np.empty(q), np.empty(q), np.empty(q), np.empty(q)
    phi, psi = np.empty((n_rows, d)), np.empty((n_cols, d))
    x_full = x.copy()
    for j in range(q):
        xq[j], lo[j], hi[j] = x[movable[j]], lower[movable[j]], upper[movable[j]]
    f = _eval_movable(xq, movable, x_full, n_rows, d, row, col, label, weight, log_m, inv_total, phi, psi, grad, gq)
    n_mem, head, status, n_iter = 0, 0, 0, 0
    stale = False  # grad (all p entries) was last evaluated at a rejected trial point
    while n_iter < max_iter:
        if _free_direction(xq, gq, lo, hi, free, direction) <= gtol:
            status = 1
            break
        # two-loop recursion on the free set (direction = -g there, 0 elsewhere)
        gamma = 0.0
        for t in range(n_mem):
            k = (head - 1 - t) % m
            sy = 0.0
            yy = 0.0
            sq = 0.0
            for j in range(q):
                fy = free[j] * y_mem[k, j]
                sy += s_mem[k, j] * fy
                yy += y_mem[k, j] * fy
                sq += s_mem[k, j] * direction[j]  # direction is 0 off the free set
            if not sy > 1e-12 * yy:
                alpha[k] = np.nan  # pair not positive-curvature on the free set: skipped
                continue
            if gamma == 0.0:
                gamma = sy / yy  # initial Hessian scaling from the newest usable pair
            alpha[k] = sq / sy
            for j in range(q):
                direction[j] -= alpha[k] * free[j] * y_mem[k, j]
        if gamma > 0.0:
            for j in range(q):
                direction[j] *= gamma
            for t in range(n_mem - 1, -1, -1):
                k = (head - 1 - t) % m
                if np.isnan(alpha[k]):
                    continue
                sy = 0.0
                yr = 0.0
                for j in range(q):
                    sy += free[j] * s_mem[k, j] * y_mem[k, j]
                    yr += y_mem[k, j] * direction[j]
                beta = yr / sy
                for j in range(q):
                    direction[j] += (alpha[k] - beta) * free[j] * s_mem[k, j]
        slope = 0.0
        for j in range(q):
            slope += gq[j] * direction[j]
        if not slope < 0.0:  # not a descent direction: restart from steepest descent
            n_mem = 0
            gamma = 0.0
            _free_direction(xq, gq, lo, hi, free, direction)
        norm2 = 0.0
        for j in range(q):
            norm2 += direction[j] * direction[j]
        # without curvature information the first trial step has unit length (as L-BFGS-B)
        step = 1.0 if gamma > 0.0 else min(1.0, 1.0 / np.sqrt(norm2))
        # Weak Wolfe search by bracketing (Lewis & Overton): Armijo fails -> shrink; the slope
        # along the projected step is still steep -> expand. Backtracking alone would accept
        # tiny steepest-descent steps whose decrease then trips the ftol rule far from a minimum.
        t_max = 0.0  # beyond this step every moving variable sits on a bound: nothing to expand
        for j in range(q):
            if direction[j] > 0.0:
                t_max = max(t_max, (hi[j] - xq[j]) / direction[j])
            elif direction[j] < 0.0:
                t_max = max(t_max, (lo[j] - xq[j]) / direction[j])
        accepted = False
        f_new = f
        low, high = 0.0, np.inf
        best_step = 0.0
        for _ in range(60):
            decrease = 0.0
            for j in range(q):
                x_new[j] = min(max(xq[j] + step * direction[j], lo[j]), hi[j])
                decrease += gq[j] * (x_new[j] - xq[j])
            if not decrease < 0.0:  # the projected step has collapsed
                break
            f_new = _eval_movable(x_new, movable, x_full, n_rows, d, row, col, label, weight, log_m, inv_total,
                                  phi, psi, grad, g_new)
            stale = True
            if not f_new <= f + 1e-4 * decrease:  # Armijo fails (or NaN): shrink
                high = step
            else:
                best_step = step
                curvature = 0.0
                for j in range(q):
                    curvature += g_new[j] * (x_new[j] - xq[j])
                if curvature >= 0.9 * decrease or step >= t_max or high - low < 1e-10 * high:
                    accepted = True
                    break
                low = step
            step = 0.5 * (low + high) if np.isfinite(high) else 2.0 * step
        if not accepted and best_step > 0.0:  # bracket exhausted: take the last Armijo point
            step = best_step
            for j in range(q):
                x_new[j] = min(max(xq[j] + step * direction[j], lo[j]), hi[j])
            f_new = _eval_movable(x_new, movable, x_full, n_rows, d, row, col, label, weight, log_m, inv_total,
                                  phi, psi, grad, g_new)
            accepted = True
        if not accepted:
            if n_mem > 0:  # stale curvature: drop it and retry along the gradient
                n_mem = 0
                continue
            status = 3
            break
        stale = False
        for j in range(q):
            s_mem[head, j] = x_new[j] - xq[j]
            y_mem[head, j] = g_new[j] - gq[j]
            xq[j] = x_new[j]
            gq[j] = g_new[j]
        head = (head + 1) % m
        n_mem = min(n_mem + 1, m)
        n_iter += 1
        change = (f - f_new) / max(abs(f), abs(f_new), 1.0)
        f = f_new
        if change <= ftol:
            status = 2
            break
    for j in range(q):
        x[movable[j]] = xq[j]
    if stale:
        f = _mean_loss_grad(x, n_rows, d, row, col, label, weight, log_m, inv_total, phi, psi, grad)
    return f, n_iter, status


@njit(cache=True)
def _select_block(row, col, row_mask, col_mask, expand, local_row, local_col):
    """The data involving the marked rows / columns, re-indexed for a block pass.

    Parameters
    ----------
    row, col : ndarray of int64, shape (n,)
        Compact row / column of each datum.
    row_mask, col_mask : ndarray of bool, shapes (R,), (C,)
        Marked (movable) rows and columns; with ``expand`` the rows and columns of every
        selected datum are marked too (in place), before the selection.
    local_row, local_col : ndarray of int64, shapes (R,), (C,)
        Scratch, all ``-1`` on entry and on return.

    Returns
    -------
    sel : ndarray of int64, shape (n_sel,)
        Selected data.
    sub_rows, sub_cols : ndarray of int64
        Compact ids of the block's rows / columns, in order of first appearance.
    sub_row, sub_col : ndarray of int64, shape (n_sel,)
        Position of each selected datum's row / column in ``sub_rows`` / ``sub_cols``.
    """
    n = row.shape[0]
    hit = np.zeros(n, dtype=np.bool_)
    n_sel = 0
    for i in range(n):
        if row_mask[row[i]] or col_mask[col[i]]:
            hit[i] = True
            n_sel += 1
    if expand:
        for i in range(n):
            if hit[i]:
                row_mask[row[i]] = True
                col_mask[col[i]] = True
        n_sel = 0
        for i in range(n):
            hit[i] = row_mask[row[i]] or col_mask[col[i]]
            n_sel += hit[i]
    sel = np.empty(n_sel, dtype=np.int64)
    sub_row = np.empty(n_sel, dtype=np.int64)
    sub_col = np.empty(n_sel, dtype=np.int64)
    sub_rows = np.empty(n_sel, dtype=np.int64)
    sub_cols = np.empty(n_sel, dtype=np.int64)
    k = n_rows = n_cols = 0
    for i in range(n):
        if not hit[i]:
            continue
        r, c = row[i], col[i]
        if local_row[r] < 0:
            local_row[r] = n_rows
            sub_rows[n_rows] = r
            n_rows += 1
        if local_col[c] < 0:
            local_col[c] = n_cols
            sub_cols[n_cols] = c
            n_cols += 1
        sel[k], sub_row[k], sub_col[k] = i, local_row[r], local_col[c]
        k += 1
    for j in range(n_rows):
        local_row[sub_rows[j]] = -1
    for j in range(n_cols):
        local_col[sub_cols[j]] = -1
    return sel, sub_rows[:n_rows].copy(), sub_cols[:n_cols].copy(), sub_row, sub_col
