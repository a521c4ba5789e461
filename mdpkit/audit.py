"""Exact auditing of reward-free exploration on linear mixture MDPs.

* :func:`reward_battery` -- a fixed, seeded family of test rewards, each collecting at most 1 on
  every trajectory (``sum_h max_{s,a} r_h(s, a) <= 1``): single-state, last-step goal, sparse,
  dense random, the instance's own hard reward, and rewards adversarial to a given exploration.
* :func:`exact_gaps` -- ``V*_r - V^{pi_r}_r`` for every reward of a batch, where ``pi_r`` is the
  exploration's planned policy: two batched backward-induction sweeps on the exact tabular model
  (no sampling), next to the planner's certificates.
* :func:`model_error_lp` -- for a fixed policy, the worst case over the *whole* reward class of
  ``|V^pi(theta_hat; r) - V^pi(theta*; r)|``: a linear program (HiGHS) in the reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._validation import as_float_array, check_positive_int
from .linear import Exploration, LinearMixtureMDP, check_reward_class
from .mdp import validate_policy
from .solvers import solve
from .solvers.lp import check_solver, linprog_highs

#: Reward given to every action other than the policy's in the masked sweep of
#: :func:`exact_gaps`: finite (the solver requires it) and far below any value in [0, 1], so the
#: greedy step always picks the policy's action and the sweep evaluates the policy exactly.
_MASK_REWARD = -1.0e12

REWARD_CLASSES = ("safe", "path")


@dataclass(frozen=True)
class RewardBattery:
    """Test rewards and what each one is.

    Attributes
    ----------
    rewards : ndarray, shape (B, H, S, A)
    kinds : tuple of str, length B
        ``"single_state"``, ``"goal_last_step"``, ``"sparse"``, ``"dense"``, ``"instance"``,
        ``"adversarial_least_visited_state"``, ``"adversarial_least_visited_pair"``,
        ``"adversarial_most_uncertain_pair"``.
    """

    rewards: np.ndarray
    kinds: tuple

    def __len__(self) -> int:
        return len(self.kinds)


def reward_battery(lmdp: LinearMixtureMDP, *, seed, exploration: Exploration | None = None,
                   n_sparse: int = 8, n_dense: int = 8) -> RewardBattery:
    """A fixed, seeded battery of rewards with ``sum_h max_{s,a} r_h(s, a) <= 1``.

    Reconstructed: the paper's class is every reward collecting at most 1 along every path; this
    battery (and ``reward_class="safe"`` below) uses the smaller "safe" class
    ``sum_h max_{s,a} r_h <= 1``, whose members are in the paper's class, and approximates the
    sup over rewards by finitely many of them (the suite's design, not the paper's).

    Parameters
    ----------
    lmdp : LinearMixtureMDP
    seed : int or SeedSequence
        Draws the sparse and dense rewards (same seed, same battery).
    exploration : Exploration, optional
        If given, adds rewards adversarial to it: ``1/H`` per step at the least-visited state,
        at the least-visited state-action pair, and at the pair whose value features are least
        determined by the final confidence ellipsoids (largest ``max_f ||psi_f||_{Sigma^-1}``).
    n_sparse, n_dense : int
        Numbers of random rewards. A sparse reward puts a Dirichlet share ``c_h`` of the unit
        budget on one random pair at each of 1-3 random stages; a dense one is
        ``r_h(s, a) = c_h U_h(s, a)`` with ``c ~ Dirichlet(1_H)`` and ``U`` uniform on [0, 1].

    Returns
    -------
    RewardBattery
    """
    H, S, A = lmdp.H, lmdp.S, lmdp.A
    n_sparse = check_positive_int("n_sparse", n_sparse, minimum=0)
    n_dense = check_positive_int("n_dense", n_dense, minimum=0)
    rng = np.random.default_rng(seed)
    rewards, kinds = [], []

    def add(r, kind):
        rewards.append(r)
        kinds.append(kind)

    for g in range(S):
        r = np.zeros((H, S, A))
        r[:, g, :] = 1.0 / H
        add(r, "single_state")
        r = np.zeros((H, S, A))
        r[H - 1, g, :] = 1.0
        add(r, "goal_last_step")
    for _ in range(n_sparse):
        stages = rng.choice(H, size=min(H, int(rng.integers(1, 4))), replace=False)
        shares = rng.dirichlet(np.ones(stages.size))
        r = np.zeros((H, S, A))
        for h, c in zip(stages, shares):
            r[h, rng.integers(S), rng.integers(A)] = c
        add(r, "sparse")
    for _ in range(n_dense):
        add(rng.dirichlet(np.ones(H))[:, None, None] * rng.random((H, S, A)), "dense")
    if np.any(lmdp.R > 0):
        add(np.array(lmdp.R), "instance")
    if exploration is not None:
        visits = np.zeros((S, A))
        states = exploration.diagnostics["states"][:, :H]
        np.add.at(visits, (states.ravel(), exploration.diagnostics["actions"].ravel()), 1.0)
        r = np.zeros((H, S, A))
        r[:, int(np.argmin(visits.sum(axis=1))), :] = 1.0 / H
        add(r, "adversarial_least_visited_state")
        s, a = np.unravel_index(int(np.argmin(visits)), visits.shape)
        r = np.zeros((H, S, A))
        r[:, s, a] = 1.0 / H
        add(r, "adversarial_least_visited_pair")
        s, a = np.unravel_index(int(np.argmax(_max_vertex_norm(lmdp, exploration.inverse_grams[-1]))), (S, A))
        r = np.zeros((H, S, A))
        r[:, s, a] = 1.0 / H
        add(r, "adversarial_most_uncertain_pair")
    return RewardBattery(np.stack(rewards), tuple(kinds))


def _max_vertex_norm(lmdp: LinearMixtureMDP, inv: np.ndarray) -> np.ndarray:
    """``max_{f in {0,1}^S} ||psi_f(s, a)||_inv``, shape (S, A) (plain numpy; small S)."""
    S = lmdp.S
    vertices = ((np.arange(2 ** S)[:, None] >> np.arange(S)[None, :]) & 1).astype(np.float64)
    X = lmdp.psi(vertices)  # (V, S, A, d)
    return np.sqrt(np.maximum(np.einsum("vsai,ij,vsaj->vsa", X, inv, X), 0.0)).max(axis=0)


@dataclass(frozen=True)
class GapAudit:
    """Exact suboptimality of planned policies.

    Attributes
    ----------
    gaps : ndarray, shape (B,)
        ``V*_r - V^{pi_r}_r`` from the initial distribution (exact, >= 0 up to rounding).
    certificates : ndarray, shape (B,)
        The planner's own bound on that gap.
    V_star, V_policy : ndarray, shape (B,)
    policies : ndarray, shape (B, H, S), int64
    """

    gaps: np.ndarray
    certificates: np.ndarray
    V_star: np.ndarray
    V_policy: np.ndarray
    policies: np.ndarray

    @property
    def worst_gap(self) -> float:
        return float(self.gaps.max())

    @property
    def certified(self) -> np.ndarray:
        """Per reward: certificate >= gap (allowing 1e-9 of rounding)."""
        return self.certificates >= self.gaps - 1e-9


def policy_values(lmdp: LinearMixtureMDP, policies, rewards) -> np.ndarray:
    """Exact ``V^{pi_b}_{r_b}`` from ``mu0`` for a batch of (policy, reward) pairs in one sweep.

    Parameters
    ----------
    lmdp : LinearMixtureMDP
    policies : array_like, shape (B, H, S), int
    rewards : array_like, shape (B, H, S, A)

    Returns
    -------
    ndarray, shape (B,)

    Notes
    -----
    Every action other than ``pi_b(h, s)`` gets reward ``-1e12``, so backward induction's
    greedy step is forced onto the policy and the batched solver evaluates ``B`` different
    policies in one pass (``mdpkit.evaluate`` takes one policy per call).
    """
    R = as_float_array("rewards", rewards, ndim=4, axis_names=("b", "h", "s", "a"))
    Bn, H, S, A = R.shape
    pol = np.asarray(policies)
    if pol.shape != (Bn, H, S):
        raise ValueError(f"policies must have shape (B, H, S) = ({Bn}, {H}, {S}), got {pol.shape}")
    for i in range(Bn):
        validate_policy(pol[i], H, S, A, name=f"policies[{i}]")
    chosen = np.arange(A)[None, None, None, :] == pol[..., None]
    masked = np.where(chosen, R, _MASK_REWARD)
    return np.asarray(solve(lmdp.to_tabular(), rewards=masked).value)


def exact_gaps(exploration: Exploration, rewards) -> GapAudit:
    """Plan every reward with the exploration's planner, then measure the exact gaps.

    Parameters
    ----------
    exploration : Exploration
    rewards : array_like, shape (B, H, S, A), or RewardBattery

    Returns
    -------
    GapAudit
    """
    if isinstance(rewards, RewardBattery):
        rewards = rewards.rewards
    lmdp = exploration.lmdp
    R, _ = check_reward_class(lmdp, rewards)
    policies, certificates = exploration.plan(R)
    V_star = np.asarray(solve(lmdp.to_tabular(), rewards=R).value)
    V_policy = policy_values(lmdp, policies, R)
    return GapAudit(V_star - V_policy, np.asarray(certificates), V_star, V_policy, policies)


# ============================================================================ LP certificate
def model_occupancy(P: np.ndarray, mu0: np.ndarray, policy: np.ndarray, H: int) -> np.ndarray:
    """"Occupancy" ``q_h(s, a)`` of a policy under a (possibly signed) kernel, shape (H, S, A).

    ``V^pi(P; r) = sum_{h,s,a} r_h(s, a) q_h(s, a)`` for every reward -- also for a fitted
    kernel ``<phi, theta_hat>`` that is not a distribution (then ``q`` may be negative).

    Parameters
    ----------
    P : ndarray, shape (S, A, S)
    mu0 : ndarray, shape (S,)
    policy : ndarray, shape (H, S) int or (H, S, A)
    H : int
    """
    S, A = P.shape[:2]
    pol = validate_policy(policy, H, S, A)
    if pol.ndim == 2:
        pol = (np.arange(A)[None, None, :] == pol[..., None]).astype(np.float64)
    q = np.empty((H, S, A))
    state = np.array(mu0, dtype=np.float64)
    for h in range(H):
        q[h] = state[:, None] * pol[h]
        state = np.einsum("sa,sat->t", q[h], P)
    return q


def _safe_class_constraints(H: int, S: int, A: int):
    """The "safe" reward class as ``A_ub x <= b_ub`` over ``x = (r (H*S*A,), cap (H,))``.

    ``0 <= r_h(s, a) <= cap_h`` and ``sum_h cap_h <= 1``.
    """
    n_reward = H * S * A
    stage_of = np.repeat(np.arange(H), S * A)
    rows = np.arange(n_reward)
    # r_h(s, a) - cap_h <= 0, one row per reward entry; then sum_h cap_h <= 1.
    A_ub = sp.csr_matrix((np.concatenate([np.ones(n_reward), -np.ones(n_reward), np.ones(H)]),
                          (np.concatenate([rows, rows, np.full(H, n_reward)]),
                           np.concatenate([rows, n_reward + stage_of, n_reward + np.arange(H)]))),
                         shape=(n_reward + 1, n_reward + H))
    b_ub = np.concatenate([np.zeros(n_reward), [1.0]])
    return A_ub, b_ub, [(0.0, None)] * (n_reward + H)


def _path_class_constraints(lmdp: LinearMixtureMDP):
    """The "path" reward class as ``A_ub x <= b_ub`` over ``x = (r (H*S*A,), W ((H+1)*S,))``.

    ``r >= 0``, ``W <= 1``, ``W_H = 0`` (bounds) and, for every stage ``h`` and every transition
    ``(s, a) -> s'`` the features allow, ``r_h(s, a) + W_{h+1}(s') - W_h(s) <= 0``.
    """
    H, S, A = lmdp.H, lmdp.S, lmdp.A
    n_reward = H * S * A
    s_idx, a_idx, t_idx = np.nonzero(np.any(lmdp.phi != 0, axis=-1))
    n = s_idx.size
    h = np.repeat(np.arange(H), n)
    s, a, t = np.tile(s_idx, H), np.tile(a_idx, H), np.tile(t_idx, H)
    rows = np.tile(np.arange(H * n), 3)
    cols = np.concatenate([(h * S + s) * A + a,                 # r_h(s, a)
                           n_reward + (h + 1) * S + t,          # W_{h+1}(s')
                           n_reward + h * S + s])               # W_h(s)
    data = np.concatenate([np.ones(H * n), np.ones(H * n), -np.ones(H * n)])
    A_ub = sp.csr_matrix((data, (rows, cols)), shape=(H * n, n_reward + (H + 1) * S))
    bounds = [(0.0, None)] * n_reward + [(None, 1.0)] * (H * S) + [(0.0, 0.0)] * S
    return A_ub, np.zeros(H * n), bounds


@dataclass(frozen=True)
class ModelErrorLP:
    """``sup_{r in class} |V^pi(theta_hat; r) - V^pi(theta*; r)|`` and a maximising reward.

    Attributes
    ----------
    value : float
    reward : ndarray, shape (H, S, A)
        A maximiser (from the solver; entries within solver tolerance of the class).
    sign : int
        +1 if the model over-estimates at the maximiser, -1 if it under-estimates.
    closed_form : float or None
        For ``reward_class="safe"``: ``max_h sum_{s,a} (+-D_h(s, a))_+`` (no LP needed), as a check.
    """

    value: float
    reward: np.ndarray
    sign: int
    closed_form: float | None


def model_error_lp(lmdp: LinearMixtureMDP, theta_hat, policy, *, reward_class: str = "path",
                   solver: str | None = None) -> ModelErrorLP:
    """Worst case over the whole reward class of a fixed policy's model-evaluation error (LP).

    ``D = q^pi(theta_hat) - q^pi(theta*)`` (:func:`model_occupancy`) makes the error linear in the
    reward, ``V^pi(theta_hat; r) - V^pi(theta*; r) = <r, D>``, so its supremum over a polytope of
    rewards is an LP; both signs are solved.

    Parameters
    ----------
    lmdp : LinearMixtureMDP
        Supplies ``phi``, ``theta*``, ``mu0``, ``H``.
    theta_hat : array_like, shape (d,)
        The model to audit, e.g. ``exploration.plan_theta``.
    policy : array_like, shape (H, S) int or (H, S, A)
    reward_class : {"path", "safe"}
        ``"safe"``: ``r >= 0`` with ``sum_h max_{s,a} r_h(s, a) <= 1``. ``"path"`` (larger):
        ``r >= 0`` collecting at most 1 along every path the features allow, from any state at
        any stage -- ``W_h(s) >= r_h(s, a) + W_{h+1}(s')`` for every possible ``s'``,
        ``W_H = 0``, ``W <= 1``.
    solver : str, optional
        A key of :data:`mdpkit.solvers.lp.SOLVERS` (default: :data:`mdpkit.solvers.lp.DEFAULT_SOLVER`).

    Returns
    -------
    ModelErrorLP

    Notes
    -----
    Reconstructed (from Section 7.1 of the reward-free paper): the model value here is the untruncated
    linear one; a planner that truncates model values at [0, 1] differs from it only where the
    fitted kernel leaves the simplex. Sizes: ``H S A`` reward variables and ``H S A S`` path
    constraints, so small instances only.
    """
    if reward_class not in REWARD_CLASSES:
        raise ValueError(f"reward_class must be one of {REWARD_CLASSES}, got {reward_class!r}")
    theta_hat = as_float_array("theta_hat", theta_hat, shape=(lmdp.d,), axis_names=("i",))
    H, S, A = lmdp.H, lmdp.S, lmdp.A
    P_hat = lmdp.phi @ theta_hat
    D = model_occupancy(P_hat, lmdp.mu0, policy, H) - model_occupancy(lmdp.P, lmdp.mu0, policy, H)
    solver = check_solver(solver)
    n_reward = H * S * A
    if reward_class == "safe":
        A_ub, b_ub, bounds = _safe_class_constraints(H, S, A)
    else:
        A_ub, b_ub, bounds = _path_class_constraints(lmdp)
    n_extra = A_ub.shape[1] - n_reward

    best = None
    for sign in (+1, -1):
        # linprog minimises: maximise <r, sign D> as min <r, -sign D> (zero cost on the extra variables).
        cost = np.concatenate([-sign * D.ravel(), np.zeros(n_extra)])
        result = linprog_highs(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, solver=solver,
                               what="model_error_lp")
        if best is None or -result.fun > best[0]:
            best = (float(-result.fun), np.asarray(result.x[:n_reward]).reshape(H, S, A), sign)
    closed = None
    if reward_class == "safe":
        closed = float(max(np.maximum(D, 0).sum(axis=(1, 2)).max(), np.maximum(-D, 0).sum(axis=(1, 2)).max()))
    return ModelErrorLP(best[0], best[1], best[2], closed)
