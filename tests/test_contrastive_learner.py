"""ContrastiveLearner internals: the compact numba loss, the projected L-BFGS, block refits.

tests/test_contrastive.py covers the loss API, recovery and the algorithms; this file checks the
optimisation machinery against plain-numpy / scipy references.
"""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from mdpkit.algorithms.contrastive import (
    LOG_RATIO_FLOOR,
    THETA_BOUND,
    ContrastiveLearner,
    _loss_and_grad_reference,
    _mean_loss_grad,
    _minimize_box,
    _select_block,
)
from mdpkit.envs.lowrank import random_lowrank_mdp


def _compact_problem(seed, R=6, C=5, d=3, n=50):
    """Random compact data and parameters inside the learner's box."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-THETA_BOUND, THETA_BOUND, (R, d)) * rng.choice([0.05, 1.0])
    vartheta = rng.uniform(LOG_RATIO_FLOOR, np.log(C), (C, d)) * rng.choice([0.05, 1.0])
    row, col = rng.integers(R, size=n), rng.integers(C, size=n)
    label = rng.integers(0, 2, n).astype(float)
    weight = rng.random(n) + 0.1
    return theta, vartheta, row, col, label, weight


def _reference_mean(theta, vartheta, row, col, label, weight, log_m):
    """The numpy reference in the learner's compact layout: one stage, R anchors, C next states."""
    R, d = theta.shape
    C = vartheta.shape[0]
    params = np.concatenate([theta.ravel(), vartheta.T.ravel()])  # reference layout: vartheta (1, d, C)
    total, grad = _loss_and_grad_reference(params, np.zeros_like(row), row, col, label, weight, (1, R, C, d), log_m)
    g_theta = grad[:R * d].reshape(R, d)
    g_vartheta = grad[R * d:].reshape(d, C).T
    return total / weight.sum(), np.concatenate([g_theta.ravel(), g_vartheta.ravel()]) / weight.sum()


# ----------------------------------------------------------------------------- compact kernel
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), log_m=st.sampled_from([0.0, np.log(3.0)]))
def test_compact_kernel_matches_numpy_reference(seed, log_m):
    theta, vartheta, row, col, label, weight = _compact_problem(seed)
    R, d = theta.shape
    x = np.concatenate([theta.ravel(), vartheta.ravel()])
    grad = np.empty_like(x)
    loss = _mean_loss_grad(x, R, d, row, col, label, weight, log_m, 1.0 / weight.sum(), np.empty((R, d)),
                           np.empty((vartheta.shape[0], d)), grad)
    loss_ref, grad_ref = _reference_mean(theta, vartheta, row, col, label, weight, log_m)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-14)


# ----------------------------------------------------------------------------- the optimiser
def _box(theta, vartheta):
    R, d = theta.shape
    lower = np.concatenate([np.full(R * d, -THETA_BOUND), np.full(vartheta.size, LOG_RATIO_FLOOR)])
    upper = np.concatenate([np.full(R * d, THETA_BOUND), np.full(vartheta.size, np.log(vartheta.shape[0]))])
    return lower, upper


def _projected_gradient(x, grad, lower, upper):
    return np.abs(np.clip(x - grad, lower, upper) - x).max()


@pytest.mark.parametrize("seed", range(4))
def test_minimize_box_meets_its_gtol_test_and_matches_scipy_on_a_convex_problem(seed):
    """theta frozen (lower == upper): the loss is convex in vartheta, so both optimisers find the same minimum."""
    theta, vartheta, row, col, label, weight = _compact_problem(seed, n=80)
    R, d = theta.shape
    lower, upper = _box(theta, vartheta)
    x0 = np.concatenate([theta.ravel(), np.zeros(vartheta.size)])
    lower[:R * d] = upper[:R * d] = x0[:R * d]
    x = x0.copy()
    grad = np.empty_like(x)
    loss, n_iter, status = _minimize_box(x, lower, upper, R, d, row, col, label, weight, 0.0, 1.0 / weight.sum(),
                                         1000, 0.0, 1e-10, 10, grad)
    assert status in (1, 2) and n_iter > 0  # 2 with ftol = 0: no decrease left in floating point
    np.testing.assert_array_equal(x[:R * d], x0[:R * d])  # frozen entries untouched
    assert np.all((x >= lower) & (x <= upper))
    loss_ref, grad_ref = _reference_mean(theta, x[R * d:].reshape(-1, d), row, col, label, weight, 0.0)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-15)  # returned gradient is at the returned x
    assert _projected_gradient(x[R * d:], grad_ref[R * d:], lower[R * d:], upper[R * d:]) <= 1e-8

    def fun(v):
        value, g = _reference_mean(theta, v.reshape(-1, d), row, col, label, weight, 0.0)
        return value, g[R * d:]

    ref = minimize(fun, np.zeros(vartheta.size), jac=True, method="L-BFGS-B",
                   bounds=list(zip(lower[R * d:], upper[R * d:])), options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 5000})
    assert loss <= ref.fun + 1e-10  # never worse than scipy's L-BFGS-B ...
    assert loss == pytest.approx(ref.fun, abs=1e-6)  # ... and the same minimum (scipy stops a little earlier)


@pytest.mark.parametrize("seed", range(3))
def test_minimize_box_on_the_full_problem_is_no_worse_than_scipy_from_the_same_start(seed):
    """Non-convex: compare local minima reached from the same start (tolerance: a few 1e-3 of the loss)."""
    theta, vartheta, row, col, label, weight = _compact_problem(seed, R=8, C=6, d=2, n=120)
    R, d = theta.shape
    lower, upper = _box(theta, vartheta)
    x0 = np.concatenate([np.random.default_rng(seed).standard_normal(theta.size), np.zeros(vartheta.size)])
    x = x0.copy()
    loss, _, status = _minimize_box(x, lower, upper, R, d, row, col, label, weight, 0.0, 1.0 / weight.sum(),
                                    5000, 1e-12, 1e-8, 10, np.empty_like(x))
    assert status in (1, 2)

    def fun(v):
        return _reference_mean(v[:R * d].reshape(R, d), v[R * d:].reshape(-1, d), row, col, label, weight, 0.0)

    ref = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lower, upper)),
                   options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 5000})
    assert loss <= ref.fun + 5e-3 * ref.fun


def test_minimize_box_status_codes():
    theta, vartheta, row, col, label, weight = _compact_problem(0)
    R, d = theta.shape
    lower, upper = _box(theta, vartheta)
    x = np.concatenate([theta.ravel(), vartheta.ravel()])
    args = (R, d, row, col, label, weight, 0.0, 1.0 / weight.sum())
    _, n_iter, status = _minimize_box(x.copy(), lower, upper, *args, 2, 0.0, 0.0, 10, np.empty_like(x))
    assert (n_iter, status) == (2, 0)  # iteration cap
    _, n_iter, status = _minimize_box(x.copy(), lower, upper, *args, 100, 0.0, 1e9, 10, np.empty_like(x))
    assert (n_iter, status) == (0, 1)  # gtol met at the start
    _, _, status = _minimize_box(x.copy(), lower, upper, *args, 10000, 1e-3, 0.0, 10, np.empty_like(x))
    assert status == 2  # relative decrease below ftol


# ----------------------------------------------------------------------------- block selection
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), expand=st.booleans())
def test_select_block_matches_numpy(seed, expand):
    rng = np.random.default_rng(seed)
    R, C, n = 7, 5, int(rng.integers(1, 40))
    row, col = rng.integers(R, size=n), rng.integers(C, size=n)
    row_mask, col_mask = rng.random(R) < 0.3, rng.random(C) < 0.3
    want_rows, want_cols = row_mask.copy(), col_mask.copy()
    if expand:
        hit = want_rows[row] | want_cols[col]
        want_rows[row[hit]] = True
        want_cols[col[hit]] = True
    want_sel = np.flatnonzero(want_rows[row] | want_cols[col])
    local_row, local_col = np.full(R, -1), np.full(C, -1)
    sel, sub_rows, sub_cols, sub_row, sub_col = _select_block(row, col, row_mask, col_mask, expand, local_row,
                                                              local_col)
    np.testing.assert_array_equal(sel, want_sel)
    np.testing.assert_array_equal(sub_rows[sub_row], row[sel])
    np.testing.assert_array_equal(sub_cols[sub_col], col[sel])
    assert len(set(sub_rows.tolist())) == sub_rows.size and len(set(sub_cols.tolist())) == sub_cols.size
    np.testing.assert_array_equal(row_mask, want_rows)  # expansion marks in place
    np.testing.assert_array_equal(col_mask, want_cols)
    assert np.all(local_row == -1) and np.all(local_col == -1)  # scratch restored


# ----------------------------------------------------------------------------- refits
def _stream(S, A, H, d, K, seed, **kwargs):
    """Theory-version data stream (uniform anchors, one negative each), a refit after every episode."""
    mdp = random_lowrank_mdp(S, A, H, d, seed=seed)
    P = mdp.P.reshape(H, S * A, S)
    rng = np.random.default_rng(seed + 1)
    learner = ContrastiveLearner(H, S * A, S, d, np.full(S, 1.0 / S), seed=seed + 2, **kwargs)
    fits = []
    for _ in range(K):
        for h in range(H):
            x = int(rng.integers(S * A))
            learner.add(h, x, min(int(np.searchsorted(np.cumsum(P[h, x]), rng.random(), side="right")), S - 1), 1)
            learner.add(h, x, int(rng.integers(S)), 0)
        fits.append(learner.fit())
    return learner, fits, P


def _full_objective(learner, fit):
    """Mean loss and max projected gradient of the WHOLE problem at ``fit``, by the numpy reference."""
    stage, anchor, nxt, label, weight = learner._data()
    H, N, S, d = learner.H, learner.n_anchors, learner.S, learner.d
    theta, vartheta = np.log(fit.phi), np.log(fit.psi)  # softmax is shift-invariant: log phi is a valid theta
    params = np.concatenate([theta.ravel(), vartheta.ravel()])
    total, grad = _loss_and_grad_reference(params, stage, anchor, nxt, label, weight, (H, N, S, d), learner.log_m)
    grad /= weight.sum()
    # gtol is tested in the learner's theta coordinates; recompute them for the projected gradient
    x_theta = learner._theta.reshape(H, N, d)
    params = np.concatenate([x_theta.ravel(), vartheta.ravel()])
    _, grad = _loss_and_grad_reference(params, stage, anchor, nxt, label, weight, (H, N, S, d), learner.log_m)
    grad /= weight.sum()
    lower = np.concatenate([learner._theta_bounds[0].ravel(), np.full(vartheta.size, LOG_RATIO_FLOOR)])
    upper = np.concatenate([learner._theta_bounds[1].ravel(),
                            np.repeat(-np.log(learner.negative_dist)[:, None, :], d, axis=1).ravel()])
    return total / weight.sum(), _projected_gradient(params, grad, lower, upper)


@pytest.mark.parametrize("S, K", [(40, 60), (100, 40)])
def test_block_refits_are_certified_on_the_whole_problem(S, K):
    """Every refit's reported loss is the loss of ALL data at the returned factors, and when the block
    passes certified it (no full pass), the whole problem's projected gradient is <= gtol."""
    learner, fits, _ = _stream(S, 3, 2, 2, K, seed=S)
    assert all(f.converged for f in fits)
    certified = [f for f in fits if f.n_iterations == 0 and f.n_local_iterations > 0]
    assert certified, "the block path was never taken"
    loss, pg = _full_objective(learner, fits[-1])
    assert fits[-1].loss == pytest.approx(loss, rel=1e-9)
    if fits[-1].n_iterations == 0:
        assert pg <= learner.gtol * (1 + 1e-6)


def test_incremental_gradient_matches_a_recomputation():
    """The stored gradient sums (updated block by block) equal a fresh evaluation over all data."""
    learner, fits, _ = _stream(100, 3, 2, 2, 30, seed=7)
    n, R, C, d = learner._n, learner._n_rows, learner._n_cols, learner.d
    x = np.concatenate([learner._x_theta[:R].ravel(), learner._x_vartheta[:C].ravel()])
    grad = np.empty_like(x)
    weight = learner._weight[:n]
    loss = _mean_loss_grad(x, R, d, learner._row[:n], learner._col[:n], learner._label[:n], weight, learner.log_m,
                           1.0, np.empty((R, d)), np.empty((C, d)), grad)
    assert learner._loss_sum == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(learner._grad_sum, grad, rtol=1e-7, atol=1e-10)


def test_block_refits_fit_as_well_as_full_passes():
    """Same stream, block-pass refits vs full-pass refits: the block path's final loss is no more than 2%
    above the full passes' and its kernel estimate no more than 10% worse (S >> d, where it is used)."""
    block, fits_block, P = _stream(100, 3, 2, 2, 150, seed=11)
    full, fits_full, _ = _stream(100, 3, 2, 2, 150, seed=11, local_first=False)
    assert sum(f.n_iterations == 0 for f in fits_block) > 100  # mostly block-certified
    assert all(f.n_local_iterations == 0 for f in fits_full)
    assert fits_block[-1].loss <= 1.02 * fits_full[-1].loss  # measured: 0.108 vs 0.117

    def tv(f):
        return 0.5 * np.abs(f.transition_estimate(normalize=True) - P).sum(axis=2).mean()

    assert tv(fits_block[-1]) <= 1.1 * tv(fits_full[-1])


def test_refit_without_new_data_and_copying():
    learner, fits, _ = _stream(30, 2, 1, 2, 5, seed=3)
    clone = copy.deepcopy(learner)
    again = learner.fit()  # nothing changed: a full pass from the optimum stops at once
    assert again.loss == pytest.approx(fits[-1].loss, abs=1e-12) and again.n_iterations <= 1
    np.testing.assert_array_equal(clone.current().phi, fits[-1].phi)


def test_frozen_features_stay_frozen_through_block_refits():
    learner, fits, _ = _stream(60, 2, 2, 2, 20, seed=5, learn_features=False)
    start = ContrastiveLearner(2, 120, 60, 2, np.full(60, 1 / 60), seed=7, learn_features=False).current()
    np.testing.assert_array_equal(fits[-1].phi, start.phi)
    assert fits[-1].converged


def test_data_are_deduplicated_and_round_trip():
    learner = ContrastiveLearner(2, 3, 4, 1, np.full(4, 0.25))
    learner.add([0, 0, 1], [2, 2, 0], [3, 3, 1], [1, 1, 0], [1.0, 2.0, 0.5])
    learner.add(1, 0, 1, 0)
    assert learner.n_distinct == 2 and learner.n_samples == 4.5
    stage, anchor, nxt, label, weight = learner._data()
    np.testing.assert_array_equal(stage, [0, 1])
    np.testing.assert_array_equal(anchor, [2, 0])
    np.testing.assert_array_equal(nxt, [3, 1])
    np.testing.assert_array_equal(label, [1.0, 0.0])
    np.testing.assert_array_equal(weight, [3.0, 1.5])
    learner.add(np.arange(2).repeat(3), np.tile(np.arange(3), 2), np.arange(6) % 4, 1)
    assert learner.n_distinct == 2 + 6  # none of these six triples was stored
    big = ContrastiveLearner(1, 50, 10, 1, np.full(10, 0.1))
    for x in range(50):  # 500 distinct triples: the buffers grow past their initial 64 entries
        big.add(0, x, np.arange(10), 1)
    big.add(0, 7, 3, 1, 2.0)
    assert big.n_distinct == 500 and big.n_samples == 502.0
    stage, anchor, nxt, label, weight = big._data()
    np.testing.assert_array_equal(anchor[weight == 3.0], [7])
    np.testing.assert_array_equal(nxt[weight == 3.0], [3])


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(ftol=-1.0), "ftol must be a finite number >= 0"),
    (dict(gtol=np.nan), "gtol must be a finite number >= 0"),
    (dict(max_rounds=0), "max_rounds must be >= 1"),
    (dict(memory=0), "memory must be >= 1"),
])
def test_learner_argument_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ContrastiveLearner(1, 2, 2, 1, [0.5, 0.5], **kwargs)
