"""UCRL-RFE: Hoeffding-style reward-free exploration for linear mixture MDPs (horizon-dependent baseline).

Zhang, Zhou & Gu, "Reward-Free Model-Based Reinforcement Learning with Linear Function
Approximation", NeurIPS 2021 (arXiv:2110.06394); thesis Alg. 2 with PLAN (Alg. 1) and Thm 2.4.3
(``K = O~(H^5 d^2 eps^-2)`` for per-step rewards in [0, 1]).

Exploration, episode k = 1..K (pseudocode of :func:`explore`)::

    g(s, a)   = max_{f in {0,1}^S} ||psi_f(s, a)||_{Sigma^-1}            # exact vertex enumeration
    r_h(s, a) = min{1, (2 beta / H) (H - h) g(s, a)}                    # h = 1..H (paper indexing)
    pi_k      = PLAN(theta_k, Sigma, r, beta): greedy on
                Q_h = clip_[0,H](r_h + <psi_{V_{h+1}}, theta_k> + beta ||psi_{V_{h+1}}||_{Sigma^-1})
    roll out pi_k; at step h add psi_{u_h}(s_h, a_h) to Sigma (Sherman-Morrison) and
        psi_{u_h}(s_h, a_h) u_h(s_{h+1}) to b, where u_h = (H - h) f* is the maximiser above
    theta_{k+1} = Sigma^-1 b

The maximisation over ``f : S -> [0, H - h]`` is a convex maximisation over a box, attained at a
vertex (thesis Remark 2.4.2), enumerated exactly here.

Planning: PLAN on the normalised reward. The paper plans per-step rewards in [0, 1] with values
clipped to [0, H]; dividing rewards and values by H gives exactly the same recursion with clipping
to [0, 1] and the same ``beta`` (``psi`` is linear in ``V``), so normalised rewards are planned
as ``clip_[0,1](r + <psi_V, theta> + beta ||psi_V||)`` and the policy is greedy on it. The
certificate is optimistic minus pessimistic value on the ellipsoid ``||theta - theta_K||_Sigma <= beta``
(Lemma 2.8.1's argument), as for HF-UCRL-RFE++.

Practical note: ``beta = H sqrt(d log2(3 (1 + K H^3 B^2) / delta)) + 1`` grows linearly in ``H``;
with ``beta_scale = 1`` the exploration reward is 1 everywhere for a long time.
"""

from __future__ import annotations

import numpy as np

from ..linear import Exploration, LinearMixtureMDP
from . import _linear_kernels as kern
from .._validation import check_output_size
from .hf_rfe import (_check_checkpoints, _check_common, _seed_sequence, check_radius_finite, check_record,
                     environment_tables)


def theoretical_radius(d: int, H: int, K: int, B: float, delta: float) -> float:
    """``beta = H sqrt(d log(3 (1 + K H^3 B^2) / delta)) + 1`` (Thm 2.4.3; log base 2 as in the thesis)."""
    return float(H * np.sqrt(d * np.log2(3 * (1 + K * H ** 3 * B ** 2) / delta)) + 1)


def explore(lmdp: LinearMixtureMDP, *, K: int, seed, delta: float = 0.05, beta_scale: float = 1.0,
            checkpoints=(), record: bool = False) -> Exploration:
    """Run UCRL-RFE's exploration phase for ``K`` episodes.

    Parameters
    ----------
    lmdp : LinearMixtureMDP
    K : int
    seed : int, SeedSequence or None
    delta : float
    beta_scale : float
        Multiplier of the theoretical ``beta`` (exploration reward, PLAN bonus, ellipsoid), recorded.
    checkpoints : sequence of int
        As in :func:`mdpkit.algorithms.hf_rfe.explore`.
    record : bool
        Also record, per episode (every other output bit-identical): PLAN's values ``V``
        (K, H + 1, S) (paper units) and ``policy`` (K, H, S), the uncapped ``uncertainty_norms``
        ``max_f ||psi_f||_{Sigma^-1}`` (K, S, A) and their ``vertices`` (K, S, A), and the
        regression state at the *end* of every episode: ``theta_after``, ``b_after`` (K, d),
        ``gram_after``, ``inverse_gram_after`` (K, d, d).

    Returns
    -------
    Exploration
        ``diagnostics``: ``exploration_value`` (``mu0 @ V_1`` of PLAN on the exploration reward,
        in paper units ``[0, H]``), ``covered`` (``||theta_k - theta*||_Sigma <= beta_scale beta``),
        ``error_ratio`` (that distance over the radius), ``states``, ``actions``.
    """
    K, delta, beta_scale = _check_common(lmdp, K, delta, beta_scale)
    S, A, d, H = lmdp.S, lmdp.A, lmdp.d, lmdp.H
    lam = lmdp.B ** -2
    beta_theory = theoretical_radius(d, H, K, lmdp.B, delta)
    beta = check_radius_finite(beta_scale, beta_theory, delta)
    hyper = {"delta": delta, "beta_scale": beta_scale, "beta_theory": beta_theory, "beta_used": beta,
             "lam": lam, "B": lmdp.B, "log_base": 2, "planner": "optimistic (PLAN)"}

    gram = lam * np.eye(d)
    inv = np.eye(d) / lam
    b = np.zeros(d)
    theta = np.zeros(d)
    gram_frozen, inv_frozen = gram.copy(), inv.copy()
    cum_P, cum_mu0 = environment_tables(lmdp)
    phi = np.ascontiguousarray(lmdp.phi)
    theta_star = np.asarray(lmdp.theta)  # audit-only diagnostics
    ss = _seed_sequence(seed)
    rng = np.random.default_rng(ss)

    diag = {"exploration_value": np.empty(K), "covered": np.empty(K, dtype=bool), "error_ratio": np.empty(K),
            "states": np.empty((K, H + 1), dtype=np.int64), "actions": np.empty((K, H), dtype=np.int64)}
    record = check_record(record)
    if record:
        check_output_size("K", K, 8.0 * K * (2 * H * S + 2 * S * A + 2 * d * (1 + d)),
                          "the recorded per-episode regression state")
        diag.update(V=np.empty((K, H + 1, S)), policy=np.empty((K, H, S), dtype=np.int64),
                    uncertainty_norms=np.empty((K, S, A)), vertices=np.empty((K, S, A), dtype=np.int64),
                    theta_after=np.empty((K, d)), b_after=np.empty((K, d)), gram_after=np.empty((K, d, d)),
                    inverse_gram_after=np.empty((K, d, d)))
    norms, vertices = np.empty((S, A)), np.empty((S, A), dtype=np.int64)
    V, policy = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    remaining = (H - np.arange(1, H + 1))[:, None, None].astype(np.float64)  # H - h for paper stages h = 1..H

    keep = _check_checkpoints(checkpoints, K)
    snapshots = []

    def snapshot(k_done):
        return Exploration(
            algorithm="ucrl_rfe", lmdp=lmdp, K=k_done, seed=ss.entropy, hyper=dict(hyper),
            diagnostics={key: value[:k_done].copy() for key, value in diag.items()},
            plan_theta=theta.copy(), centres=theta[None].copy(), inverse_grams=inv_frozen[None].copy(),
            grams=gram_frozen[None].copy(), radius=beta, planner="optimistic",
            checkpoints=tuple(snapshots) if k_done == K else (),
        )

    for k in range(K):
        err = theta - theta_star
        dist = np.sqrt(max(err @ gram_frozen @ err, 0.0))
        diag["covered"][k] = bool(dist <= beta)
        with np.errstate(over="ignore"):  # a tiny beta_scale: the ratio is +inf, correctly
            diag["error_ratio"][k] = dist / beta

        kern.max_vertex_norms(phi, inv_frozen, norms, vertices)
        reward = np.minimum(1.0, (2.0 * beta / H) * remaining * norms[None])
        kern.optimistic_dp(phi, reward, theta, inv_frozen, beta, float(H), V, policy)
        diag["exploration_value"][k] = float(lmdp.mu0 @ V[0])

        kern.ucrl_episode(phi, cum_P, cum_mu0, rng.random(H + 1), policy, vertices, inv, gram, b,
                          diag["states"][k], diag["actions"][k])
        gram_frozen[:] = gram
        inv_frozen[:] = inv
        theta = inv_frozen @ b
        if record:
            for key, value in (("V", V), ("policy", policy), ("uncertainty_norms", norms), ("vertices", vertices),
                               ("theta_after", theta), ("b_after", b), ("gram_after", gram_frozen),
                               ("inverse_gram_after", inv_frozen)):
                diag[key][k] = value
        if k + 1 in keep and k + 1 < K:
            snapshots.append(snapshot(k + 1))

    return snapshot(K)
