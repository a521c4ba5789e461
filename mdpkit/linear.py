"""Linear mixture MDPs: ``P(s' | s, a) = <phi(s' | s, a), theta*>`` with known features.

A time-homogeneous linear mixture MDP (Ayoub et al. 2020; Zhou, Gu & Szepesvari 2021) is given by
``d`` known signed basis measures ``phi_i(s' | s, a)`` and an unknown ``theta* in R^d``. For a
function ``V : S -> R`` the *value feature*

    psi_V(s, a) = sum_{s'} phi(s' | s, a) V(s')  in R^d

turns expectations into inner products, ``[P V](s, a) = <psi_V(s, a), theta*>``: this is what
value-targeted regression (VTR) regresses on. :meth:`LinearMixtureMDP.psi` computes it for many
``V`` at once; :meth:`LinearMixtureMDP.to_tabular` gives the exact tabular model for auditing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels
from ._validation import (
    as_float_array,
    check_finite,
    check_output_size,
    check_positive_int,
    check_stochastic,
    readonly,
)
from .mdp import TabularMDP, _validate_mu0, _validate_rewards

_PHI_AXES = ("s", "a", "s'", "i")
#: ``max_f ||psi_f(s, a)||`` over the vertices ``f in {0, 1}^S`` is enumerated exactly up to this
#: many states (2^S vertices); beyond it the triangle-inequality upper bound is returned.
MAX_ENUMERATED_STATES = 16


class LinearMixtureMDP:
    """Finite-horizon, time-homogeneous linear mixture MDP.

    Parameters
    ----------
    phi : array_like, shape (S, A, S, d)
        ``phi[s, a, s', i] = phi_i(s' | s, a)``, the known (signed) basis measures.
    theta : array_like, shape (d,)
        The true parameter ``theta*``; ``P[s, a, s'] = phi[s, a, s'] @ theta`` must be a
        distribution over ``s'`` for every ``(s, a)`` (within 1e-9; nothing is renormalised).
    H : int
        Horizon (number of stages, ``>= 1``).
    mu0 : array_like, shape (S,), or int
        Initial-state distribution, or a fixed start state.
    R : array_like, shape (H, S, A) or (S, A), optional
        Mean rewards in ``[0, 1]``; zero if omitted (reward-free exploration never sees them).
    B : float, optional
        Known upper bound on ``||theta*||_2`` used by learners (``lambda = d / B^2``). Defaults
        to ``||theta*||_2`` itself; instance constructors pass the bound the theory assumes.
    name : str, optional
        Label for reprs and reports.

    Raises
    ------
    ValueError
        For wrong shapes, non-finite entries, ``B < ||theta||`` or, naming the first bad
        ``(s, a)`` and the offending value, when ``<phi(. | s, a), theta>`` has a negative
        entry or does not sum to 1.

    Notes
    -----
    The assumption ``||psi_V(s, a)||_2 <= 1`` for every ``V : S -> [0, 1]`` (thesis Def. 2.3.1)
    is not enforced here -- instances with other feature scales are still valid MDPs -- but
    :meth:`max_value_feature_norm` measures it.
    """

    __slots__ = ("_phi", "_theta", "_H", "_mu0", "_R", "_B", "_name", "_P", "_phi_by_target")

    def __init__(self, phi, theta, *, H: int, mu0, R=None, B: float | None = None, name: str | None = None):
        H = check_positive_int("H", H)
        phi = as_float_array("phi", phi, ndim=4, axis_names=_PHI_AXES)
        S, A, S2, d = phi.shape
        if S2 != S:
            raise ValueError(f"phi must have shape (S, A, S, d), got {phi.shape}: axis 2 ({S2}) != S = {S}")
        if S < 1 or A < 1 or d < 1:
            raise ValueError(f"phi must have at least one state, action and feature, got shape {phi.shape}")
        theta = as_float_array("theta", theta, shape=(d,), axis_names=("i",))
        check_output_size("H", H, 8.0 * H * S * A, f"the (H, S, A) = ({H}, {S}, {A}) rewards")
        with np.errstate(over="ignore", invalid="ignore"):  # huge factors: reported as a non-finite kernel
            P = np.ascontiguousarray(phi @ theta)
        check_finite("<phi(.|s,a), theta>", P, ("s", "a", "s'"))
        check_stochastic("<phi(.|s,a), theta>", P, ("s", "a", "s'"))
        R = np.zeros((H, S, A)) if R is None else _validate_rewards("R", R, H, S, A, allow_stationary=True)
        mu0 = _validate_mu0(mu0, S)
        norm = float(np.linalg.norm(theta))
        if B is None:
            B = norm
        B = float(as_float_array("B", B, ndim=0))
        # A bound computed in closed form may differ from the computed norm by rounding only.
        if not B >= norm * (1 - 1e-12) or B <= 0:
            raise ValueError(f"B = {B!r} must be positive and >= ||theta||_2 = {norm!r}")
        object.__setattr__(self, "_phi", readonly(phi))
        object.__setattr__(self, "_theta", readonly(theta))
        object.__setattr__(self, "_H", H)
        object.__setattr__(self, "_mu0", readonly(mu0))
        object.__setattr__(self, "_R", readonly(R))
        object.__setattr__(self, "_B", B)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_P", readonly(P))
        # (S * A * d, S) layout: psi for a batch of V is then one BLAS matrix product.
        object.__setattr__(self, "_phi_by_target",
                           readonly(np.ascontiguousarray(phi.transpose(0, 1, 3, 2)).reshape(S * A * d, S)))

    def __setattr__(self, key, value):
        raise AttributeError(f"LinearMixtureMDP is immutable; cannot set {key!r}")

    # ------------------------------------------------------------------ attributes
    @property
    def phi(self) -> np.ndarray:
        """Features, shape (S, A, S, d) (read-only)."""
        return self._phi

    @property
    def theta(self) -> np.ndarray:
        """True parameter ``theta*``, shape (d,) (read-only)."""
        return self._theta

    @property
    def P(self) -> np.ndarray:
        """True transitions ``<phi, theta*>``, shape (S, A, S) (read-only)."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        """Mean rewards, shape (H, S, A)."""
        return self._R

    @property
    def mu0(self) -> np.ndarray:
        """Initial-state distribution, shape (S,)."""
        return self._mu0

    @property
    def H(self) -> int:
        return self._H

    @property
    def S(self) -> int:
        return self._phi.shape[0]

    @property
    def A(self) -> int:
        return self._phi.shape[1]

    @property
    def d(self) -> int:
        return self._phi.shape[3]

    @property
    def B(self) -> float:
        """Known bound on ``||theta*||_2``."""
        return self._B

    @property
    def name(self) -> str | None:
        return self._name

    def __repr__(self) -> str:
        label = f"{self._name!r}, " if self._name else ""
        return f"LinearMixtureMDP({label}H={self.H}, S={self.S}, A={self.A}, d={self.d}, B={self.B:.3g})"

    # ------------------------------------------------------------------ derived objects
    def to_tabular(self) -> TabularMDP:
        """Exact tabular model: stationary ``P = <phi, theta*>``, rewards ``R``, same ``mu0``.

        Use ``.with_rewards(R)`` on the result to audit other reward functions.
        """
        return TabularMDP.stationary(self._P, self._R, self._H, self._mu0, name=self._name)

    def with_rewards(self, R) -> "LinearMixtureMDP":
        """Same features and parameter, new rewards, shape (H, S, A) or (S, A)."""
        return LinearMixtureMDP(self._phi, self._theta, H=self._H, mu0=self._mu0, R=R, B=self._B,
                                name=self._name)

    def psi(self, V) -> np.ndarray:
        """Value features ``psi_V(s, a) = sum_{s'} phi(s' | s, a) V(s')``.

        Parameters
        ----------
        V : array_like, shape (S,) or (n, S)
            One function on states, or ``n`` of them.

        Returns
        -------
        ndarray, shape (S, A, d) or (n, S, A, d)

        Notes
        -----
        One BLAS product ``(S A d, S) @ (S, n)`` on a pre-transposed copy of ``phi``: measured
        faster than ``numpy.einsum`` and than a numba loop (``benchmarks/bench_hf_rfe.py``).
        """
        V = as_float_array("V", V, ndim=(1, 2), axis_names=None)
        S, A, d = self.S, self.A, self.d
        if V.shape[-1] != S:
            raise ValueError(f"V must have shape (S,) = ({S},) or (n, S) = (*, {S}), got {V.shape}")
        if V.ndim == 1:
            return (self._phi_by_target @ V).reshape(S, A, d)
        out = self._phi_by_target @ V.T  # (S*A*d, n)
        return np.ascontiguousarray(out.T).reshape(V.shape[0], S, A, d)

    def max_value_feature_norm(self) -> float:
        """``max_{s, a} max_{V : S -> [0, 1]} ||psi_V(s, a)||_2`` (the theory assumes ``<= 1``).

        A convex function of ``V`` is maximised at a vertex ``V in {0, 1}^S``: enumerated exactly
        for ``S <= MAX_ENUMERATED_STATES``, otherwise bounded above by the triangle inequality
        ``sum_{s'} ||phi(s' | s, a)||_2``.
        """
        S = self.S
        if S <= MAX_ENUMERATED_STATES:
            vertices = ((np.arange(2 ** S)[:, None] >> np.arange(S)[None, :]) & 1).astype(np.float64)
            norms = np.linalg.norm(np.einsum("vt,satd->vsad", vertices, self._phi), axis=-1)
            return float(norms.max())
        return float(np.linalg.norm(self._phi, axis=-1).sum(axis=2).max())


# ============================================================================ reward-free results
def check_reward_class(lmdp: LinearMixtureMDP, R) -> tuple[np.ndarray, bool]:
    """Validate rewards for reward-free planning: ``(H, S, A)`` or a batch ``(B, H, S, A)``.

    Every reward must be finite, non-negative, and collect at most 1 along every path that the
    features allow (``s'`` is a possible successor of ``(s, a)`` when ``phi(s' | s, a) != 0``),
    starting from any state at any stage. This is the class on which values lie in ``[0, 1]``,
    which the planners' truncation at 1 relies on.

    Returns
    -------
    R : ndarray, shape (B, H, S, A)
    batched : bool
        Whether the caller passed a batch.

    Raises
    ------
    ValueError
        Naming the first offending reward (and entry, or the state and stage whose worst path
        exceeds 1, with that path's total).
    """
    H, S, A = lmdp.H, lmdp.S, lmdp.A
    R = as_float_array("R", R, ndim=(3, 4), axis_names=None)
    batched = R.ndim == 4
    if not batched:
        R = R[None]
    if R.shape[1:] != (H, S, A):
        raise ValueError(f"R must have shape (H, S, A) = ({H}, {S}, {A}) or (B, H, S, A), got "
                         f"{R.shape if batched else R.shape[1:]}")
    neg = R < 0
    if neg.any():
        idx = np.unravel_index(int(np.argmax(neg)), R.shape)
        where = f"R[b={idx[0]}, h={idx[1]}, s={idx[2]}, a={idx[3]}]" if batched else \
            f"R[h={idx[1]}, s={idx[2]}, a={idx[3]}]"
        raise ValueError(f"{where} = {float(R[idx])!r} is negative; rewards must be non-negative")
    possible = np.any(lmdp.phi != 0, axis=-1)  # (S, A, S'): s' can follow (s, a)
    worst = np.empty((H + 1, S, R.shape[0]))  # largest path total from (h, s) onwards, batch last
    _kernels.worst_path_totals(possible, np.ascontiguousarray(R.transpose(1, 2, 3, 0)), worst)
    over = worst[:H] > 1.0 + 1e-9
    if over.any():
        h = int(np.nonzero(over.any(axis=(1, 2)))[0][-1])  # the first stage backwards, as the recursion meets it
        b, s = np.unravel_index(int(np.argmax(over[h].T)), (R.shape[0], S))  # lowest reward, then state
        label = f"R[b={b}]" if batched else "R"
        raise ValueError(f"{label} collects {float(worst[h, s, b])!r} > 1 along a path from state {s} at stage {h}; "
                         "reward-free planning needs every path total <= 1 (e.g. divide per-step "
                         "rewards in [0, 1] by H)")
    return R, batched


@dataclass(frozen=True)
class PlanResult:
    """Planning output for a batch of ``B`` rewards.

    Attributes
    ----------
    policy : ndarray, shape (B, H, S), int64
    certificate : ndarray, shape (B,)
        ``mu0 @ (V_upper[:, 0] - V_lower[:, 0])``: an upper bound on ``V*_r - V^policy_r`` whenever
        the true ``theta*`` lies in every ellipsoid used (see :meth:`Exploration.plan`).
    V_upper, V_lower : ndarray, shape (B, H + 1, S)
        Upper bound on ``V*`` and lower bound on ``V^policy`` (same event).
    V_model : ndarray, shape (B, H + 1, S)
        Values the planner optimised (plug-in model values, or the optimistic values).
    """

    policy: np.ndarray
    certificate: np.ndarray
    V_upper: np.ndarray
    V_lower: np.ndarray
    V_model: np.ndarray


@dataclass(frozen=True)
class Exploration:
    """Outcome of a reward-free exploration phase; :meth:`plan` answers any reward afterwards.

    Attributes
    ----------
    algorithm : str
    lmdp : LinearMixtureMDP
        The explored instance. Planning reads only its features ``phi`` and ``mu0`` (never
        ``theta*``); audits use the rest.
    K : int
        Number of exploration episodes.
    seed : object
        The seed the run was started from (``SeedSequence.entropy``).
    hyper : dict
        Every hyper-parameter, the theoretical confidence radius and the one actually used
        (``beta_scale`` times it), and the reconstruction choices.
    diagnostics : dict of ndarray
        Per-episode arrays, leading axis ``K`` (see the algorithm's ``explore``).
    plan_theta : ndarray, shape (d,)
        Parameter of the plug-in model used by ``planner == "plugin"``.
    centres : ndarray, shape (E, d)
        Centres of the confidence ellipsoids ``{theta : ||theta - centre_j||_{Sigma_j} <= radius}``.
    inverse_grams : ndarray, shape (E, d, d)
        Their ``Sigma_j^-1`` (maintained by Sherman-Morrison updates).
    grams : ndarray, shape (E, d, d)
        Their ``Sigma_j`` (accumulated directly; ``grams[j] @ inverse_grams[j] ~ I`` is a check).
    radius : float
        Ellipsoid radius used by the planner and the certificate.
    planner : {"plugin", "optimistic"}
        ``"plugin"``: greedy on the model ``theta = plan_theta`` without bonus (HF-UCRL-RFE++);
        ``"optimistic"``: greedy on the optimistic values (UCRL-RFE's PLAN).
    checkpoints : tuple of Exploration
        Snapshots of the same run at the requested episode counts ``< K`` (see ``explore``).
    """

    algorithm: str
    lmdp: LinearMixtureMDP
    K: int
    seed: object
    hyper: dict
    diagnostics: dict
    plan_theta: np.ndarray
    centres: np.ndarray
    inverse_grams: np.ndarray
    grams: np.ndarray
    radius: float
    planner: str
    checkpoints: tuple = ()

    def plan(self, R):
        """Policy and certificate of suboptimality for one reward or a batch.

        Parameters
        ----------
        R : array_like, shape (H, S, A) or (B, H, S, A)
            Non-negative rewards collecting at most 1 along every path (see
            :func:`check_reward_class`).

        Returns
        -------
        policy : ndarray, shape (H, S) or (B, H, S), int64
        certificate : float or ndarray, shape (B,)
            Upper bound on ``V*_r - V^policy_r``, valid whenever ``theta*`` lies in every
            confidence ellipsoid of the last episode (the algorithm's good event; under the
            theoretical radius it has probability >= 1 - delta', under a scaled radius it is
            what ``diagnostics["covered"]`` measures).

        Notes
        -----
        Reconstructed: the thesis certifies ``gap <= 4 V_hat_K`` through its exact oracle
        (Lemma 2.8.7); the oracle here is relaxed, so the certificate is instead computed per
        reward, as optimistic minus pessimistic value over the confidence set (the argument of
        Lemma 2.8.1): ``<psi_V, theta*>`` is bounded by ``<psi_V, c_j> +- radius ||psi_V||_{Sigma_j^-1}``
        for every ellipsoid ``j`` and, since ``P`` is a distribution, by ``[min V, max V]``.
        """
        result = self.plan_details(R)
        if np.ndim(R) == 3:
            return result.policy[0], float(result.certificate[0])
        return result.policy, result.certificate

    def plan_details(self, R) -> PlanResult:
        """As :meth:`plan`, returning the bounds too (always batched)."""
        R, _ = check_reward_class(self.lmdp, R)
        return plan_with_ellipsoids(self.lmdp, R, plan_theta=self.plan_theta, centres=self.centres,
                                    inverse_grams=self.inverse_grams, radius=self.radius,
                                    planner=self.planner)

    def theta_star_covered(self) -> bool:
        """Audit-only: does ``theta*`` lie in every ellipsoid the certificate uses?

        When it does, every certificate returned by :meth:`plan` is a valid upper bound on the gap.
        """
        err = self.centres - self.lmdp.theta[None, :]
        return bool(np.all(np.einsum("ei,eij,ej->e", err, self.grams, err) <= self.radius ** 2))


def plan_with_ellipsoids(lmdp: LinearMixtureMDP, R: np.ndarray, *, plan_theta, centres, inverse_grams,
                         radius: float, planner: str) -> PlanResult:
    """Batched planning and certification on a confidence set of ellipsoids (one sweep for the batch).

    Parameters
    ----------
    lmdp : LinearMixtureMDP
        Only ``phi`` and ``mu0`` are read.
    R : ndarray, shape (B, H, S, A)
        Validated rewards.
    plan_theta : ndarray, shape (d,)
    centres : ndarray, shape (E, d)
    inverse_grams : ndarray, shape (E, d, d)
    radius : float
    planner : {"plugin", "optimistic"}

    Returns
    -------
    PlanResult

    Notes
    -----
    Per stage, the value features of all ``B`` rewards are one BLAS product
    ``(S A d, S) @ (S, B)``, so a batch shares the pass over ``phi``, and the ellipsoid norms are
    batched matrix products over the ``S A`` pairs.
    """
    if planner not in ("plugin", "optimistic"):
        raise ValueError(f"planner must be 'plugin' or 'optimistic', got {planner!r}")
    Bn, H, S, A = R.shape
    d, E = lmdp.d, centres.shape[0]
    phi_t = lmdp._phi_by_target  # (S A d, S)
    # Batch on the last axis throughout: features (S A, d, B), values (S, B), rewards (H, S, A, B),
    # so every reduction (over d, over ellipsoids, over actions) is vectorised along the batch.
    R_last = np.ascontiguousarray(R.transpose(1, 2, 3, 0))
    V_up, V_low, V_model = (np.zeros((H + 1, S, Bn)) for _ in range(3))
    policy = np.empty((H, S, Bn), dtype=np.int64)
    take = np.arange(S)[:, None], np.arange(Bn)[None, :]

    def features(V):  # (S, B) -> (S A, d, B)
        return (phi_t @ V).reshape(S * A, d, Bn)

    phi_pairs = phi_t.reshape(S, A, d, S)

    def bound(X, sign):  # (n, d, B) -> tightest bound on <x, theta*> over the ellipsoids, (n, B)
        best = None
        for j in range(E):
            quad = np.einsum("nib,nib->nb", np.matmul(inverse_grams[j], X), X)
            value = centres[j] @ X + sign * radius * np.sqrt(np.maximum(quad, 0.0))
            best = value if best is None else (np.minimum(best, value) if sign > 0 else np.maximum(best, value))
        return best

    for h in range(H - 1, -1, -1):
        # P is a distribution, so <psi_V, theta*> = [P V] also lies in [min V, max V].
        upper_next = np.minimum(bound(features(V_up[h + 1]), +1).reshape(S, A, Bn), V_up[h + 1].max(axis=0))
        backup_up = R_last[h] + upper_next
        if planner == "plugin":
            backup_model = R_last[h] + (plan_theta @ features(V_model[h + 1])).reshape(S, A, Bn)
        else:
            backup_model = backup_up
        # Greedy on the untruncated backup: a maximiser of the truncated one (clipping is
        # monotone) that does not default to action 0 where truncation creates ties.
        policy[h] = np.argmax(backup_model, axis=1)
        chosen = policy[h]
        V_model[h] = np.clip(backup_model[take[0], chosen, take[1]], 0.0, 1.0)
        V_up[h] = np.minimum(1.0, backup_up.max(axis=1))
        # The lower bound is needed at the chosen actions only: features of those S pairs per reward.
        X_chosen = np.einsum("sbit,tb->sib", phi_pairs[take[0], chosen], V_low[h + 1])
        lower_next = np.maximum(bound(X_chosen, -1), V_low[h + 1].min(axis=0))
        V_low[h] = np.minimum(1.0, np.maximum(0.0, R_last[h][take[0], chosen, take[1]] + lower_next))
    certificate = lmdp.mu0 @ (V_up[0] - V_low[0])
    return PlanResult(np.ascontiguousarray(policy.transpose(2, 0, 1)), certificate,
                      np.ascontiguousarray(V_up.transpose(2, 0, 1)), np.ascontiguousarray(V_low.transpose(2, 0, 1)),
                      np.ascontiguousarray(V_model.transpose(2, 0, 1)))
