"""Plain-numpy audits of HF-UCRL-RFE++ and UCRL-RFE runs, for the lemma-level claims of ``hf_rfe``.

Shares no code with ``mdpkit.algorithms`` (nor with ``mdpkit.linear``'s planner): the
hyper-parameters are re-derived from Thm 2.6.3 / Thm 2.4.3 as written in docs/papers/hf_rfe.md,
value features are ``numpy.einsum`` over ``phi``, vertex maxima are enumerated with numpy, and
every regression step is replayed with ``numpy.linalg`` instead of Sherman-Morrison updates. An
episode is replayed from the regression state the run *recorded* at the end of the previous
episode (``explore(..., record=True)``), so each comparison is a one-step identity: rounding does
not accumulate over episodes, and a wrong update shows up in the episode where it happens.

Every audit returns ``{name: discrepancy}``: the largest violation of one identity over the run,
relative to the scale of the quantity (``|recorded - reference| / max(1, |reference|)``), 0 when the
run follows the pseudocode up to rounding.
"""

from __future__ import annotations

import math

import numpy as np

#: Identities of an HF-UCRL-RFE++ run, in the order of :func:`audit_hf_run`'s output.
HF_IDENTITIES = ("hyper", "beta_k", "uncertainty_norms", "vertex_maximal", "oracle_values", "policy_maximal",
                 "rollout_follows_policy", "sigma2", "sigma2_range", "gram_update", "b_update", "theta_solves",
                 "inverse_is_inverse", "uncertainty_monotone", "audit_diagnostics", "returned_state")
#: Identities of a UCRL-RFE run.
UCRL_IDENTITIES = ("hyper", "uncertainty_norms", "vertex_maximal", "oracle_values", "policy_maximal",
                   "rollout_follows_policy", "gram_update", "b_update", "theta_solves", "inverse_is_inverse",
                   "uncertainty_monotone", "audit_diagnostics", "returned_state")
#: Relative width within which the oracle counts tied maximisers (``first_step_ties``), as documented
#: in mdpkit/algorithms/hf_rfe.py.
TIE_RTOL = 1e-12
#: Two backups within this relative distance are tied (numba's reassociated sums vs numpy's).
TIE_TOLERANCE = 1e-9


# ============================================================================ hyper-parameters
def hf_hyper(d: int, H: int, K: int, B: float, delta: float, beta_scale: float) -> dict:
    """Thm 2.6.3 (logs base 2): ``M = ceil(log2(7 K H))``, ``alpha = H^-1/2``, ``gamma = d^-1/4``,
    ``lam = d / B^2`` and ``beta(k)`` (``beta_scale`` times the theorem's ``beta_k``)."""
    alpha, gamma, lam = H ** -0.5, d ** -0.25, d / B ** 2

    def beta(k):
        eta = math.log2(1 + k * H / (alpha ** 2 * d * lam))
        # log2(gamma^2 / alpha) is negative for H < d; the implementation floors it at 0 (documented).
        tau = math.log2(32 * (max(math.log2(gamma ** 2 / alpha), 0.0) + 1) * k ** 2 * H ** 2 / delta)
        return beta_scale * (12 * math.sqrt(d * eta * tau) + 30 * tau / gamma ** 2 + math.sqrt(lam) * B)

    return {"M": math.ceil(math.log2(7 * K * H)), "alpha": alpha, "gamma": gamma, "lam": lam, "beta": beta}


def ucrl_radius(d: int, H: int, K: int, B: float, delta: float, beta_scale: float) -> float:
    """Thm 2.4.3: ``beta = H sqrt(d log2(3 (1 + K H^3 B^2) / delta)) + 1``, times ``beta_scale``."""
    return beta_scale * (H * math.sqrt(d * math.log2(3 * (1 + K * H ** 3 * B ** 2) / delta)) + 1)


def self_normalised_radius(gram: np.ndarray, lam: float, B: float, noise: float, delta: float) -> np.ndarray:
    """Abbasi-Yadkori, Pal & Szepesvari (2011, Thm 2) radius for ridge estimates with Gram ``gram``.

    ``noise sqrt(2 ln(det(Sigma)^1/2 det(lam I)^-1/2 / delta)) + sqrt(lam) B``: with probability at
    least ``1 - delta``, at every time, ``||theta_hat - theta*||_Sigma`` is at most this, when the
    responses' noise is conditionally ``noise``-sub-Gaussian given predictable features.

    Parameters
    ----------
    gram : ndarray, shape (..., d, d)
    """
    d = gram.shape[-1]
    sign, logdet = np.linalg.slogdet(gram)
    log_ratio = 0.5 * (np.where(sign > 0, logdet, np.inf) - d * math.log(lam))
    return noise * np.sqrt(2.0 * (log_ratio + math.log(1.0 / delta))) + math.sqrt(lam) * B


# ============================================================================ numpy building blocks
def _rel(recorded, reference) -> float:
    """``max |recorded - reference| / max(1, max |reference|)``; inf on a shape mismatch or NaN."""
    recorded, reference = np.asarray(recorded, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if recorded.shape != reference.shape:
        return math.inf
    if recorded.size == 0:
        return 0.0
    out = float(np.max(np.abs(recorded - reference)) / max(1.0, float(np.max(np.abs(reference)))))
    return out if np.isfinite(out) else math.inf


def _cube(S: int) -> np.ndarray:
    """All vertices of ``{0, 1}^S``, shape (2^S, S); row ``v`` has ``f(t) = bit t of v``."""
    return ((np.arange(2 ** S)[:, None] >> np.arange(S)[None, :]) & 1).astype(np.float64)


def _vertex_quadratics(phi: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """``||psi_f(s, a)||^2_inv`` for every vertex ``f``, shape (2^S, S, A)."""
    psi = np.einsum("vt,satd->vsad", _cube(phi.shape[0]), phi)
    return np.einsum("vsad,de,vsae->vsa", psi, inv, psi)


def _norm(inv: np.ndarray, x: np.ndarray) -> float:
    q = float(x @ inv @ x)
    return math.sqrt(q) if q > 0 else 0.0


class _Worst(dict):
    """Running maxima of the named discrepancies."""

    def update_max(self, name, value):
        self[name] = max(self.get(name, 0.0), float(value) if np.isfinite(value) else math.inf)


def _oracle_checks(worst, values, backups, policy_rec, states, actions):
    """Values and policy of a backward recursion: recorded vs the numpy backups."""
    best = backups.max(axis=-1)  # (H, S)
    chosen = np.take_along_axis(backups, policy_rec[..., None], axis=-1)[..., 0]
    worst.update_max("policy_maximal", float(np.max((best - chosen) / np.maximum(1.0, np.abs(best)))) - TIE_TOLERANCE
                     if best.size else 0.0)
    H = policy_rec.shape[0]
    followed = all(actions[h] == policy_rec[h, states[h]] for h in range(H))
    worst.update_max("rollout_follows_policy", 0.0 if followed else math.inf)
    return values


def _vertex_checks(worst, phi, inv, norms_rec, vertices_rec):
    quad = _vertex_quadratics(phi, inv)  # (V, S, A)
    best = quad.max(axis=0)
    norms = np.sqrt(np.maximum(best, 0.0))
    worst.update_max("uncertainty_norms", _rel(norms_rec, norms))
    at_vertex = np.take_along_axis(quad, vertices_rec[None], axis=0)[0]
    worst.update_max("vertex_maximal", float(np.max((best - at_vertex) / np.maximum(1.0, best))) - TIE_TOLERANCE)
    return norms


def _final_checks(worst, gram_rec, b_rec, theta_rec, inv_rec, gram_ref, b_ref):
    worst.update_max("gram_update", _rel(gram_rec, gram_ref))
    worst.update_max("b_update", _rel(b_rec, b_ref))
    worst.update_max("theta_solves", _rel(theta_rec, np.linalg.solve(gram_rec, b_rec[..., None])[..., 0]))
    eye = np.broadcast_to(np.eye(gram_rec.shape[-1]), gram_rec.shape)
    worst.update_max("inverse_is_inverse", _rel(inv_rec @ gram_rec, eye))


def _mismatch(recorded, reference) -> float:
    """0 if two arrays of flags / counts are equal, inf otherwise."""
    recorded, reference = np.asarray(recorded), np.asarray(reference)
    return 0.0 if recorded.shape == reference.shape and np.array_equal(recorded, reference) else math.inf


# ============================================================================ HF-UCRL-RFE++
def audit_hf_run(lmdp, run, *, delta: float, beta_scale: float) -> dict:
    """Replay every episode of an ``hf_rfe.explore(..., record=True)`` run in numpy.

    Checks, per episode (names of :data:`HF_IDENTITIES`): the hyper-parameters of Thm 2.6.3
    (``hyper``: M, alpha, gamma, lambda, the radius used) and the episode's ``beta_k``; the oracle's
    uncapped uncertainty ``max_f ||psi_f||_{tilde Sigma^-1}`` and that the recorded vertex attains it;
    the oracle's values ``V_hat`` (the recursion ``min{1, u + <psi_V, theta_hat> + 2 beta ||psi_V||}``
    with ``u = 0`` at the last stage) and that its policy is a maximiser of the backups; that the
    roll-out played that policy; the HOME weights of thesis Alg. 5 at every step, family and level
    (``sigma2``) and their admissible range ``alpha^2 <= sigma^2 <= max(gamma^2 ||x||, 3)``
    (``sigma2_range``); the Gram matrices and ``b`` after the episode's weighted updates; that the
    estimate solves ``Sigma theta = b`` and the maintained inverse is the inverse; and that the
    uncertainty never grows from one episode to the next (more data, smaller ellipsoids). Also the
    audit-only diagnostics (``audit_diagnostics``: ``covered``, ``error_ratio`` against theta*,
    ``oracle_value = mu0 @ V_hat[0]``, ``first_step_ties``) and the returned exploration
    (``returned_state``: plan in the tilde level-0 estimate, hat and tilde level-0 ellipsoids of
    radius ``beta_scale beta_K``).

    Returns
    -------
    dict
        ``{name: discrepancy}`` over :data:`HF_IDENTITIES` (relative; 0 up to rounding).
    """
    diag = run.diagnostics
    phi = np.asarray(lmdp.phi)
    S, A, _, d = phi.shape
    H, K = lmdp.H, run.K
    hp = hf_hyper(d, H, K, lmdp.B, delta, beta_scale)
    M, alpha, gamma, lam = hp["M"], hp["alpha"], hp["gamma"], hp["lam"]
    beta_plan = hp["beta"](K)
    worst = _Worst()
    hyper = run.hyper
    worst.update_max("hyper", max(_rel(hyper["n_moments"], M), _rel(hyper["alpha"], alpha), _rel(hyper["gamma"], gamma),
                                  _rel(hyper["lam"], lam), _rel(hyper["beta_used"], beta_plan)))
    if hyper["n_moments"] != M or diag["theta_after"].shape[2] != M:
        return {name: worst.get(name, math.inf) for name in HF_IDENTITIES}
    theta = np.zeros((2, M, d))
    gram = np.broadcast_to(lam * np.eye(d), (2, M, d, d)).copy()
    inv = np.broadcast_to(np.eye(d) / lam, (2, M, d, d)).copy()
    b = np.zeros((2, M, d))
    cube = _cube(S)
    theta_star = np.asarray(_true_theta(lmdp))
    previous_norms = None
    for k in range(K):
        beta_k = hp["beta"](k + 1)
        worst.update_max("beta_k", _rel(diag["beta_k"][k], beta_k))
        err = theta - theta_star
        dist2 = np.einsum("fmi,fmij,fmj->fm", err, gram, err)
        worst.update_max("audit_diagnostics", max(
            _mismatch(diag["covered"][k], bool(np.all(dist2 <= beta_k ** 2))),
            _rel(diag["error_ratio"][k], math.sqrt(max(dist2[0, 0], 0.0)) / beta_k)))
        # Oracle, from the state at the start of the episode.
        norms = _vertex_checks(worst, phi, inv[1, 0], diag["uncertainty_norms"][k], diag["vertices"][k])
        if previous_norms is not None:
            worst.update_max("uncertainty_monotone", float(np.max((norms - previous_norms) / np.maximum(1.0, previous_norms))))
        previous_norms = norms
        u = np.minimum(1.0, beta_plan * norms)
        V = np.zeros((H + 1, S))
        backups = np.empty((H, S, A))
        V_rec = diag["V_hat"][k]
        for h in range(H - 1, -1, -1):
            psi = np.einsum("satd,t->sad", phi, V_rec[h + 1])
            quad = np.einsum("sad,de,sae->sa", psi, inv[0, 0], psi)
            backups[h] = psi @ theta[0, 0] + 2.0 * beta_plan * np.sqrt(np.maximum(quad, 0.0)) + (u if h < H - 1 else 0.0)
            V[h] = np.clip(backups[h].max(axis=1), 0.0, 1.0)
        worst.update_max("oracle_values", _rel(V_rec, V))
        states, actions = diag["states"][k], diag["actions"][k]
        _oracle_checks(worst, V, backups, diag["policy"][k], states, actions)
        first = backups[0, states[0]]
        ties = int(np.sum(first >= first.max() - TIE_RTOL * max(1.0, abs(first.max()))))
        worst.update_max("audit_diagnostics", max(_rel(diag["oracle_value"][k], lmdp.mu0 @ V[0]),
                                                  _mismatch(diag["first_step_ties"][k], ties)))
        # Weighted VTR with HOME weights, step by step (weights from the matrices before the step).
        gram_run, b_run = gram.copy(), b.copy()
        sigma2_rec = diag["sigma2"][k]
        for h in range(H - 1):
            s, a, s_next = states[h], actions[h], states[h + 1]
            targets = (V_rec[h + 1], cube[diag["vertices"][k][s, a]])
            for fam in range(2):
                power = np.array(targets[fam], dtype=np.float64)
                X, y = np.empty((M, d)), np.empty(M)
                for m in range(M):
                    X[m] = phi[s, a].T @ power
                    y[m] = power[s_next]
                    power = power * power
                frozen_norms = [_norm(inv[fam, m], X[m]) for m in range(M)]
                sigma2 = np.empty(M)
                for m in range(M):
                    epistemic = gamma ** 2 * _norm(np.linalg.inv(gram_run[fam, m]), X[m])
                    if m < M - 1:
                        first = min(1.0, max(0.0, float(X[m] @ theta[fam, m])))
                        second = min(1.0, max(0.0, float(X[m + 1] @ theta[fam, m + 1])))
                        error = min(1.0, 2.0 * beta_k * frozen_norms[m]) + min(1.0, beta_k * frozen_norms[m + 1])
                        aleatoric = second - first ** 2 + error
                    else:
                        aleatoric = 1.0
                    sigma2[m] = max(epistemic, aleatoric, alpha ** 2)
                    ceiling = max(epistemic, 3.0)
                    worst.update_max("sigma2_range", max(alpha ** 2 - sigma2_rec[h, fam, m],
                                                         sigma2_rec[h, fam, m] - ceiling) / max(1.0, ceiling))
                worst.update_max("sigma2", _rel(sigma2_rec[h, fam], sigma2))
                for m in range(M):
                    w = 1.0 / sigma2[m]
                    gram_run[fam, m] += w * np.outer(X[m], X[m])
                    b_run[fam, m] += w * y[m] * X[m]
        gram, b = diag["gram_after"][k], diag["b_after"][k]
        theta, inv = diag["theta_after"][k], diag["inverse_gram_after"][k]
        _final_checks(worst, gram, b, theta, inv, gram_run, b_run)
    worst.update_max("returned_state", max(
        _rel(run.plan_theta, theta[1, 0]), _rel(run.centres, theta[:, 0]), _rel(run.grams, gram[:, 0]),
        _rel(run.inverse_grams, inv[:, 0]), _rel(run.radius, beta_plan), _mismatch(run.planner, "plugin")))
    return {name: worst.get(name, 0.0) for name in HF_IDENTITIES}


def hf_coverage(lmdp, run, *, delta: float) -> dict:
    """``||theta_{f,m} - theta*||_{Sigma_{f,m}}`` over the self-normalised radius, every episode.

    Each of the ``2M`` regressions (family ``f``, level ``m``) is a weighted ridge regression
    with predictable weights ``1 / sigma^2 <= 1 / alpha^2`` and responses in ``[0, 1]`` whose mean
    is ``<x, theta*>``: after weighting, its noise is ``1 / (2 alpha)``-sub-Gaussian, so
    :func:`self_normalised_radius` at ``delta / (2M)`` covers all of them, at every episode, with
    probability ``>= 1 - delta``.

    Returns
    -------
    dict
        ``ratio`` (scalar): the largest ratio over episodes (state at the start of each episode)
        and regressions; ``ratio_per_episode`` (K,); ``algorithm_ratio`` (K,): the same distance
        for the hat level-0 regression over the algorithm's own radius ``beta_scale beta_k``.
    """
    diag = run.diagnostics
    d, H, K = lmdp.d, lmdp.H, run.K
    M = run.hyper["n_moments"]
    lam, alpha, B = d / lmdp.B ** 2, H ** -0.5, lmdp.B
    theta_star = np.asarray(_true_theta(lmdp))
    prior_gram = np.broadcast_to(lam * np.eye(d), (1, 2, M, d, d))
    grams = np.concatenate([prior_gram, diag["gram_after"][:-1]])  # state at the start of each episode
    thetas = np.concatenate([np.zeros((1, 2, M, d)), diag["theta_after"][:-1]])
    err = thetas - theta_star
    dist = np.sqrt(np.maximum(np.einsum("kfmi,kfmij,kfmj->kfm", err, grams, err), 0.0))
    radius = self_normalised_radius(grams, lam, B, 0.5 / alpha, delta / (2 * M))
    per_episode = (dist / radius).max(axis=(1, 2))
    return {"ratio": np.array(per_episode.max()), "ratio_per_episode": per_episode,
            "algorithm_ratio": dist[:, 0, 0] / diag["beta_k"]}


# ============================================================================ UCRL-RFE
def audit_ucrl_run(lmdp, run, *, delta: float, beta_scale: float) -> dict:
    """Replay every episode of a ``ucrl_rfe.explore(..., record=True)`` run in numpy.

    Checks (names of :data:`UCRL_IDENTITIES`): ``lambda = B^-2`` and the radius of Thm 2.4.3;
    the exploration reward's uncertainty ``max_f ||psi_f||_{Sigma^-1}`` and its vertex; PLAN's
    values ``clip_[0,H](r + <psi_V, theta> + beta ||psi_V||)`` with
    ``r_h = min{1, (2 beta / H)(H - h) g}`` and that its policy maximises the backups; the roll-out;
    the unit-weight ridge updates with target ``(H - h) f``; ``Sigma theta = b``; the inverse; and
    that the uncertainty never grows; the audit-only diagnostics (``covered``, ``error_ratio``,
    ``exploration_value``) and the returned exploration (plan and ellipsoid at the last estimate,
    radius ``beta``, optimistic planner).
    """
    diag = run.diagnostics
    phi = np.asarray(lmdp.phi)
    S, A, _, d = phi.shape
    H, K = lmdp.H, run.K
    lam = lmdp.B ** -2
    beta = ucrl_radius(d, H, K, lmdp.B, delta, beta_scale)
    worst = _Worst()
    worst.update_max("hyper", max(_rel(run.hyper["lam"], lam), _rel(run.hyper["beta_used"], beta)))
    theta, gram, inv, b = np.zeros(d), lam * np.eye(d), np.eye(d) / lam, np.zeros(d)
    cube = _cube(S)
    remaining = H - 1 - np.arange(H)  # H - h in the paper's stages h = 1..H
    theta_star = np.asarray(_true_theta(lmdp))
    previous_norms = None
    for k in range(K):
        dist = math.sqrt(max(float((theta - theta_star) @ gram @ (theta - theta_star)), 0.0))
        worst.update_max("audit_diagnostics", max(_mismatch(diag["covered"][k], dist <= beta),
                                                  _rel(diag["error_ratio"][k], dist / beta)))
        norms = _vertex_checks(worst, phi, inv, diag["uncertainty_norms"][k], diag["vertices"][k])
        if previous_norms is not None:
            worst.update_max("uncertainty_monotone", float(np.max((norms - previous_norms) / np.maximum(1.0, previous_norms))))
        previous_norms = norms
        V_rec = diag["V"][k]
        V = np.zeros((H + 1, S))
        backups = np.empty((H, S, A))
        for h in range(H - 1, -1, -1):
            reward = np.minimum(1.0, (2.0 * beta / H) * remaining[h] * norms)
            psi = np.einsum("satd,t->sad", phi, V_rec[h + 1])
            quad = np.einsum("sad,de,sae->sa", psi, inv, psi)
            backups[h] = reward + psi @ theta + beta * np.sqrt(np.maximum(quad, 0.0))
            V[h] = np.clip(backups[h].max(axis=1), 0.0, float(H))
        worst.update_max("oracle_values", _rel(V_rec, V))
        worst.update_max("audit_diagnostics", _rel(diag["exploration_value"][k], lmdp.mu0 @ V[0]))
        states, actions = diag["states"][k], diag["actions"][k]
        _oracle_checks(worst, V, backups, diag["policy"][k], states, actions)
        gram_run, b_run = gram.copy(), b.copy()
        for h in range(H):
            if remaining[h] <= 0:
                continue
            s, a, s_next = states[h], actions[h], states[h + 1]
            target = remaining[h] * cube[diag["vertices"][k][s, a]]
            x = phi[s, a].T @ target
            gram_run += np.outer(x, x)
            b_run += target[s_next] * x
        gram, b = diag["gram_after"][k], diag["b_after"][k]
        theta, inv = diag["theta_after"][k], diag["inverse_gram_after"][k]
        _final_checks(worst, gram, b, theta, inv, gram_run, b_run)
    worst.update_max("returned_state", max(
        _rel(run.plan_theta, theta), _rel(run.centres, theta[None]), _rel(run.grams, gram[None]),
        _rel(run.inverse_grams, inv[None]), _rel(run.radius, beta), _mismatch(run.planner, "optimistic")))
    return {name: worst.get(name, 0.0) for name in UCRL_IDENTITIES}


def ucrl_coverage(lmdp, run, *, delta: float) -> dict:
    """As :func:`hf_coverage` for UCRL-RFE's single unit-weight regression (responses in
    ``[0, H - 1]``: ``(H - 1) / 2``-sub-Gaussian noise), at ``delta``; ``algorithm_ratio`` is the
    distance over UCRL-RFE's own radius (Thm 2.4.3)."""
    diag = run.diagnostics
    d, H, K = lmdp.d, lmdp.H, run.K
    lam, B = lmdp.B ** -2, lmdp.B
    theta_star = np.asarray(_true_theta(lmdp))
    grams = np.concatenate([lam * np.eye(d)[None], diag["gram_after"][:-1]])
    thetas = np.concatenate([np.zeros((1, d)), diag["theta_after"][:-1]])
    err = thetas - theta_star
    dist = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", err, grams, err), 0.0))
    radius = self_normalised_radius(grams, lam, B, 0.5 * max(H - 1, 1), delta)
    per_episode = dist / radius
    return {"ratio": np.array(per_episode.max()), "ratio_per_episode": per_episode,
            "algorithm_ratio": dist / run.hyper["beta_used"]}


def _true_theta(lmdp):
    """The validated ``theta*`` through the base class's accessor (a poisoned attribute cannot fool
    the audit). ``mdpkit.linear`` imports numba: imported here, not at module level."""
    from mdpkit.linear import LinearMixtureMDP

    return LinearMixtureMDP.theta.fget(lmdp)
