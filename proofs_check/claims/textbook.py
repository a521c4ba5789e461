"""Textbook claims: value iteration contracts, Monte Carlo converges at n^(-1/2), greedy loss <= 2 eps H.

Every instance is random, drawn from the run's seed (never hand-picked), and every observed
quantity is exact: ``V*`` from policy iteration (a linear solve) or backward induction, ``V^pi``
from exact policy evaluation.
"""

from __future__ import annotations

import numpy as np

import mdpkit  # light: its solvers, instances and numba load on first use, inside the observe functions

from ..claim import Claim, Grid, Mutant, Paper, Provenance, Sweep
from ..rules import BoundHolds, Contraction, Rate


def _discounted():
    """``mdpkit.solvers.discounted``, imported on first use (it pulls in numba)."""
    from mdpkit.solvers import discounted

    return discounted

PUTERMAN = Paper("Markov Decision Processes: Discrete Stochastic Dynamic Programming (Puterman, 1994)",
                 arxiv=None, where="Sec. 6.3, Thm 6.3.1")
SUTTON_BARTO = Paper("Reinforcement Learning: An Introduction, 2nd ed. (Sutton & Barto, 2018)",
                     arxiv=None, where="Sec. 5.1 (first-visit Monte Carlo prediction)")
SINGH_YEE = Paper("An Upper Bound on the Loss from Approximate Optimal-Value Functions (Singh & Yee, 1994)",
                  arxiv=None, where="Theorem 1 (discounted); finite-horizon analogue")

#: Value-iteration stopping tolerance: errors stay above ~1e-10, far above rounding (~1e-15 ||V*||).
_VI_TOL = 1e-9


# ============================================================================ (a) VI contraction
def _discounted_instance(params, seed):
    """Random stationary (P (S, A, S), R (S, A)) from the seed."""
    mdp = mdpkit.envs.random_mdp(params["S"], params["A"], 1, seed=seed)
    return np.asarray(mdp.P_stages[0]), np.asarray(mdp.R[0])


def observe_vi_errors(params, seed):
    """``||V_k - V*||_inf`` for k = 0..n of value iteration from ``V_0 = 0``.

    Returns
    -------
    dict
        ``"error"``: ndarray, shape (n + 1,).
    """
    P, R = _discounted_instance(params, seed)
    gamma = params["gamma"]
    V_star = _discounted().policy_iteration(P, R, gamma).V
    history = _discounted().value_iteration(P, R, gamma, tol=_VI_TOL, record_history=True).history
    return {"error": np.max(np.abs(history - V_star[None, :]), axis=1)}


def _buggy_value_iteration(P, R, gamma, n_iter, backup):
    V = np.zeros(P.shape[0])
    history = [V]
    for _ in range(n_iter):
        V = backup(P, R, gamma, V)
        history.append(V)
    return np.array(history)


def _backup_without_discount(P, R, gamma, V):
    return np.max(R + P @ V, axis=1)            # bug: gamma dropped


def _backup_wrong_axis(P, R, gamma, V):
    # bug: the expectation contracts the current-state axis of P instead of the next-state axis
    return np.max(R + gamma * np.einsum("tas,t->sa", P, V), axis=1)


def _observe_buggy_vi(params, seed, backup):
    P, R = _discounted_instance(params, seed)
    gamma = params["gamma"]
    V_star = _discounted().policy_iteration(P, R, gamma).V
    # As many sweeps as correct value iteration needs to bring the error under _VI_TOL.
    n_iter = int(np.ceil(np.log(_VI_TOL * (1 - gamma)) / np.log(gamma)))
    history = _buggy_value_iteration(P, R, gamma, n_iter, backup)
    return {"error": np.max(np.abs(history - V_star[None, :]), axis=1)}


def observe_vi_errors_no_discount(params, seed):
    """Mutant: Bellman backup ``max_a R + P V`` (discount dropped)."""
    return _observe_buggy_vi(params, seed, _backup_without_discount)


def observe_vi_errors_wrong_axis(params, seed):
    """Mutant: expectation over the wrong axis of ``P`` (``sum_t P[t, a, s] V[t]``)."""
    return _observe_buggy_vi(params, seed, _backup_wrong_axis)


VI_CONTRACTION = Claim(
    id="textbook.vi_contraction",
    paper=PUTERMAN,
    statement=("The Bellman optimality operator is a gamma-contraction in the sup-norm, so value iteration "
               "from any V_0 satisfies ||V_{k+1} - V*|| <= gamma ||V_k - V*||: the error contracts by at "
               "least gamma per iteration."),
    provenance=Provenance("paper", "Banach fixed-point argument for the Bellman operator as stated in "
                                   "Puterman's Theorem 6.3.1."),
    observe=observe_vi_errors,
    sweep=Sweep(quick=Grid(S=[10], A=[3], gamma=[0.5, 0.9, 0.99]),
                full=Grid(S=[5, 20, 50], A=[2, 5], gamma=[0.5, 0.9, 0.99]),
                seeds_quick=5, seeds_full=20),
    rule=Contraction("error", tolerance=1e-6, floor=1e-12,
                     justification=("V* from policy iteration's linear solve is exact to ~cond x 1e-16 x "
                                    "||V*|| <~ 1e-12, <= 1% of the last VI errors (~1e-10); such tail "
                                    "perturbations move the fitted slope by <~ 6 x 0.01 / n_iter^2 <~ 1e-7 "
                                    "(worst measured, full budget: 6e-8 relative)")),
    bound=lambda p: p["gamma"],
    mutants=[
        Mutant("dropped_discount", observe_vi_errors_no_discount,
               why="backup max_a R + P V without gamma: the iterates grow without bound instead of "
                   "contracting to V*"),
        Mutant("wrong_axis_expectation", observe_vi_errors_wrong_axis,
               why="sums P over the current-state axis (P transposed): a different operator whose fixed "
                   "point is not V*, so the error to V* stalls (or diverges) instead of contracting"),
    ],
    observed="||V_k - V*||_inf",
)


# ============================================================================ (b) Monte Carlo rate
def _mc_setup(params, seed):
    """Random finite-horizon MDP, a random deterministic policy, its exact value, and a simulation seed."""
    instance_seed, policy_seed, sim_seed = seed.spawn(3)
    mdp = mdpkit.envs.random_mdp(params["S"], params["A"], params["H"], seed=instance_seed)
    policy = np.random.default_rng(policy_seed).integers(0, mdp.A, size=(mdp.H, mdp.S))
    exact = mdpkit.evaluate(mdp, policy).value
    return mdp, policy, exact, sim_seed


def observe_mc_error(params, seed):
    """``|mean of n i.i.d. episode returns - V^pi(mu0)|`` with exact ``V^pi`` from policy evaluation."""
    mdp, policy, exact, sim_seed = _mc_setup(params, seed)
    returns = mdpkit.simulate(mdp, policy, params["n"], seed=sim_seed).returns
    return {"error": np.float64(abs(returns.mean() - exact))}


def observe_mc_error_one_trajectory(params, seed):
    """Mutant: one trajectory reused for all n samples."""
    mdp, policy, exact, sim_seed = _mc_setup(params, seed)
    returns = np.repeat(mdpkit.simulate(mdp, policy, 1, seed=sim_seed).returns, params["n"])
    return {"error": np.float64(abs(returns.mean() - exact))}


def observe_mc_error_sqrt_reuse(params, seed):
    """Mutant: only ceil(sqrt(n)) independent trajectories, each reused to make n samples."""
    mdp, policy, exact, sim_seed = _mc_setup(params, seed)
    m = int(np.ceil(np.sqrt(params["n"])))
    returns = np.tile(mdpkit.simulate(mdp, policy, m, seed=sim_seed).returns, m)[:params["n"]]
    return {"error": np.float64(abs(returns.mean() - exact))}


MC_RATE = Claim(
    id="textbook.mc_rate",
    paper=SUTTON_BARTO,
    statement=("The Monte Carlo estimate of V^pi(mu0) from n independent episodes has error of order "
               "n^(-1/2) (its standard deviation is sd(return) / sqrt(n))."),
    provenance=Provenance("paper", "Average of i.i.d. returns; the n^(-1/2) rate is the central limit "
                                   "theorem as used for MC prediction in Sutton & Barto Sec. 5.1."),
    observe=observe_mc_error,
    sweep=Sweep(quick=Grid(n=[16, 64, 256, 1024, 4096, 16384], S=[5], A=[2], H=[5]),
                full=Grid(n=[16, 64, 256, 1024, 4096, 16384, 65536], S=[5, 20], A=[2], H=[5, 20]),
                seeds_quick=40, seeds_full=100),
    rule=Rate("error", param="n", exponent=-0.5, tolerance=0.1, x_min=16,
              justification=("E|error| = c n^(-1/2) (1 + O(1/n)) for a bounded i.i.d. mean, so the slope "
                             "bias over n >= 16 is well below 0.1; 0.1 still excludes an n^(-1/4) "
                             "estimator (the sqrt_reuse mutant)")),
    bound=lambda p: p["n"] ** -0.5,
    mutants=[
        Mutant("one_trajectory", observe_mc_error_one_trajectory,
               why="one trajectory reused n times: the error does not decay with n (slope 0)"),
        Mutant("sqrt_reuse", observe_mc_error_sqrt_reuse,
               why="sqrt(n) trajectories each reused sqrt(n) times: correlated samples, error ~ n^(-1/4)"),
    ],
    observed="|MC estimate - V^pi(mu0)|",
)


# ============================================================================ (c) greedy loss
def _greedy_setup(params, seed):
    """Random non-stationary MDP, exact Q*, and a perturbation with sup-norm <= eps.

    The perturbation is adversarial in sign -- it lowers the optimal action and raises the others,
    the pattern that makes greedy switches most likely -- with random magnitudes in [eps/2, eps].
    """
    instance_seed, noise_seed = seed.spawn(2)
    mdp = mdpkit.envs.random_mdp(params["S"], params["A"], params["H"], stationary=False, seed=instance_seed)
    sol = mdpkit.solve(mdp)
    Q_star = np.asarray(sol.Q)
    optimal = np.zeros_like(Q_star, dtype=bool)
    np.put_along_axis(optimal, np.asarray(sol.policy)[..., None], True, axis=-1)
    magnitude = np.random.default_rng(noise_seed).uniform(0.5, 1.0, size=Q_star.shape) * params["eps"]
    Q_hat = Q_star + np.where(optimal, -magnitude, magnitude)
    return mdp, sol, Q_hat


def _loss(mdp, sol, policy):
    """Per-state loss at stage 0: ``V*_0(s) - V^pi_0(s)``, shape (S,)."""
    return np.asarray(sol.V[0]) - np.asarray(mdpkit.evaluate(mdp, policy).V[0])


def observe_greedy_loss(params, seed):
    """Loss of the policy greedy w.r.t. ``Q_hat`` with ``||Q_hat - Q*||_inf <= eps``, every start state."""
    mdp, sol, Q_hat = _greedy_setup(params, seed)
    return {"loss": _loss(mdp, sol, np.argmax(Q_hat, axis=-1))}


def observe_greedy_loss_argmin(params, seed):
    """Mutant: reward/cost sign confusion -- the greedy step takes argmin."""
    mdp, sol, Q_hat = _greedy_setup(params, seed)
    return {"loss": _loss(mdp, sol, np.argmin(Q_hat, axis=-1))}


def observe_greedy_loss_stage_shift(params, seed):
    """Mutant: off-by-one stage index -- stage h acts greedily w.r.t. Q_hat[h + 1] (last stage: Q_hat[H-1])."""
    mdp, sol, Q_hat = _greedy_setup(params, seed)
    shifted = np.concatenate([Q_hat[1:], Q_hat[-1:]], axis=0)
    return {"loss": _loss(mdp, sol, np.argmax(shifted, axis=-1))}


GREEDY_LOSS = Claim(
    id="textbook.greedy_loss",
    paper=SINGH_YEE,
    statement=("In a finite-horizon MDP, the policy greedy with respect to any Q_hat with "
               "max_h,s,a |Q_hat - Q*| <= eps loses at most 2 eps H: V*_0(s) - V^pi_0(s) <= 2 eps H "
               "for every state s."),
    provenance=Provenance("reconstructed",
                          "Singh & Yee state the discounted bound 2 gamma eps / (1 - gamma); the finite-horizon "
                          "2 eps H version is reconstructed by the performance-difference telescoping "
                          "(each greedy step loses at most 2 eps in Q*)."),
    observe=observe_greedy_loss,
    sweep=Sweep(quick=Grid(eps=[0.01, 0.03, 0.1, 0.3], H=[5, 20], S=[10], A=[4]),
                full=Grid(eps=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0], H=[2, 5, 20, 50], S=[5, 20], A=[2, 4]),
                seeds_quick=10, seeds_full=50),
    rule=BoundHolds("loss", x="eps"),
    bound=lambda p: 2 * p["eps"] * p["H"],
    mutants=[
        Mutant("argmin", observe_greedy_loss_argmin,
               why="greedy step with argmin (reward/cost confusion): loses a constant fraction of H "
                   "whatever eps"),
        Mutant("stage_shift", observe_greedy_loss_stage_shift,
               why="acts at stage h with Q_hat[h+1]: its loss does not shrink with eps, so it exceeds "
                   "2 eps H at small eps"),
    ],
    observed="V*_0(s) - V^pi_0(s)",
)

CLAIMS = [VI_CONTRACTION, MC_RATE, GREEDY_LOSS]
