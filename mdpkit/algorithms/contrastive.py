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
binary form of shared/papers/contrastive-ucb.md section 1.2 (a softmax InfoNCE loss would lose
the bilinear form).

The gradient is analytic: with ``w = softmax(theta[x] + vartheta[:, s'])`` (the posterior over the
``d`` latent components) and ``r = sigmoid(z) - y``::

    d loss / d theta[x]          = r * (w - phi(x)),
    d loss / d vartheta[:, s']   = r * w.

Parameters are fitted by L-BFGS-B (scipy) with box bounds, warm-started from the previous fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.linalg import subspace_angles
from scipy.optimize import minimize
from scipy.special import expit, log_expit, logsumexp

from .._validation import as_float_array, check_positive_int, check_stochastic

__all__ = ["ContrastiveFit", "ContrastiveLearner", "contrastive_loss", "feature_angle"]

#: |theta| bound: softmax features closer than e^-40 to a vertex are numerically a vertex anyway;
#: bounding keeps L-BFGS-B from drifting along the flat directions towards infinity.
THETA_BOUND = 20.0
#: Lower bound on vartheta: ratios below e^-20 ~ 2e-9 are numerically zero transitions.
LOG_RATIO_FLOOR = -20.0


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
        raise ValueError(f"label[{bad}] = {label[bad]!r} is not 0 or 1")
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
        L-BFGS-B iterations of this fit.
    converged : bool
        Whether L-BFGS-B reported convergence (rather than the iteration cap).
    """

    phi: np.ndarray
    psi: np.ndarray
    negative_dist: np.ndarray
    loss: float
    n_iterations: int
    converged: bool

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
        L-BFGS-B iteration cap per refit.
    ftol, gtol : float
        L-BFGS-B stopping tolerances on the MEAN loss (relative decrease per iteration; projected
        gradient), so they mean the same whatever the amount of data.
    init_scale : float
        Standard deviation of the random initial ``theta`` (breaks the symmetry between the ``d``
        components; with equal logits every component would get the same gradient).
    learn_features : bool
        ``False`` freezes ``phi`` at its random initialisation and fits ``psi`` only (the
        random-features ablation).
    seed : None, int, SeedSequence or Generator
        Initial parameters.

    Notes
    -----
    The ratio class is bounded: ``psi_i(s') <= 1 / P^-(s')``, which every true ratio satisfies
    (``P(s'|x) <= 1``), and ``psi_i(s') >= exp(-20)``. Without the upper bound a next state seen
    only as a positive would send its ``psi`` to infinity (the loss keeps decreasing).
    Data are stored deduplicated, one weight per distinct ``(h, x, s', y)``: a refit costs
    ``O(distinct triples * d)`` per L-BFGS-B iteration, not ``O(samples)``.
    """

    def __init__(self, H: int, n_anchors: int, S: int, d: int, negative_dist, *, n_negatives: int = 1,
                 max_iter: int = 200, ftol: float = 1e-9, gtol: float = 1e-6, init_scale: float = 1.0,
                 learn_features: bool = True, seed=None):
        self.H, self.n_anchors, self.S, self.d = (check_positive_int(n, v) for n, v in
                                                  (("H", H), ("n_anchors", n_anchors), ("S", S), ("d", d)))
        neg = as_float_array("negative_dist", negative_dist, ndim=(1, 2))
        neg = np.broadcast_to(neg, (self.H, self.S)).copy() if neg.ndim == 1 or neg.shape[0] == 1 else neg
        if neg.shape != (self.H, self.S):
            raise ValueError(f"negative_dist must have shape (S,) = ({self.S},) or (H, S) = ({self.H}, {self.S}), "
                             f"got {neg.shape}")
        check_stochastic("negative_dist", neg, ("h", "s'"))
        if np.any(neg <= 0):
            h, s = np.unravel_index(int(np.argmax(neg <= 0)), neg.shape)
            raise ValueError(f"negative_dist[h={h}, s'={s}] = {float(neg[h, s])!r} must be > 0 (full support)")
        self.negative_dist = neg
        self.log_m = float(np.log(check_positive_int("n_negatives", n_negatives)))
        self.max_iter = check_positive_int("max_iter", max_iter)
        self.ftol, self.gtol = float(ftol), float(gtol)
        rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
        theta = init_scale * rng.standard_normal((self.H, self.n_anchors, self.d))
        vartheta = np.zeros((self.H, self.d, self.S))  # ratio 1 everywhere: P_hat = P^- at the start
        self._params = np.concatenate([theta.ravel(), vartheta.ravel()])
        n_theta = theta.size
        lower = np.empty_like(self._params)
        upper = np.empty_like(self._params)
        if learn_features:
            lower[:n_theta], upper[:n_theta] = -THETA_BOUND, THETA_BOUND
        else:  # equal bounds freeze the features at their random initialisation
            lower[:n_theta] = upper[:n_theta] = theta.ravel()
        lower[n_theta:] = LOG_RATIO_FLOOR
        upper[n_theta:] = np.broadcast_to(-np.log(neg)[:, None, :], vartheta.shape).ravel()
        self._bounds = np.column_stack([lower, upper])
        self._index: dict[int, int] = {}
        self._keys: list[int] = []
        self._weights: list[float] = []

    @property
    def n_samples(self) -> float:
        """Total weight of the stored data (number of samples when every weight is 1)."""
        return float(np.sum(self._weights))

    def add(self, stage, anchor, next_state, label, weight=1.0) -> None:
        """Store labelled triples (arrays broadcast together; ``label`` in {0, 1}).

        Parameters
        ----------
        stage, anchor, next_state : int or array_like of int
        label : int or array_like of int
        weight : float or array_like
            Positive weights (default 1 per sample).
        """
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
        keys = ((stage.astype(np.int64) * self.n_anchors + anchor) * self.S + next_state) * 2 + label
        for key, w in zip(keys.ravel().tolist(), weight.ravel().tolist()):
            i = self._index.get(key)
            if i is None:
                self._index[key] = len(self._keys)
                self._keys.append(key)
                self._weights.append(w)
            else:
                self._weights[i] += w

    def _data(self):
        keys = np.asarray(self._keys, dtype=np.int64)
        label = (keys % 2).astype(np.float64)
        rest = keys // 2
        next_state = rest % self.S
        rest //= self.S
        return rest // self.n_anchors, rest % self.n_anchors, next_state, label, np.asarray(self._weights)

    def fit(self) -> ContrastiveFit:
        """Minimise the loss on all stored data, starting from the previous solution.

        Returns
        -------
        ContrastiveFit
        """
        if not self._keys:
            raise ValueError("no data: add() labelled transitions before fit()")
        stage, anchor, next_state, label, weight = self._data()
        shape = (self.H, self.n_anchors, self.S, self.d)
        total_weight = weight.sum()
        # Only parameters that touch the data move the loss: theta rows of seen anchors and
        # vartheta columns of seen next states. Optimising over them alone gives the same fit
        # (the others have zero gradient) at a per-iteration cost that follows the data size.
        d = self.d
        theta_rows = np.unique(stage * self.n_anchors + anchor)
        theta_idx = (theta_rows[:, None] * d + np.arange(d)).ravel()
        h_seen, s_seen = np.divmod(np.unique(stage * self.S + next_state), self.S)
        n_theta = self.H * self.n_anchors * d
        vartheta_idx = (n_theta + (h_seen[:, None] * d + np.arange(d)) * self.S + s_seen[:, None]).ravel()
        active = np.concatenate([theta_idx, vartheta_idx])
        full = self._params.copy()
        grad = np.empty_like(full)  # one buffer for every evaluation of this fit

        def mean_loss(x):  # the mean, so the tolerances do not depend on the amount of data
            full[active] = x
            value, g = _loss_and_grad(full, stage, anchor, next_state, label, weight, shape, self.log_m, grad)
            return value / total_weight, g[active] / total_weight

        res = minimize(mean_loss, full[active], jac=True, method="L-BFGS-B", bounds=self._bounds[active],
                       options={"maxiter": self.max_iter, "ftol": self.ftol, "gtol": self.gtol})
        full[active] = res.x
        self._params = full
        return self.current(loss=float(res.fun), n_iterations=int(res.nit), converged=bool(res.success))

    def current(self, *, loss: float = float("nan"), n_iterations: int = 0,
                converged: bool = False) -> ContrastiveFit:
        """The factors at the current parameters (the initial ones before any fit)."""
        theta, vartheta = _unpack(self._params, self.H, self.n_anchors, self.S, self.d)
        phi = np.exp(theta - logsumexp(theta, axis=2, keepdims=True))
        return ContrastiveFit(phi, np.exp(vartheta), self.negative_dist, loss, n_iterations, converged)


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
