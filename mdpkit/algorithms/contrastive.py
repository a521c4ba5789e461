"""Contrastive (binary noise-contrastive) learning of a low-rank transition kernel.

Data at stage ``h`` are labelled triples ``(x, s', y)``, ``x`` an *anchor* (a state-action pair
``(s, a)`` or, in a Markov game, ``(s, a, b)``, flattened to one index):

- positives ``y = 1``: ``s' ~ P_h(.|x)``, the observed next state;
- negatives ``y = 0``: ``s' ~ P^-_h``, a fixed full-support distribution independent of ``x``,
  ``m`` of them per positive.

By Bayes' rule ``Pr(y = 1 | x, s') = f*/(f* + m)`` with the density ratio
``f*_h(x, s') = P_h(s'|x) / P^-_h(s') = <phi*_h(x), psi*_h(s') / P^-_h(s')>``, bilinear of rank ``d``.
The model score is ``f = <phi(x), psi(s')>`` with ``phi(x) = softmax(theta[x])`` on the simplex and
``psi(s') = exp(vartheta[:, s'])`` positive, so ``f > 0``; the loss is the label's negative
log-likelihood (logistic loss with logit ``z = log f - log m``)::

    loss = mean over data of  y * log(1 + m / f) + (1 - y) * log(1 + f / m)
         = mean of softplus(-z) if y = 1 else softplus(z).

Its population minimiser is ``f = f*`` on the data support, so ``P_hat = (phi_hat @ psi_hat) * P^-``
estimates ``P`` and ``span(phi_hat)`` estimates ``span(phi*)`` (``phi`` is identified only up to an
invertible ``d x d`` transform).

Reconstructed: the Contrastive UCB paper body was unavailable; this loss is the NCE/CTRL-style
binary form of docs/papers/contrastive_ucb.md#contrastive-ucb-contrastive-loss (a softmax InfoNCE loss would lose
the bilinear form).

The gradient is analytic: with ``w = softmax(theta[x] + vartheta[:, s'])`` (the posterior over the
``d`` latent components) and ``r = sigmoid(z) - y``::

    d loss / d theta[x]          = r * (w - phi(x)),
    d loss / d vartheta[:, s']   = r * w.

Parameters are fitted by a projected L-BFGS with box bounds (numba, :func:`_minimize_box`),
warm-started from the previous fit; each refit first re-optimises the block of parameters the new
data touch, then all of them (see :class:`ContrastiveLearner`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import subspace_angles
from scipy.special import expit, log_expit, logsumexp

from .._validation import as_float_array, check_not_complex, check_positive_int, check_stochastic
from ._contrastive_kernels import (_loss_and_grad_kernel, _mean_loss_grad, _minimize_box,
                                   _select_block)
from .._validation import check_seed

__all__ = ["ContrastiveFit", "ContrastiveLearner", "contrastive_loss", "feature_angle"]

#: |theta| bound: softmax features closer than e^-40 to a vertex are numerically a vertex anyway;
#: bounding keeps L-BFGS from drifting along the flat directions towards infinity.
THETA_BOUND = 20.0
#: Lower bound on vartheta: ratios below e^-20 ~ 2e-9 are numerically zero transitions.
LOG_RATIO_FLOOR = -20.0
#: A refit's block passes stop (and a full pass takes over) once a block involves more than this
#: share of the data: then a block pass costs about as much as a full pass and saves nothing
#: (measured on S = 10: block passes made refits 2-4x slower than full passes).
_BLOCK_DATA_SHARE = 0.25
#: ``ContrastiveFit.stop`` of each ``_minimize_box`` status; the first three count as converged.
_STOP_REASONS = {0: "max_iter", 1: "gtol", 2: "ftol", 3: "no_descent"}
_CONVERGED = ("certified", "gtol", "ftol")


# --------------------------------------------------------------------------- the loss
def _unpack(params: np.ndarray, H: int, n_anchors: int, S: int, d: int):
    n_theta = H * n_anchors * d
    return params[:n_theta].reshape(H, n_anchors, d), params[n_theta:].reshape(H, d, S)


def _loss_and_grad_reference(params, stage, anchor, next_state, label, weight, shape, log_m):
    """Plain-numpy specification of :func:`_loss_and_grad` (the numba kernel is tested against it)."""
    H, n_anchors, S, d = shape
    theta, vartheta = _unpack(params, H, n_anchors, S, d)
    th = theta[stage, anchor]                       # (n, d)
    vt = vartheta[stage, :, next_state]             # (n, d)
    log_norm = logsumexp(th, axis=1)                # log sum exp theta
    joint = th + vt
    log_joint = logsumexp(joint, axis=1)
    z = log_joint - log_norm - log_m                # logit = log f - log m
    # y * softplus(-z) + (1 - y) * softplus(z), written with log-sigmoid for stability
    per_sample = -(label * log_expit(z) + (1.0 - label) * log_expit(-z))
    total = float(weight @ per_sample)
    r = weight * (expit(z) - label)                 # weighted d loss / d z
    w = np.exp(joint - log_joint[:, None])          # posterior over components, (n, d)
    phi = np.exp(th - log_norm[:, None])
    g_theta = np.zeros((H * n_anchors, d))
    g_vartheta = np.zeros((H * S, d))
    rows_theta = stage * n_anchors + anchor
    rows_vartheta = stage * S + next_state
    for i in range(d):  # bincount scatter-add: d is small, the data are many
        g_theta[:, i] = np.bincount(rows_theta, weights=r * (w[:, i] - phi[:, i]), minlength=H * n_anchors)
        g_vartheta[:, i] = np.bincount(rows_vartheta, weights=r * w[:, i], minlength=H * S)
    grad = np.concatenate([g_theta.ravel(), g_vartheta.reshape(H, S, d).transpose(0, 2, 1).ravel()])
    return total, grad


def _loss_and_grad(params, stage, anchor, next_state, label, weight, shape, log_m, grad_out=None):
    """Weighted SUM of the per-sample losses and its gradient (flat, same layout as ``params``)."""
    H, n_anchors, S, d = shape
    theta, vartheta = _unpack(params, H, n_anchors, S, d)
    grad = np.empty_like(params) if grad_out is None else grad_out
    g_theta, g_vartheta = _unpack(grad, H, n_anchors, S, d)
    total = _loss_and_grad_kernel(theta, vartheta, stage, anchor, next_state, label, weight, log_m,
                                  g_theta, g_vartheta)
    return total, grad


def contrastive_loss(theta, vartheta, stage, anchor, next_state, label, *, weight=None,
                     n_negatives: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean contrastive logistic loss and its gradient with respect to the parameters.

    Parameters
    ----------
    theta : array_like, shape (H, N, d)
        Feature logits: ``phi_h(x) = softmax(theta[h, x])``.
    vartheta : array_like, shape (H, d, S)
        Log right factor: ``psi_h(s') = exp(vartheta[h, :, s'])``.
    stage, anchor, next_state : array_like of int, shape (n,)
        The labelled triples (``stage`` in ``[0, H)``, ``anchor`` in ``[0, N)``, ``next_state`` in
        ``[0, S)``).
    label : array_like, shape (n,)
        1 for positives, 0 for negatives.
    weight : array_like, shape (n,), optional
        Non-negative sample weights (counts, or probabilities for a population loss); default 1.
    n_negatives : int
        Negatives per positive ``m``: the logit is ``log f - log m`` (the Bayes-odds correction).

    Returns
    -------
    loss : float
        Weighted mean loss.
    grad_theta : ndarray, shape (H, N, d)
    grad_vartheta : ndarray, shape (H, d, S)
    """
    theta = as_float_array("theta", theta, ndim=3)
    H, N, d = theta.shape
    vartheta = as_float_array("vartheta", vartheta, ndim=3)
    if vartheta.shape[:2] != (H, d):
        raise ValueError(f"vartheta must have shape (H, d, S) = ({H}, {d}, *), got {vartheta.shape}")
    S = vartheta.shape[2]
    stage, anchor, next_state = (np.asarray(v, dtype=np.int64) for v in (stage, anchor, next_state))
    label = as_float_array("label", label, ndim=1)
    if np.any((label != 0) & (label != 1)):
        bad = int(np.argmax((label != 0) & (label != 1)))
        raise ValueError(f"label[{bad}] = {float(label[bad])!r} is not 0 or 1")
    weight = np.ones(label.shape) if weight is None else as_float_array("weight", weight, shape=label.shape)
    m = check_positive_int("n_negatives", n_negatives)
    params = np.concatenate([theta.ravel(), vartheta.ravel()])
    total, grad = _loss_and_grad(params, stage, anchor, next_state, label, weight, (H, N, S, d), np.log(m))
    g_theta, g_vartheta = _unpack(grad / weight.sum(), H, N, S, d)
    return total / weight.sum(), g_theta, g_vartheta


# --------------------------------------------------------------------------- fitted model
@dataclass(frozen=True)
class ContrastiveFit:
    """Learned factors of a low-rank kernel.

    Attributes
    ----------
    phi : ndarray, shape (H, N, d)
        Learned features (rows on the simplex), ``N`` anchors.
    psi : ndarray, shape (H, d, S)
        Learned positive right factor; ``phi @ psi`` estimates the ratio ``P / P^-``.
    negative_dist : ndarray, shape (H, S)
        The negative-sampling distribution ``P^-`` the ratio is relative to.
    loss : float
        Final mean training loss.
    n_iterations : int
        Iterations of the full pass of this fit.
    converged : bool
        Whether the full pass met a stopping tolerance (rather than the iteration cap).
    n_local_iterations : int
        Iterations of the local pass that preceded the full pass (see ``ContrastiveLearner``).
    stop : str
        Why the fit ended: ``"certified"`` (block passes brought the whole problem's max projected
        gradient to ``<= gtol``), ``"gtol"`` (the full pass met that test), ``"ftol"`` (the full
        pass's relative decrease fell to ``<= ftol``: no gradient guarantee), ``"max_iter"``,
        ``"no_descent"`` (the line search found no decrease) or ``"not fitted"``. ``converged`` is
        true for the first three.
    """

    phi: np.ndarray
    psi: np.ndarray
    negative_dist: np.ndarray
    loss: float
    n_iterations: int
    converged: bool
    n_local_iterations: int = 0
    stop: str = "not fitted"

    def ratio(self) -> np.ndarray:
        """Estimated density ratio ``phi @ psi``, shape (H, N, S)."""
        return self.phi @ self.psi

    def transition_estimate(self, *, normalize: bool = False) -> np.ndarray:
        """``P_hat = (phi @ psi) * P^-``, shape (H, N, S).

        Parameters
        ----------
        normalize : bool
            The ratio estimate need not sum to one over ``s'``. ``True`` divides each row by its
            sum, as planning with the estimate requires (rows are positive, so this is defined).
        """
        P_hat = self.ratio() * self.negative_dist[:, None, :]
        if normalize:
            P_hat /= P_hat.sum(axis=2, keepdims=True)
        return P_hat


class ContrastiveLearner:
    """Accumulates labelled transitions and refits the factors, warm-started.

    Parameters
    ----------
    H, n_anchors, S, d : int
        Stages, anchors (``S * A``, or ``S * A * B`` in a game), next states, rank of the model.
    negative_dist : array_like, shape (S,) or (H, S)
        ``P^-_h``, full support (every entry > 0): the ratio is only bounded where it is.
    n_negatives : int
        Negatives ``m`` the caller adds per positive (the logit is corrected by ``log m``).
    max_iter : int
        Iteration cap of each L-BFGS pass (each block pass and the full pass of a refit).
    ftol, gtol : float
        Stopping tolerances on the MEAN loss (relative decrease per iteration; max-abs projected
        gradient), L-BFGS-B's rules, so they mean the same whatever the amount of data.
    init_scale : float
        Standard deviation of the random initial ``theta`` (breaks the symmetry between the ``d``
        components; with equal logits every component would get the same gradient).
    learn_features : bool
        ``False`` freezes ``phi`` at its random initialisation and fits ``psi`` only (the
        random-features ablation).
    local_first : bool
        Refits after the first start with block passes (see :meth:`fit`): only the parameters
        the data added since the last fit touch (their anchors' ``theta`` rows, their next
        states' ``vartheta`` columns) are optimised, on the data that involve them -- an exact
        block step of the same loss -- then those whose projected gradient still exceeds
        ``gtol`` (with their data partners), until the whole problem's max projected gradient,
        kept exact incrementally, is ``<= gtol`` (L-BFGS-B's convergence test). Once a block
        involves more than a quarter of the data, or after ``max_rounds`` blocks, a full pass
        takes over. So a refit meets the same ``gtol`` test as a full pass, at a cost that
        follows the new data instead of all data when ``S >> d`` (few data per next state).
        Default ``True``; ``False``: full passes only. Both are warm-started, so both stay in
        the basin of the earlier fits (a non-convex loss; see ``contrastive_ucb.run``'s
        ``cold_refits``).
    max_rounds : int
        Block passes on violating parameters before falling back to a full pass.
    memory : int
        L-BFGS curvature pairs.
    seed : None, non-negative int, SeedSequence or Generator
        Initial parameters.

    Notes
    -----
    The ratio class is bounded: ``psi_i(s') <= 1 / P^-(s')``, which every true ratio satisfies
    (``P(s'|x) <= 1``), and ``psi_i(s') >= exp(-20)``. Without the upper bound a next state seen
    only as a positive would send its ``psi`` to infinity (the loss keeps decreasing).
    Data are stored deduplicated, one weight per distinct ``(h, x, s', y)``, in arrays that grow
    with the data, and only the parameters that touch the data are optimised: a full pass costs
    ``O(distinct triples * d)`` per iteration, not ``O(samples)`` or ``O(H N d)``.

    The optimiser is a projected (two-metric) L-BFGS in numba (:func:`_minimize_box`) rather
    than scipy's L-BFGS-B: the latter's per-call set-up loops over the bounds in Python
    (~60 ms for the 16,000 active parameters of S = 200, A = 4, H = 5, d = 4 after 1000
    episodes) and its per-iteration cost (~3-5 ms there) exceeded the loss evaluation itself.
    Measured there (benchmarks/bench_contrastive.py, one BLAS thread): a refit after 1000
    episodes took ~150-390 ms with scipy (19-57 iterations), ~15-20 ms with full numba passes
    and ~1.2-1.6 ms with the block passes; after 10 episodes 3-8 ms, 0.44 ms and 0.33 ms.
    """

    def __init__(self, H: int, n_anchors: int, S: int, d: int, negative_dist, *, n_negatives: int = 1,
                 max_iter: int = 200, ftol: float = 1e-9, gtol: float = 1e-6, init_scale: float = 1.0,
                 learn_features: bool = True, local_first: bool = True, max_rounds: int = 30, memory: int = 10,
                 seed=None):
        self.H, self.n_anchors, self.S, self.d = (check_positive_int(n, v) for n, v in
                                                  (("H", H), ("n_anchors", n_anchors), ("S", S), ("d", d)))
        neg = as_float_array("negative_dist", negative_dist, ndim=(1, 2))
        if neg.shape[-1] != self.S or (neg.ndim == 2 and neg.shape[0] not in (1, self.H)):  # before broadcasting
            raise ValueError(f"negative_dist must have shape (S,) = ({self.S},) or (H, S) = ({self.H}, {self.S}), "
                             f"got {neg.shape}")
        neg = np.broadcast_to(neg, (self.H, self.S)).copy() if neg.ndim == 1 or neg.shape[0] == 1 else neg
        check_stochastic("negative_dist", neg, ("h", "s'"))
        if np.any(neg <= 0):
            h, s = np.unravel_index(int(np.argmax(neg <= 0)), neg.shape)
            raise ValueError(f"negative_dist[h={h}, s'={s}] = {float(neg[h, s])!r} must be > 0 (full support)")
        self.negative_dist = neg
        self.log_m = float(np.log(check_positive_int("n_negatives", n_negatives)))
        self.max_iter = check_positive_int("max_iter", max_iter)
        self.memory = check_positive_int("memory", memory)
        self.ftol, self.gtol = float(ftol), float(gtol)
        for name, value in (("ftol", self.ftol), ("gtol", self.gtol)):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.local_first = bool(local_first)
        self.max_rounds = check_positive_int("max_rounds", max_rounds)
        if seed is not None and not isinstance(seed, np.random.Generator):
            check_seed(seed)
        rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
        H, N, S = self.H, self.n_anchors, self.S
        # Parameters by global row: theta (H * N, d) per anchor (h, x); vartheta stored TRANSPOSED,
        # (H * S, d) per next state (h, s'), so a compact gather is a row take.
        self._theta = init_scale * rng.standard_normal((H * N, self.d))
        self._vartheta = np.zeros((H * S, self.d))  # ratio 1 everywhere: P_hat = P^- at the start
        if learn_features:
            self._theta_bounds = (np.full_like(self._theta, -THETA_BOUND), np.full_like(self._theta, THETA_BOUND))
        else:  # equal bounds freeze the features at their random initialisation
            self._theta_bounds = (self._theta.copy(), self._theta.copy())
        self._vartheta_bounds = (np.full_like(self._vartheta, LOG_RATIO_FLOOR),
                                 np.repeat(-np.log(neg).reshape(H * S, 1), self.d, axis=1))
        # Compact ids: the anchors / next states that have data, in order of first appearance.
        self._row_of = np.full(H * N, -1, dtype=np.int64)
        self._col_of = np.full(H * S, -1, dtype=np.int64)
        self._rows = np.empty(H * N, dtype=np.int64)  # global row of compact row r (first n_rows used)
        self._cols = np.empty(H * S, dtype=np.int64)
        self._n_rows = self._n_cols = 0
        self._local_row = np.full(H * N, -1, dtype=np.int64)  # scratch of _select_block
        self._local_col = np.full(H * S, -1, dtype=np.int64)
        # The optimised parameters and their bounds in compact order (first _n_rows / _n_cols used):
        # a refit reads them as contiguous slices instead of gathering from the global arrays.
        self._x_theta, self._x_vartheta = np.empty_like(self._theta), np.empty_like(self._vartheta)
        self._lo_theta, self._hi_theta = np.empty_like(self._theta), np.empty_like(self._theta)
        self._lo_vartheta, self._hi_vartheta = np.empty_like(self._vartheta), np.empty_like(self._vartheta)
        # Deduplicated data: compact row, compact column, label, weight (first _n entries used);
        # _synced_weight is the weight the stored gradient sums include.
        self._index: dict[int, int] = {}
        self._n = 0
        self._row = np.empty(64, dtype=np.int64)
        self._col = np.empty(64, dtype=np.int64)
        self._label = np.empty(64)
        self._weight = np.empty(64)
        self._synced_weight = np.empty(64)
        self._changed: list[int] = []  # data entries added or re-weighted since the last fit
        self._fitted = False
        # Weighted loss SUM and its gradient at the current parameters for the synced weights,
        # kept up to date by the block passes; recomputed over all data when the data double.
        self._loss_sum = 0.0
        self._grad_sum = np.empty(0)
        self._grad_rows = 0
        self._n_at_sync = 0

    @property
    def n_samples(self) -> float:
        """Total weight of the stored data (number of samples when every weight is 1)."""
        return float(self._weight[:self._n].sum())

    @property
    def n_distinct(self) -> int:
        """Number of distinct stored triples ``(h, x, s', y)``."""
        return self._n

    def add(self, stage, anchor, next_state, label, weight=1.0) -> None:
        """Store labelled triples (arrays broadcast together; ``label`` in {0, 1}).

        Parameters
        ----------
        stage, anchor, next_state : int or array_like of int
        label : int or array_like of int
        weight : float or array_like
            Positive weights (default 1 per sample).
        """
        check_not_complex("weight", weight)
        stage, anchor, next_state, label, weight = np.broadcast_arrays(
            np.asarray(stage), np.asarray(anchor), np.asarray(next_state), np.asarray(label),
            np.asarray(weight, dtype=np.float64))
        for name, arr, upper in (("stage", stage, self.H), ("anchor", anchor, self.n_anchors),
                                 ("next_state", next_state, self.S), ("label", label, 2)):
            bad = (arr < 0) | (arr >= upper) | (arr != np.round(arr))
            if bad.any():
                i = int(np.argmax(bad.ravel()))
                raise ValueError(f"{name}[{i}] = {arr.ravel()[i].item()!r} is not an integer in [0, {upper})")
        if np.any(~(weight > 0)) or not np.all(np.isfinite(weight)):
            i = int(np.argmax((~(weight > 0) | ~np.isfinite(weight)).ravel()))
            raise ValueError(f"weight[{i}] = {float(weight.ravel()[i])!r} must be positive and finite")
        grow = self._n + stage.size - self._row.shape[0]
        if grow > 0:  # amortised doubling: appending stays O(1) per datum
            new_size = max(2 * self._row.shape[0], self._n + stage.size)
            for name in ("_row", "_col", "_label", "_weight", "_synced_weight"):
                old = getattr(self, name)
                buf = np.empty(new_size, dtype=old.dtype)
                buf[:self._n] = old[:self._n]
                setattr(self, name, buf)
        rows = (stage.astype(np.int64) * self.n_anchors + anchor).ravel().tolist()
        cols = (stage.astype(np.int64) * self.S + next_state).ravel().tolist()
        for g_row, g_col, y, w in zip(rows, cols, label.ravel().tolist(), weight.ravel().tolist()):
            key = (g_row * self.S + g_col % self.S) * 2 + int(y)
            i = self._index.get(key)
            if i is None:
                i = self._index[key] = self._n
                self._n += 1
                r = self._row_of[g_row]
                if r < 0:
                    r = self._row_of[g_row] = self._n_rows
                    self._rows[r] = g_row
                    self._x_theta[r] = self._theta[g_row]
                    self._lo_theta[r], self._hi_theta[r] = self._theta_bounds[0][g_row], self._theta_bounds[1][g_row]
                    self._n_rows += 1
                c = self._col_of[g_col]
                if c < 0:
                    c = self._col_of[g_col] = self._n_cols
                    self._cols[c] = g_col
                    self._x_vartheta[c] = self._vartheta[g_col]
                    self._lo_vartheta[c] = self._vartheta_bounds[0][g_col]
                    self._hi_vartheta[c] = self._vartheta_bounds[1][g_col]
                    self._n_cols += 1
                self._row[i], self._col[i], self._label[i], self._weight[i] = r, c, y, w
                self._synced_weight[i] = 0.0
            else:
                self._weight[i] += w
            self._changed.append(i)

    def _data(self):
        """The stored data as arrays ``(stage, anchor, next_state, label, weight)``, each shape (n,)."""
        n = self._n
        g_row = self._rows[self._row[:n]]
        g_col = self._cols[self._col[:n]]
        return (g_row // self.n_anchors, g_row % self.n_anchors, g_col % self.S, self._label[:n].copy(),
                self._weight[:n].copy())

    def _solve(self, x, lower, upper, n_rows, row, col, label, weight, inv_total, ftol=None, gtol=None):
        """:func:`_minimize_box`; returns ``(loss, n_iter, status, grad)``."""
        grad = np.empty_like(x)
        loss, n_iter, status = _minimize_box(
            x, lower, upper, n_rows, self.d, row, col, label, weight, self.log_m, inv_total, self.max_iter,
            self.ftol if ftol is None else ftol, self.gtol if gtol is None else gtol, self.memory, grad)
        return loss, n_iter, status, grad

    def _block_pass(self, x, lower, upper, n_rows, row, col, label, weight, inv_total, row_touched, col_touched,
                    loss=None, grad=None, weight_before=None, expand=False, max_data=None):
        """Minimise over the marked rows / columns only, on the data that involve them; ``x`` in place.

        The loss of the other data does not depend on the marked parameters, so this is an exact
        block step of the full objective (same mean normalisation, same ``gtol``). If the full
        ``loss`` and ``grad`` at ``x`` are given, they are updated by the change of the block's
        data terms (the only terms that moved) instead of being recomputed over all data;
        ``weight_before`` (shape (n,)) are the weights ``loss`` and ``grad`` include, if they
        differ from ``weight`` (data added since they were computed).

        Returns ``None`` (and changes nothing) if the block involves more than ``max_data`` data.

        Returns
        -------
        n_iter : int
        loss : float or None
            Updated full mean loss (``None`` if not given).
        idx : ndarray of int64
            Entries of ``x`` whose gradient may have changed (the block and its neighbours).
        """
        d = self.d
        sel, sub_rows, sub_cols, sub_row, sub_col = _select_block(
            row, col, row_touched, col_touched, expand, self._local_row, self._local_col)
        if max_data is not None and sel.shape[0] > max_data:
            return None
        idx = np.concatenate([(sub_rows[:, None] * d + np.arange(d)).ravel(),
                              (n_rows * d + sub_cols[:, None] * d + np.arange(d)).ravel()])
        held = np.concatenate([np.repeat(~row_touched[sub_rows], d), np.repeat(~col_touched[sub_cols], d)])
        x_sub = x[idx]
        lo, hi = lower[idx], upper[idx]
        lo[held] = hi[held] = x_sub[held]  # neighbours that share data: frozen at their values
        label_sub, weight_sub = label[sel], weight[sel]
        if grad is not None:
            g_before = np.empty_like(x_sub)
            w_before = weight_sub if weight_before is None else weight_before[sel]
            loss -= _mean_loss_grad(x_sub, sub_rows.shape[0], d, sub_row, sub_col, label_sub, w_before,
                                    self.log_m, inv_total, np.empty((sub_rows.shape[0], d)),
                                    np.empty((sub_cols.shape[0], d)), g_before)
        # ftol = 0: a block is small, so it is driven to the gtol test that the full check applies
        # (a relative-decrease stop would leave the same violations for the next round).
        sub_loss, n_iter, _, g_after = self._solve(x_sub, lo, hi, sub_rows.shape[0], sub_row, sub_col, label_sub,
                                                   weight_sub, inv_total, ftol=0.0)
        x[idx] = x_sub
        if grad is not None:
            loss += sub_loss
            grad[idx] += g_after - g_before
        return n_iter, loss, idx

    def fit(self) -> ContrastiveFit:
        """Minimise the loss on all stored data, starting from the previous solution.

        With ``local_first`` (after the first fit): a block pass over the parameters the new data
        touch; then, while the FULL problem's max projected gradient exceeds ``gtol``
        (L-BFGS-B's convergence test), a block pass over the violating parameters and their data
        partners (the full loss and gradient are kept exact by updating the terms of the data
        each block involves, and recomputed over all data whenever the data have doubled); a
        full L-BFGS pass from there after ``max_rounds`` such passes without certification, or
        as soon as a block would involve more than a quarter of the data.

        Returns
        -------
        ContrastiveFit
        """
        if self._n == 0:
            raise ValueError("no data: add() labelled transitions before fit()")
        n, d, R, C = self._n, self.d, self._n_rows, self._n_cols
        row, col, label, weight = self._row[:n], self._col[:n], self._label[:n], self._weight[:n]
        total = weight.sum()
        inv_total = 1.0 / total  # the MEAN loss: tolerances independent of the amount of data
        # Only parameters that touch the data move the loss (the others have zero gradient).
        x = np.concatenate([self._x_theta[:R].ravel(), self._x_vartheta[:C].ravel()])
        lower = np.concatenate([self._lo_theta[:R].ravel(), self._lo_vartheta[:C].ravel()])
        upper = np.concatenate([self._hi_theta[:R].ravel(), self._hi_vartheta[:C].ravel()])
        local_iterations, n_iterations, certified = 0, 0, False
        # A block pass pays off only while its data are a small part of all data (few data per
        # next state, e.g. S >> d); beyond this share a full pass is cheaper.
        max_data = _BLOCK_DATA_SHARE * n
        if self.local_first and self._fitted and self._changed:
            changed = np.asarray(self._changed, dtype=np.int64)
            row_touched = np.zeros(R, dtype=bool)
            col_touched = np.zeros(C, dtype=bool)
            row_touched[row[changed]] = True
            col_touched[col[changed]] = True
            grad = np.zeros_like(x)
            if n >= 2 * self._n_at_sync:  # exact resync (bounds round-off drift; amortised O(1) per datum)
                out = self._block_pass(x, lower, upper, R, row, col, label, weight, inv_total, row_touched,
                                       col_touched, max_data=max_data)
                if out is not None:
                    local_iterations += out[0]
                    loss = _mean_loss_grad(x, R, d, row, col, label, weight, self.log_m, inv_total,
                                           np.empty((R, d)), np.empty((C, d)), grad)
                    out = (0, loss, np.arange(x.shape[0]))
                    self._n_at_sync = n
            else:  # the stored sums, corrected by the block's terms (every changed datum is in the block)
                p_old = self._grad_sum.shape[0]
                n_rows_old = self._grad_rows
                grad[:n_rows_old * d] = self._grad_sum[:n_rows_old * d] * inv_total
                grad[R * d:R * d + p_old - n_rows_old * d] = self._grad_sum[n_rows_old * d:] * inv_total
                out = self._block_pass(x, lower, upper, R, row, col, label, weight, inv_total, row_touched,
                                       col_touched, self._loss_sum * inv_total, grad,
                                       weight_before=self._synced_weight[:n], max_data=max_data)
            for _ in range(self.max_rounds + 1):
                if out is None:  # block too large: leave it to the full pass
                    break
                n_iter, loss, idx = out
                local_iterations += n_iter
                # The test covers EVERY entry, not only the block's (idx): the previous fit may have
                # stopped on the ftol rule or the iteration cap with violators outside this block
                # (found by contrastive_ucb.fit_certificate: "certified" fits with a projected
                # gradient 15x gtol). O(p) per round, against O(data d) for a loss evaluation.
                bad = np.flatnonzero(np.abs(np.clip(x - grad, lower, upper) - x) > self.gtol)
                if bad.size == 0:
                    certified = True
                    break
                row_touched[:] = False
                col_touched[:] = False
                row_touched[bad[bad < R * d] // d] = True
                col_touched[(bad[bad >= R * d] - R * d) // d] = True
                # expand: free the violators' data partners too. A violating row alone would be
                # fixed, then its columns would violate, then their rows... (measured: rows and
                # columns ping-pong for ~10 rounds without this, ~4 with it).
                out = self._block_pass(x, lower, upper, R, row, col, label, weight, inv_total, row_touched,
                                       col_touched, loss, grad, expand=True, max_data=max_data)
        if certified:
            stop = "certified"
        else:
            loss, n_iterations, status, grad = self._solve(x, lower, upper, R, row, col, label, weight, inv_total)
            stop = _STOP_REASONS[status]
            self._n_at_sync = n
        self._loss_sum, self._grad_sum, self._grad_rows = loss * total, grad * total, R
        self._synced_weight[:n] = weight
        self._x_theta[:R] = x[:R * d].reshape(R, d)
        self._x_vartheta[:C] = x[R * d:].reshape(C, d)
        self._theta[self._rows[:R]] = self._x_theta[:R]
        self._vartheta[self._cols[:C]] = self._x_vartheta[:C]
        self._changed = []
        self._fitted = True
        return self.current(loss=float(loss), n_iterations=int(n_iterations), converged=stop in _CONVERGED,
                            n_local_iterations=int(local_iterations), stop=stop)

    def current(self, *, loss: float = float("nan"), n_iterations: int = 0, converged: bool = False,
                n_local_iterations: int = 0, stop: str = "not fitted") -> ContrastiveFit:
        """The factors at the current parameters (the initial ones before any fit)."""
        theta = self._theta.reshape(self.H, self.n_anchors, self.d)
        phi = np.exp(theta - theta.max(axis=2, keepdims=True))  # softmax
        phi /= phi.sum(axis=2, keepdims=True)
        psi = np.ascontiguousarray(np.exp(self._vartheta).reshape(self.H, self.S, self.d).transpose(0, 2, 1))
        return ContrastiveFit(phi, psi, self.negative_dist, loss, n_iterations, converged, n_local_iterations, stop)

    def parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the current raw parameters, in :func:`contrastive_loss`'s layout.

        Returns
        -------
        theta : ndarray, shape (H, N, d)
            Feature logits, in ``[-THETA_BOUND, THETA_BOUND]`` (frozen with ``learn_features=False``).
        vartheta : ndarray, shape (H, d, S)
            Log right factor, in ``[LOG_RATIO_FLOOR, -log P^-_h(s')]``.
        """
        theta = self._theta.reshape(self.H, self.n_anchors, self.d).copy()
        vartheta = np.ascontiguousarray(self._vartheta.reshape(self.H, self.S, self.d).transpose(0, 2, 1))
        return theta, vartheta


# --------------------------------------------------------------------------- diagnostics
def feature_angle(phi_hat, phi_true, weight=None) -> float:
    """Largest principal angle (radians) between ``span(phi_hat)`` and ``span(phi_true)``, worst stage.

    Parameters
    ----------
    phi_hat, phi_true : array_like, shape (H, N, d_hat) and (H, N, d)
        Features of the ``N`` anchors at each stage, as matrices ``(N, d)`` whose column spans
        are compared.
    weight : array_like, shape (H, N), optional
        Non-negative anchor weights (e.g. the data distribution: features are identified only
        where there are data). Rows are scaled by ``sqrt(weight)``; zero-weight rows drop out.

    Returns
    -------
    float
        ``max_h`` of the largest principal angle, in ``[0, pi/2]``.
    """
    phi_hat = as_float_array("phi_hat", phi_hat, ndim=3)
    phi_true = as_float_array("phi_true", phi_true, ndim=3)
    if phi_hat.shape[:2] != phi_true.shape[:2]:
        raise ValueError(f"phi_hat {phi_hat.shape} and phi_true {phi_true.shape} must agree on (H, N)")
    if weight is None:
        weight = np.ones(phi_hat.shape[:2])
    weight = as_float_array("weight", weight, shape=phi_hat.shape[:2])
    worst = 0.0
    for h in range(phi_hat.shape[0]):
        rows = weight[h] > 0
        if not rows.any():
            continue
        scale = np.sqrt(weight[h, rows])[:, None]
        worst = max(worst, float(subspace_angles(scale * phi_hat[h, rows], scale * phi_true[h, rows]).max()))
    return worst
