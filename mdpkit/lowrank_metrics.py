"""Per-stage recovery metrics for a learned low-rank representation (plain numpy).

A learned feature map ``phi_hat_h`` (N anchors x d_hat) is compared with the true ``phi*_h`` (N x d)
only where there are data, and with the data's weights: anchor ``x`` of stage ``h`` enters with
weight ``w_h(x)`` (visit counts, or an occupancy measure), i.e. the compared matrices are
``sqrt(W_h) phi_hat_h`` and ``sqrt(W_h) phi*_h`` restricted to the rows with ``w_h(x) > 0``. A
stage with at most ``d`` such rows carries no information about a ``d``-dimensional span (any
``d`` rows are spanned by almost any ``d`` features), so its metrics are NaN, never 0.

The metrics are the principal angles *from the true span*: ``sin theta_i`` are the singular values
of ``(I - Q_hat Q_hat^T) Q*`` (``Q`` orthonormal bases), ``d`` of them. With equal dimensions these
are the usual principal angles; a learned span of lower rank than the true one leaves a direction
at ``pi / 2``. Two summaries per stage: the largest angle, and ``sqrt(mean_i sin^2 theta_i)``
(the normalised projection distance ``||sin Theta||_F / sqrt(d)``), which moves with every
direction, not only the worst one.

Beside the learner, two references on the same rows and weights:

- :func:`random_feature_level`: features drawn at random (``softmax`` of standard-normal logits,
  the contrastive learner's initial features) -- the level a learner that learned nothing sits at;
- :func:`count_svd_features`: the top-``d`` left singular vectors of the visit-count kernel
  ``sqrt(W) P_count`` (row ``x``: ``n(x, .) / n(x)``), a learner-free spectral estimate;

and the kernel error :func:`kernel_error` (weighted mean total variation) of an estimate against
the true kernel, to be read against the count estimate's (:func:`count_kernel`).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_positive_int

__all__ = ["principal_sines", "stage_span_errors", "random_features", "random_feature_level",
           "count_kernel", "count_svd_features", "oracle_psi_features", "spectral_snr", "kernel_error"]

#: Relative singular-value threshold for the numerical rank of a basis (as numpy.linalg.matrix_rank).
_RANK_RTOL = 1e-10


def _orthonormal_basis(M: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, r) of the column span of ``M`` (n, k), ``r`` its numerical rank."""
    U, sv, _ = np.linalg.svd(M, full_matrices=False)
    if sv.size == 0 or sv[0] == 0:
        return U[:, :0]
    rank = int(np.sum(sv > _RANK_RTOL * sv[0] * max(M.shape)))
    return U[:, :rank]


def principal_sines(estimate, truth) -> np.ndarray:
    """Sines of the principal angles from ``span(truth)`` to ``span(estimate)``.

    Parameters
    ----------
    estimate : array_like, shape (n, k)
    truth : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (r,)
        Ascending, in ``[0, 1]``, ``r`` the numerical rank of ``truth``: singular values of
        ``(I - Q_e Q_e^T) Q_t``. 1 for every true direction the estimate misses entirely (also
        when ``estimate`` has lower rank).
    """
    estimate = as_float_array("estimate", estimate, ndim=2)
    truth = as_float_array("truth", truth, ndim=2)
    if estimate.shape[0] != truth.shape[0]:
        raise ValueError(f"estimate {estimate.shape} and truth {truth.shape} must have the same rows")
    Q_e, Q_t = _orthonormal_basis(estimate), _orthonormal_basis(truth)
    residual = Q_t - Q_e @ (Q_e.T @ Q_t)
    sines = np.linalg.svd(residual, compute_uv=False)
    return np.sort(np.clip(sines, 0.0, 1.0))


def _check_weights(weight, shape, name: str = "weight") -> np.ndarray:
    weight = as_float_array(name, weight, shape=shape)
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), weight.shape)
        raise ValueError(f"{name}[{', '.join(map(str, idx))}] = {float(weight[idx])!r} must be finite and >= 0")
    return weight


def stage_span_errors(phi_hat, phi_true, weight) -> dict:
    """Per-stage span error of ``phi_hat`` against ``phi_true`` on the weighted rows.

    Parameters
    ----------
    phi_hat : array_like, shape (H, N, k)
        Learned (or reference) features.
    phi_true : array_like, shape (H, N, d)
        True features.
    weight : array_like, shape (H, N)
        Non-negative row weights (visit counts, occupancy); rows with weight 0 drop out.

    Returns
    -------
    dict
        ``largest`` (H,): largest principal angle (rad, in ``[0, pi/2]``); ``rms_sin`` (H,):
        ``sqrt(mean_i sin^2 theta_i)`` over the ``d`` true directions; ``n_rows`` (H,): rows with
        positive weight. Both metrics are NaN at a stage with ``n_rows <= d``.
    """
    phi_hat = as_float_array("phi_hat", phi_hat, ndim=3)
    phi_true = as_float_array("phi_true", phi_true, ndim=3)
    if phi_hat.shape[:2] != phi_true.shape[:2]:
        raise ValueError(f"phi_hat {phi_hat.shape} and phi_true {phi_true.shape} must agree on (H, N)")
    weight = _check_weights(weight, phi_true.shape[:2])
    H, _, d = phi_true.shape
    largest, rms_sin = np.full(H, np.nan), np.full(H, np.nan)
    n_rows = np.sum(weight > 0, axis=1)
    for h in range(H):
        if n_rows[h] <= d:  # d rows or fewer: any d features span them, no evidence either way
            continue
        rows = weight[h] > 0
        scale = np.sqrt(weight[h, rows])[:, None]
        sines = principal_sines(scale * phi_hat[h, rows], scale * phi_true[h, rows])
        largest[h] = float(np.arcsin(sines[-1]))
        rms_sin[h] = float(np.sqrt(np.mean(sines ** 2)))
    return {"largest": largest, "rms_sin": rms_sin, "n_rows": n_rows.astype(np.float64)}


def random_features(shape, rng: np.random.Generator) -> np.ndarray:
    """Random simplex features ``softmax(g)``, ``g`` standard normal: the contrastive learner's
    initial features (``ContrastiveLearner(init_scale=1)``), shape ``shape = (..., d)``."""
    logits = rng.standard_normal(shape)
    phi = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return phi / phi.sum(axis=-1, keepdims=True)


def random_feature_level(phi_true, weight, *, n_draws: int, rng: np.random.Generator) -> dict:
    """The span error of random features on the same rows and weights, averaged over draws.

    Parameters
    ----------
    phi_true : array_like, shape (H, N, d)
    weight : array_like, shape (H, N)
    n_draws : int
        Independent draws of ``(H, N, d)`` random features (:func:`random_features`).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``largest``, ``rms_sin`` (H,): the mean over draws (NaN where :func:`stage_span_errors`
        gives NaN); ``largest_draws``, ``rms_sin_draws`` (n_draws, H).
    """
    n_draws = check_positive_int("n_draws", n_draws)
    phi_true = as_float_array("phi_true", phi_true, ndim=3)
    draws = [stage_span_errors(random_features(phi_true.shape, rng), phi_true, weight) for _ in range(n_draws)]
    largest = np.array([r["largest"] for r in draws])
    rms = np.array([r["rms_sin"] for r in draws])
    return {"largest": largest.mean(axis=0), "rms_sin": rms.mean(axis=0),
            "largest_draws": largest, "rms_sin_draws": rms}


def count_kernel(next_counts) -> np.ndarray:
    """Empirical kernel ``n(x, s') / n(x)`` from next-state counts; rows never visited are 0.

    Parameters
    ----------
    next_counts : array_like, shape (H, N, S)
        Non-negative counts of observed transitions.

    Returns
    -------
    ndarray, shape (H, N, S)
    """
    counts = as_float_array("next_counts", next_counts, ndim=3)
    _check_weights(counts, counts.shape, "next_counts")
    visits = counts.sum(axis=2, keepdims=True)
    return np.divide(counts, visits, out=np.zeros_like(counts), where=visits > 0)


def count_svd_features(next_counts, d: int) -> np.ndarray:
    """Rank-``d`` spectral features of the visit-count kernel, per stage.

    With ``n(x)`` the visits of anchor ``x``, the top-``d`` left singular vectors ``U`` of
    ``diag(sqrt(n)) P_count`` estimate ``span(diag(sqrt(n)) phi*)`` (the true weighted kernel
    ``diag(sqrt(n)) phi* psi*`` has exactly that column span). Returned as ``U / sqrt(n(x))`` on
    visited rows (0 elsewhere), so that :func:`stage_span_errors` with ``weight = n`` compares
    ``U`` itself.

    Parameters
    ----------
    next_counts : array_like, shape (H, N, S)
    d : int

    Returns
    -------
    ndarray, shape (H, N, d)
        Columns beyond a stage's rank are 0.
    """
    P_count = count_kernel(next_counts)
    d = check_positive_int("d", d)
    visits = np.asarray(next_counts, dtype=np.float64).sum(axis=2)
    H, N, _ = P_count.shape
    features = np.zeros((H, N, d))
    for h in range(H):
        rows = visits[h] > 0
        if not rows.any():
            continue
        root = np.sqrt(visits[h, rows])
        U, _, _ = np.linalg.svd(root[:, None] * P_count[h, rows], full_matrices=False)
        k = min(d, U.shape[1])
        features[h, rows, :k] = U[:, :k] / root[:, None]
    return features


def oracle_psi_features(next_counts, psi, *, n_iter: int = 300) -> np.ndarray:
    """Per-anchor maximum-likelihood features when the TRUE right factor is known (EM on the simplex).

    ``phi(x) = argmax_{phi in simplex} sum_s' n(x, s') log <phi, psi(s')>``, by the EM iteration for
    mixture weights ``phi_i <- phi_i sum_s' n(x, s') psi_i(s') / <phi, psi(s')> / n(x)`` from the
    uniform point (monotone in the likelihood). A reference for what the counts can say about each
    anchor's features at all: a learner that must also estimate ``psi`` cannot expect to do better.

    Parameters
    ----------
    next_counts : array_like, shape (H, N, S)
    psi : array_like, shape (H, d, S)
        True right factor (rows non-negative).
    n_iter : int
        EM iterations.

    Returns
    -------
    ndarray, shape (H, N, d)
        Unvisited anchors keep the uniform point.
    """
    counts = as_float_array("next_counts", next_counts, ndim=3)
    _check_weights(counts, counts.shape, "next_counts")
    psi = as_float_array("psi", psi, ndim=3)
    H, N, S = counts.shape
    if psi.shape[0] != H or psi.shape[2] != S:
        raise ValueError(f"psi must have shape (H, d, S) = ({H}, *, {S}), got {psi.shape}")
    _check_weights(psi, psi.shape, "psi")
    n_iter = check_positive_int("n_iter", n_iter)
    d = psi.shape[1]
    visits = counts.sum(axis=2)
    phi = np.full((H, N, d), 1.0 / d)
    for _ in range(n_iter):
        mix = np.einsum("hxi,his->hxs", phi, psi)
        ratio = np.divide(counts, mix, out=np.zeros_like(counts), where=counts > 0)
        resp = phi * np.einsum("hxs,his->hxi", ratio, psi)
        phi = np.divide(resp, visits[:, :, None], out=phi, where=visits[:, :, None] > 0)
    return phi


def spectral_snr(next_counts, P_true, d: int) -> np.ndarray:
    """Signal-to-noise ratio of rank-``d`` recovery from counts, per stage.

    ``sigma_d(sqrt(W) P) / ||sqrt(W) (P_count - P)||_2`` on the visited rows (``W`` = visits):
    the ``d``-th singular value of the true weighted kernel against the spectral norm of the
    count noise. By Wedin's theorem the top-``d`` left singular span of the counts is within
    ``arcsin(1 / snr)``-ish of the true span once ``snr > 1``; below 1 the noise can hide a
    whole direction. NaN at a stage with ``<= d`` visited rows.

    Parameters
    ----------
    next_counts : array_like, shape (H, N, S)
    P_true : array_like, shape (H, N, S)
    d : int

    Returns
    -------
    ndarray, shape (H,)
    """
    P_count = count_kernel(next_counts)
    P_true = as_float_array("P_true", P_true, shape=P_count.shape)
    d = check_positive_int("d", d)
    visits = np.asarray(next_counts, dtype=np.float64).sum(axis=2)
    out = np.full(P_count.shape[0], np.nan)
    for h in range(P_count.shape[0]):
        rows = visits[h] > 0
        if rows.sum() <= d:
            continue
        root = np.sqrt(visits[h, rows])[:, None]
        signal = np.linalg.svd(root * P_true[h, rows], compute_uv=False)
        noise = np.linalg.norm(root * (P_count[h, rows] - P_true[h, rows]), 2)
        with np.errstate(divide="ignore"):  # exact counts: no noise, ratio inf
            out[h] = signal[d - 1] / noise if signal.size >= d else 0.0
    return out


def kernel_error(P_hat, P_true, weight) -> np.ndarray:
    """Weighted mean total-variation error of a kernel estimate, per stage.

    Parameters
    ----------
    P_hat, P_true : array_like, shape (H, N, S)
    weight : array_like, shape (H, N)
        Non-negative row weights (counts or occupancy).

    Returns
    -------
    ndarray, shape (H,)
        ``sum_x w(x) TV(P_hat(.|x), P(.|x)) / sum_x w(x)``; NaN at a stage with zero total weight.
    """
    P_hat = as_float_array("P_hat", P_hat, ndim=3)
    P_true = as_float_array("P_true", P_true, shape=P_hat.shape)
    weight = _check_weights(weight, P_hat.shape[:2])
    tv = 0.5 * np.abs(P_hat - P_true).sum(axis=2)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (weight * tv).sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)
