"""HF-UCRL-RFE++: horizon-free reward-free exploration for linear mixture MDPs.

Zhang, Zhang & Gu, "Optimal Horizon-Free Reward-Free Exploration for Linear Mixture MDPs",
ICML 2023 (arXiv:2303.10165); algorithm numbering of W. Zhang's thesis, Ch. 2 (Alg. 4 with the
high-order moment estimator HOME, Alg. 5; hyper-parameters of Thm 2.6.3). Rewards are
normalised: every trajectory collects at most 1, so all values lie in ``[0, 1]``.

Exploration, episode k = 1..K (pseudocode of :func:`explore`)::

    u(s, a)      = min{1, beta * max_{f in {0,1}^S} ||psi_f(s, a)||_{tilde Sigma_frozen[0]^-1}}   # relaxed oracle
    V_hat, pi_k  = greedy backward recursion of
                   min{1, u + <psi_{V_hat[h+1]}, theta_hat[0]> + 2 beta ||psi_{V_hat[h+1]}||_{hat Sigma_frozen[0]^-1}}
    roll out pi_k; at every step and every moment level m = 0..M-1:
        hat family:   feature psi_{V_hat[h+1]^(2^m)}(s_h, a_h), response V_hat[h+1](s_{h+1})^(2^m)
        tilde family: same with the maximising vertex f of (s_h, a_h)
        weight 1/sigma^2 from HOME; Sherman-Morrison update of the running Gram inverse
    freeze the Gram matrices; theta_{f, m} = Sigma_frozen^-1 b

Planning (:meth:`mdpkit.linear.Exploration.plan`): plug-in value iteration, values truncated to
``[0, 1]``, no bonus (thesis Sec. 2.6, planning phase), in the learned model ``theta_tilde[0]``;
certificate = optimistic minus pessimistic value over the final confidence ellipsoids.

Reconstructed: the planning model. The thesis plans in ``theta_K``, the oracle's ``theta`` of the
last episode (its analysis only uses ``theta_K in U_K``). Our relaxed oracle fixes that ``theta``
to ``theta_hat[0]``, the centre of the ellipsoid regressed on the uncertainty values ``V_hat``;
we plan instead in ``theta_tilde[0]``, the centre regressed on reward values (the vertex
functions ``f``), the targets planning evaluates. Both are centres of ellipsoids whose
intersection defines ``U_K``; neither is guaranteed to lie in the intersection.

Reconstructed: the joint oracle. The thesis's step 1 maximises ``V_hat_1(s_1; theta, pi, r)``
over every policy, every ``theta`` in the confidence set ``U_k`` and every reward ``r`` in the
class -- an intractable nested problem it assumes solved (Remark 2.6.2). Here:

1. ``theta`` is fixed to the centre ``theta_hat[0]`` of the hat level-0 ellipsoid (the ``2 beta``
   bonus already accounts for the ellipsoid's width);
2. the reward is chosen per visited ``(h, s, a)`` instead of once per episode: the pseudo value
   ``V_{h+1}(.; theta, pi, r)`` inside ``u`` is replaced by the vertex ``f in {0,1}^S`` maximising
   ``||psi_f(s, a)||``. Each vertex *is* ``V_{h+1}`` of a reward in the class (``r_{h+1} = f``,
   zero elsewhere), so ``u`` equals the per-pair maximum of the paper's ``u`` over rewards; the
   tilde regression's target at the visited pair is that vertex (as UCRL-RFE does);
3. the policy is the greedy policy of the backward recursion; it maximises ``V_hat`` when the
   recursion is monotone in ``V_hat[h+1]``, which the norm term does not guarantee.

Consequences: the thesis's certificate ``gap <= 4 V_hat_K`` (Lemma 2.8.7) needs the exact oracle,
so it is only recorded (``diagnostics["oracle_value"]``); :meth:`~mdpkit.linear.Exploration.plan`
returns a per-reward certificate that needs only ``theta*`` in the ellipsoids.

Practical note. The theoretical radius ``beta_K`` is in the thousands (d = 4, H = 10, K = 10^4:
about 3.2e3), so ``u = 1`` at every pair and ``V_hat = 1`` at every state until the Gram
matrices have eigenvalues of order ``beta^2`` -- far beyond any feasible ``K``: with
``beta_scale = 1`` exploration is *uninformed at feasible K*. Practical runs pass ``beta_scale``
(recorded in ``hyper``), e.g. ``beta_scale = 1e-2``.

Ties. Even with a practical radius the truncated objective is often flat: on the three-state
hard instance ``u = min{1, beta ||psi||} = 1`` at every first-step action for thousands of
episodes and the successor values are action-independent, so *every* action maximises the
relaxed oracle's objective (``diagnostics["first_step_ties"]`` counts them). Any maximiser is a
correct implementation of the relaxation; which one is played is ``tie_break``:

- ``"random"`` (default): a uniformly random maximiser (seeded, own stream). Reconstructed: the
  thesis assumes an exact oracle and says nothing on ties; a uniform choice is the neutral one.
- ``"uncertainty"``: the maximiser of largest *uncapped* uncertainty ``beta max_f ||psi_f||``
  (``min{1, .}`` is monotone, so it is a maximiser of the capped objective too).
- ``"lowest"``: the lowest action index (the first implementation's rule). It plays a single
  first-step action while the objective is saturated, which made the gap-vs-K and
  episodes-vs-d claims fail (see proofs_check/claims/hf_rfe.py).

Ties are decided within a relative ``1e-12`` of the maximum (``_linear_kernels.TIE_RTOL``):
mathematically equal backups computed in different orders differ by rounding only.
"""

from __future__ import annotations

import numpy as np

from .._validation import (
    check_episodes,
    check_instance,
    check_output_size,
    check_positive_int,
    check_real,
    check_seed,
    show,
)
from ..linear import MAX_ENUMERATED_STATES, Exploration, LinearMixtureMDP
from . import _linear_kernels as kern

HAT, TILDE = 0, 1
TIE_BREAKS = ("uncertainty", "random", "lowest")
_TIE_STREAM = 0x7E1E_B4EA  # spawn-key suffix of the tie-break stream (far above any spawn count)


def theoretical_hyperparameters(d: int, H: int, K: int, B: float, delta: float) -> dict:
    """Hyper-parameters of Thm 2.6.3 (logs base 2, as in the thesis).

    Returns
    -------
    dict
        ``n_moments = ceil(log2(7 K H))``, ``alpha = H^-1/2`` (weight floor),
        ``gamma = d^-1/4``, ``lam = d / B^2``, and ``beta_K`` (:func:`confidence_radius` at ``k = K``).
    """
    alpha = H ** -0.5
    gamma = d ** -0.25
    lam = d / B ** 2
    return {
        "n_moments": int(np.ceil(np.log2(7 * K * H))),
        "alpha": alpha,
        "gamma": gamma,
        "lam": lam,
        "beta_K": confidence_radius(K, d=d, H=H, B=B, delta=delta, lam=lam, alpha=alpha, gamma=gamma),
    }


def confidence_radius(k: int, *, d: int, H: int, B: float, delta: float, lam: float, alpha: float,
                      gamma: float) -> float:
    """``beta_k = 12 sqrt(d eta tau) + 30 tau / gamma^2 + sqrt(lam) B`` (Thm 2.6.3, logs base 2).

    ``eta = log(1 + k H / (alpha^2 d lam))``, ``tau = log(32 (log(gamma^2 / alpha) + 1) k^2 H^2 / delta)``.

    Reconstructed: ``log(gamma^2 / alpha)`` is negative when ``H < d`` (then ``gamma^2 < alpha``)
    and would make ``tau`` undefined for ``H < d / e^2``-ish; it is floored at 0 (Zhou & Gu's
    bound has the number of peeling levels there, which is at least 1).
    """
    eta = np.log2(1 + k * H / (alpha ** 2 * d * lam))
    peeling = max(np.log2(gamma ** 2 / alpha), 0.0) + 1
    tau = np.log2(32 * peeling * k ** 2 * H ** 2 / delta)
    return float(12 * np.sqrt(d * eta * tau) + 30 * tau / gamma ** 2 + np.sqrt(lam) * B)


def _check_common(lmdp, K, delta, beta_scale):
    check_instance("lmdp", lmdp, LinearMixtureMDP, "LinearMixtureMDP")
    # per episode: the diagnostics' values, states and actions
    K = check_episodes(K, 8.0 * (2 * lmdp.H + 6), "the per-episode diagnostics")
    delta = check_real("delta", delta)  # type and finiteness first; the range keeps its message
    if not 0 < delta < 1:
        raise ValueError(f"delta = {delta!r} must be in (0, 1)")
    beta_scale = check_real("beta_scale", beta_scale)
    if not beta_scale > 0:
        raise ValueError(f"beta_scale = {beta_scale!r} must be positive and finite")
    if lmdp.S > MAX_ENUMERATED_STATES:
        raise ValueError(f"lmdp has S = {lmdp.S} states; the exploration oracle enumerates the 2^S "
                         f"vertices of [0, 1]^S and supports S <= {MAX_ENUMERATED_STATES}")
    return K, delta, beta_scale


def check_radius_finite(beta_scale: float, beta_theory: float, delta: float) -> float:
    """``beta_scale * beta_theory``, raising if the product overflows (the radius would be inf)."""
    with np.errstate(over="ignore"):
        beta = beta_scale * beta_theory
    if not np.isfinite(beta):
        raise ValueError(f"beta_scale = {beta_scale!r} times the theoretical radius {float(beta_theory):.3g} "
                         f"at delta = {delta!r} overflows float64")
    return beta


def _seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` (non-negative int, SeedSequence, or None for fresh entropy) as a SeedSequence."""
    if seed is None:
        return np.random.SeedSequence()
    seed = check_seed(seed)
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def environment_tables(lmdp: LinearMixtureMDP) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true transition rows (S, A, S) and initial distribution (S,) for inverse-CDF sampling.

    The simulator's side of the information boundary: the only place the exploration reads the
    true kernel. It reads the validated kernel through the base class's accessor, so what is
    simulated cannot depend on a (subclass's) ``P`` attribute; the learner itself reads only
    ``phi``, ``mu0``, ``H`` and ``B``, and the audit-only diagnostics ``covered`` and
    ``error_ratio`` read ``lmdp.theta`` (checked by the claim ``hf_rfe.information_flow``: on a
    model whose ``theta``, ``P`` and ``R`` attributes lie, everything but those two diagnostics is
    bit-identical).
    """
    return np.cumsum(LinearMixtureMDP.P.fget(lmdp), axis=-1), np.cumsum(lmdp.mu0)


def explore(lmdp: LinearMixtureMDP, *, K: int, seed, delta: float = 0.05, beta_scale: float = 1.0,
            n_moments: int | None = None, weighted: bool = True, tie_break: str = "random",
            checkpoints=(), record: bool = False) -> Exploration:
    """Run HF-UCRL-RFE++'s exploration phase for ``K`` episodes.

    Parameters
    ----------
    lmdp : LinearMixtureMDP
        The environment. The learner reads ``phi``, ``mu0``, ``H`` and the bound ``B``; ``theta*``
        only drives the simulator and the audit-only diagnostics (``covered``, ``error_ratio``).
    K : int
        Number of episodes.
    seed : int, SeedSequence or None
        Root of all randomness (start states and transitions); same seed, bit-identical result.
    delta : float
        Confidence level of the radius ``beta_k`` (overall success probability ``1 - 4 M delta``).
    beta_scale : float
        Multiplier of the theoretical radius ``beta_k`` wherever it is used (bonuses, HOME's
        correction term, ellipsoids). ``1`` is the theory; see the module notes.
    n_moments : int, optional
        Number of moment levels ``M``; ``ceil(log2(7 K H))`` (theory) if omitted.
    weighted : bool
        False replaces every HOME weight by 1 (ordinary ridge VTR): the "unweighted regression"
        ablation, whose guarantee is horizon-dependent.
    tie_break : {"uncertainty", "random", "lowest"}
        Which of the oracle's tied maximisers is played (see the module notes): a uniformly random
        one (default; seeded from ``seed``, a stream separate from the transitions), the one of
        largest *uncapped* uncertainty ``beta max_f ||psi_f(s, a)||``, or the lowest index (the
        first implementation's rule, kept as an ablation). All three play a maximiser of the relaxed
        oracle's objective.
    checkpoints : sequence of int
        Episode counts ``k <= K`` at which to keep a plannable snapshot of this same run (in
        ``exploration.checkpoints``, increasing ``k``). A snapshot uses the hyper-parameters of
        the final ``K`` (``beta_K``, ``M``), so it is the anytime state of this run, not a run
        with budget ``k``.
    record : bool
        Also record, per episode, what the lemma-level claims audit (more diagnostics, same run:
        every other output is bit-identical): ``V_hat`` (K, H + 1, S) and ``policy`` (K, H, S) of
        the oracle, ``uncertainty_norms`` (K, S, A) (uncapped ``max_f ||psi_f||_{tilde Sigma^-1}``)
        and their maximising ``vertices`` (K, S, A), the HOME weights ``sigma2`` (K, H - 1, 2, M)
        of every regression step (family hat = 0, tilde = 1; levels whose target underflowed to 0
        included), the radius ``beta_k`` (K,) of the episode, and the regression state at the
        *end* of every episode: ``theta_after``, ``b_after`` (K, 2, M, d), ``gram_after``,
        ``inverse_gram_after`` (K, 2, M, d, d).

    Returns
    -------
    Exploration
        ``diagnostics`` (leading axis ``K``): ``oracle_value`` (``mu0 @ V_hat_k[0]``, the relaxed
        oracle's objective; thesis Lemma 2.8.7 bounds gaps by 4x its final value under the exact
        oracle), ``covered`` (``theta*`` in all ``2M`` frozen ellipsoids of radius
        ``beta_scale * beta_k`` at the start of the episode), ``error_ratio``
        (``||theta_hat[0] - theta*||_{hat Sigma_frozen[0]} / (beta_scale beta_k)``), ``states``
        (K, H + 1), ``actions`` (K, H) and ``first_step_ties`` (K,) (number of tied maximisers of
        the oracle at the episode's start state and stage 0).
    """
    K, delta, beta_scale = _check_common(lmdp, K, delta, beta_scale)
    if not isinstance(tie_break, str) or tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {show(tie_break)}")
    S, A, d, H = lmdp.S, lmdp.A, lmdp.d, lmdp.H
    hyper = theoretical_hyperparameters(d, H, K, lmdp.B, delta)
    M = hyper["n_moments"] if n_moments is None else check_positive_int("n_moments", n_moments)
    # six (2, M, d, d) regression arrays
    check_output_size("n_moments", M, 6 * 2 * 8.0 * M * d * d, f"the regression state of d = {d}")
    alpha, gamma, lam = hyper["alpha"], hyper["gamma"], hyper["lam"]
    beta = check_radius_finite(beta_scale, hyper["beta_K"], delta)  # beta := beta_K inside u and V_hat
    hyper.update(delta=delta, beta_scale=beta_scale, beta_used=beta, n_moments=M, weighted=bool(weighted),
                 B=lmdp.B, log_base=2, oracle="relaxed: theta = hat centre, per-pair vertex reward, greedy policy",
                 plan_model="tilde level 0", certificate_ellipsoids="hat and tilde level 0", tie_break=tie_break)

    def radius(k):
        return beta_scale * confidence_radius(k, d=d, H=H, B=lmdp.B, delta=delta, lam=lam, alpha=alpha,
                                              gamma=gamma)

    # Regression state: family (hat, tilde) x moment level.
    eye = np.eye(d)
    gram_run = np.broadcast_to(lam * eye, (2, M, d, d)).copy()
    inv_run = np.broadcast_to(eye / lam, (2, M, d, d)).copy()
    b = np.zeros((2, M, d))
    gram_frozen, inv_frozen, theta = gram_run.copy(), inv_run.copy(), np.zeros((2, M, d))

    cum_P, cum_mu0 = environment_tables(lmdp)
    phi = np.ascontiguousarray(lmdp.phi)
    theta_star = np.asarray(lmdp.theta)  # audit-only diagnostics
    ss = _seed_sequence(seed)
    rng = np.random.default_rng(ss)
    # Tie-break uniforms: a child stream built without ss.spawn (which would mutate the caller's
    # SeedSequence), so the transition stream is the same for every tie_break.
    tie_rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, _TIE_STREAM)))
    tie_key = np.zeros((H, S, A))

    diag = {"oracle_value": np.empty(K), "covered": np.empty(K, dtype=bool), "error_ratio": np.empty(K),
            "states": np.empty((K, H + 1), dtype=np.int64), "actions": np.empty((K, H), dtype=np.int64),
            "first_step_ties": np.empty(K, dtype=np.int64)}
    record = check_record(record)
    if record:
        check_output_size("K", K, 8.0 * K * (H * S + 3 * S * A + 2 * H * M + 4 * M * d * (1 + d)),
                          "the recorded per-episode regression state")
        diag.update(V_hat=np.empty((K, H + 1, S)), policy=np.empty((K, H, S), dtype=np.int64),
                    uncertainty_norms=np.empty((K, S, A)), vertices=np.empty((K, S, A), dtype=np.int64),
                    sigma2=np.empty((K, max(H - 1, 0), 2, M)), beta_k=np.empty(K),
                    theta_after=np.empty((K, 2, M, d)), b_after=np.empty((K, 2, M, d)),
                    gram_after=np.empty((K, 2, M, d, d)), inverse_gram_after=np.empty((K, 2, M, d, d)))
    norms, vertices = np.empty((S, A)), np.empty((S, A), dtype=np.int64)
    V_hat, policy = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    n_tied = np.empty((H, S), dtype=np.int64)
    sigma2 = np.empty((H, 2, M))  # HOME weights of the episode's steps (row H - 1 unused)

    keep = _check_checkpoints(checkpoints, K)
    snapshots = []

    def snapshot(k_done):
        return Exploration(
            algorithm="hf_ucrl_rfe++", lmdp=lmdp, K=k_done, seed=ss.entropy, hyper=dict(hyper),
            diagnostics={key: value[:k_done].copy() for key, value in diag.items()},
            plan_theta=theta[TILDE, 0].copy(), centres=np.stack([theta[HAT, 0], theta[TILDE, 0]]),
            inverse_grams=np.stack([inv_frozen[HAT, 0], inv_frozen[TILDE, 0]]),
            grams=np.stack([gram_frozen[HAT, 0], gram_frozen[TILDE, 0]]), radius=beta, planner="plugin",
            checkpoints=tuple(snapshots) if k_done == K else (),
        )

    for k in range(K):
        beta_k = radius(k + 1)
        # Audit-only: is theta* inside every frozen ellipsoid (the good event of Lemma 2.8.6)?
        err = theta - theta_star
        dist2 = (np.matmul(gram_frozen, err[..., None])[..., 0] * err).sum(axis=-1)  # (2, M)
        diag["covered"][k] = bool(np.all(dist2 <= beta_k ** 2))
        with np.errstate(over="ignore"):  # a tiny beta_scale: the ratio is +inf, correctly
            diag["error_ratio"][k] = np.sqrt(max(dist2[HAT, 0], 0.0)) / beta_k

        # 1-2. Relaxed oracle: per-pair uncertainty, then the optimistic trajectory uncertainty.
        kern.max_vertex_norms(phi, inv_frozen[TILDE, 0], norms, vertices)
        u = np.minimum(1.0, beta * norms)
        if tie_break == "uncertainty":
            tie_key[:] = norms  # uncapped: ranks actions that min{1, .} saturates to the same u
        elif tie_break == "random":
            tie_key[:] = tie_rng.random((H, S, A))
        kern.uncertainty_dp(phi, u, tie_key, theta[HAT, 0], inv_frozen[HAT, 0], 2.0 * beta, V_hat, policy,
                            n_tied)
        diag["oracle_value"][k] = float(lmdp.mu0 @ V_hat[0])

        # 3. Roll out pi_k; weighted VTR at every moment level of both families.
        kern.hf_episode(phi, cum_P, cum_mu0, rng.random(H + 1), policy, V_hat, vertices, theta, inv_run,
                        gram_run, inv_frozen, b, beta_k, alpha, gamma, bool(weighted),
                        diag["states"][k], diag["actions"][k], sigma2)
        diag["first_step_ties"][k] = n_tied[0, diag["states"][k, 0]]

        # 4. Freeze the Gram matrices for the next episode; estimates from the frozen inverses.
        gram_frozen[:] = gram_run
        inv_frozen[:] = inv_run
        theta = np.matmul(inv_frozen, b[..., None])[..., 0]
        if record:
            for key, value in (("V_hat", V_hat), ("policy", policy), ("uncertainty_norms", norms),
                               ("vertices", vertices), ("sigma2", sigma2[:H - 1]), ("beta_k", beta_k),
                               ("theta_after", theta), ("b_after", b), ("gram_after", gram_frozen),
                               ("inverse_gram_after", inv_frozen)):
                diag[key][k] = value
        if k + 1 in keep and k + 1 < K:
            snapshots.append(snapshot(k + 1))

    return snapshot(K)


def check_record(record) -> bool:
    """``record`` must be a bool (an int or a string is refused, not read as truthy)."""
    if not isinstance(record, (bool, np.bool_)):
        raise TypeError(f"record must be True or False, got {show(record)}")
    return bool(record)


def _check_checkpoints(checkpoints, K) -> set:
    keep = set()
    for i, k in enumerate(checkpoints):
        k = check_positive_int(f"checkpoints[{i}]", k)
        if k > K:
            raise ValueError(f"checkpoints[{i}] = {k} exceeds K = {K}")
        keep.add(k)
    return keep
