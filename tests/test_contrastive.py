"""Contrastive loss and learner, Contrastive UCB (MDP and game), oracle LSVI-UCB."""
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit.algorithms import contrastive_ucb, lsvi_ucb
from mdpkit.algorithms.contrastive import (
    ContrastiveLearner,
    _loss_and_grad,
    _loss_and_grad_reference,
    contrastive_loss,
    feature_angle,
)
from mdpkit.envs.lowrank import random_lowrank_game, random_lowrank_mdp


def _random_data(seed, H=2, N=5, S=4, d=3, n=40):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((H, N, d)), rng.standard_normal((H, d, S)), rng.integers(0, H, n),
            rng.integers(0, N, n), rng.integers(0, S, n), rng.integers(0, 2, n).astype(float), rng.random(n) + 0.1)


# ----------------------------------------------------------------------------- the loss
@pytest.mark.parametrize("m", [1, 3])
def test_gradient_equals_finite_differences(m):
    theta, vartheta, stage, anchor, nxt, label, weight = _random_data(0)
    _, g_theta, g_vartheta = contrastive_loss(theta, vartheta, stage, anchor, nxt, label, weight=weight,
                                              n_negatives=m)
    eps = 1e-6
    for params, grad, which in ((theta, g_theta, 0), (vartheta, g_vartheta, 1)):
        numeric = np.zeros_like(params)
        for idx in np.ndindex(params.shape):
            step = np.zeros_like(params)
            step[idx] = eps
            args = [theta, vartheta]
            args[which] = params + step
            up = contrastive_loss(*args, stage, anchor, nxt, label, weight=weight, n_negatives=m)[0]
            args[which] = params - step
            down = contrastive_loss(*args, stage, anchor, nxt, label, weight=weight, n_negatives=m)[0]
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_loss_is_the_label_log_likelihood():
    # one sample, d = 1: phi = 1, f = exp(vartheta); loss = -log(f / (f + m)) for a positive
    f, m = 2.5, 2
    loss, *_ = contrastive_loss(np.zeros((1, 1, 1)), np.log([[[f]]]), [0], [0], [0], [1.0], n_negatives=m)
    assert loss == pytest.approx(-np.log(f / (f + m)), rel=1e-14)
    loss, *_ = contrastive_loss(np.zeros((1, 1, 1)), np.log([[[f]]]), [0], [0], [0], [0.0], n_negatives=m)
    assert loss == pytest.approx(-np.log(m / (f + m)), rel=1e-14)


@given(seed=st.integers(0, 2**16), log_m=st.sampled_from([0.0, np.log(3.0)]))
def test_numba_kernel_matches_numpy_reference(seed, log_m):
    theta, vartheta, stage, anchor, nxt, label, weight = _random_data(seed, n=60)
    params = np.concatenate([theta.ravel(), vartheta.ravel()])
    shape = (2, 5, 4, 3)
    total, grad = _loss_and_grad(params, stage, anchor, nxt, label, weight, shape, log_m)
    total_ref, grad_ref = _loss_and_grad_reference(params, stage, anchor, nxt, label, weight, shape, log_m)
    assert total == pytest.approx(total_ref, rel=1e-12)
    np.testing.assert_allclose(grad, grad_ref, atol=1e-13)


# ----------------------------------------------------------------------------- recovery
def _population_learner(mdp, m=1, n_negatives=1, max_iter=5000, seed=0):
    """A learner fed the exact population loss: every (anchor, s') weighted by its probability."""
    H, S, A, d = mdp.H, mdp.S, mdp.A, mdp.d
    neg = np.full(S, 1.0 / S)
    learner = ContrastiveLearner(H, S * A, S, d, neg, n_negatives=n_negatives, max_iter=max_iter,
                                 ftol=1e-14, gtol=1e-10, seed=seed)
    P = mdp.P.reshape(H, S * A, S)
    h, x, s = np.meshgrid(np.arange(H), np.arange(S * A), np.arange(S), indexing="ij")
    positive = P > 0
    learner.add(h[positive], x[positive], s[positive], 1, P[positive])
    learner.add(h.ravel(), x.ravel(), s.ravel(), 0, m * np.broadcast_to(neg, P.shape).ravel())
    return learner, P


def test_noiseless_population_recovers_kernel_and_span():
    mdp = random_lowrank_mdp(10, 3, 2, 3, seed=1)
    learner, P = _population_learner(mdp)
    fit = learner.fit()
    assert fit.converged
    assert np.abs(fit.transition_estimate() - P).max() < 1e-3
    assert feature_angle(fit.phi, mdp.phi.reshape(2, 30, 3)) < 1e-2


def test_negatives_rescaling_is_needed_with_m_negatives():
    mdp = random_lowrank_mdp(8, 2, 1, 2, seed=2)
    corrected, P = _population_learner(mdp, m=3, n_negatives=3)
    uncorrected, _ = _population_learner(mdp, m=3, n_negatives=1)
    err_corrected = np.abs(corrected.fit().transition_estimate() - P).max()
    err_uncorrected = np.abs(uncorrected.fit().transition_estimate() - P).max()
    assert err_corrected < 1e-3
    assert err_uncorrected > 100 * err_corrected  # Bayes odds P/(m P^-): off by the factor m


def test_feature_angle_is_invariant_to_invertible_transforms():
    rng = np.random.default_rng(0)
    phi = rng.random((2, 12, 3))
    M = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    assert feature_angle(phi @ M, phi) < 1e-7
    other = rng.random((2, 12, 3))
    assert feature_angle(other, phi) > 0.1
    # zero-weight rows drop out
    weight = np.zeros((2, 12))
    weight[:, :3] = 1.0
    assert feature_angle(other, phi, weight) < 1e-7  # 3 rows: both spans are all of R^3


def test_learner_validation():
    with pytest.raises(ValueError, match=r"negative_dist\[h=0, s'=1\] = 0.0 must be > 0"):
        ContrastiveLearner(1, 2, 2, 1, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"negative_dist\[h=0\] sums to"):
        ContrastiveLearner(1, 2, 2, 1, [0.5, 0.6])
    # shapes are checked before broadcasting: numpy's broadcast error never reaches the user
    with pytest.raises(ValueError, match=re.escape("negative_dist must have shape (S,) = (6,) or (H, S) = "
                                                   "(3, 6), got (2,)")):
        ContrastiveLearner(3, 12, 6, 2, np.full(2, 0.5))
    with pytest.raises(ValueError, match=re.escape("got (2, 6)")):
        ContrastiveLearner(3, 12, 6, 2, np.full((2, 6), 1 / 6))
    assert ContrastiveLearner(3, 12, 6, 2, np.full((1, 6), 1 / 6)).negative_dist.shape == (3, 6)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        ContrastiveLearner(1, 2, 2, 1, [0.5, 0.5], seed=-1)
    with pytest.raises(ValueError, match=r"label\[1\] = 0.5 is not 0 or 1"):
        contrastive_loss(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), [0, 0], [0, 0], [0, 0], [1, 0.5])
    learner = ContrastiveLearner(1, 2, 2, 1, [0.5, 0.5])
    with pytest.raises(ValueError, match="no data"):
        learner.fit()
    with pytest.raises(ValueError, match=r"label\[0\] = 2 is not an integer in \[0, 2\)"):
        learner.add(0, 0, 0, 2)
    with pytest.raises(ValueError, match=r"next_state\[1\] = 5"):
        learner.add(0, 0, [0, 5], 1)
    with pytest.raises(ValueError, match=r"weight\[0\] = -1.0 must be positive"):
        learner.add(0, 0, 0, 1, -1.0)


def test_warm_start_needs_fewer_iterations():
    mdp = random_lowrank_mdp(10, 2, 1, 2, seed=4)
    learner, _ = _population_learner(mdp)
    first = learner.fit()
    again = learner.fit()  # same data, started at the optimum
    assert again.n_iterations < first.n_iterations
    assert again.loss == pytest.approx(first.loss, abs=1e-12)


# ----------------------------------------------------------------------------- Contrastive UCB
SMALL = dict(S=12, A=2, H=3, d=2)


@pytest.fixture(scope="module")
def small_mdp():
    return random_lowrank_mdp(SMALL["S"], SMALL["A"], SMALL["H"], SMALL["d"], seed=0)


@pytest.mark.parametrize("planner, data", [("model", "per_stage"), ("lsvi", "trajectory")])
def test_run_is_bit_identical_per_seed_and_exact(small_mdp, planner, data):
    a = contrastive_ucb.run(small_mdp, K=6, seed=3, planner=planner, data=data, bonus_scale=0.2)
    b = contrastive_ucb.run(small_mdp, K=6, seed=3, planner=planner, data=data, bonus_scale=0.2)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.extras["feature_angle"], b.extras["feature_angle"])
    assert a.values.shape == a.regret.shape == a.extras["feature_angle"].shape == (6,)
    assert np.all(a.values <= a.optimal_value + 1e-12)  # exact values of deployed policies
    np.testing.assert_allclose(a.regret, np.cumsum(a.optimal_value - a.values))
    assert a.hyper["planner"] == planner and a.hyper["bonus_scale"] == 0.2
    c = contrastive_ucb.run(small_mdp, K=6, seed=4, planner=planner, data=data, bonus_scale=0.2)
    assert not np.array_equal(a.extras["feature_angle"], c.extras["feature_angle"])


def test_model_planner_is_optimistic_early(small_mdp):
    # with the full bonus, the optimistic value dominates V* (the bonus saturates at the cap)
    res = contrastive_ucb.run(small_mdp, K=3, seed=0)
    assert np.all(res.extras["optimistic_value"] >= res.optimal_value - 1e-12)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(planner="mcts"), "planner must be one of"),
    (dict(data="offline"), "data must be one of"),
    (dict(features="pca"), "features must be one of"),
    (dict(bonus_scale=-1.0), "bonus_scale must be a finite number >= 0"),
    (dict(ridge=0.0), "ridge must be > 0"),
    (dict(K=0), "K must be >= 1"),
    (dict(seed=-1), "seed must be a non-negative int"),
    (dict(ridge=np.float64(-1.0)), r"ridge must be a finite number >= 0, got -1\.0$"),
    (dict(negative_dist=np.full(2, 0.5)), r"negative_dist must have shape \(S,\) = \(12,\) or \(H, S\) = \(3, 12\), got \(2,\)"),
])
def test_run_argument_errors(small_mdp, kwargs, pattern):
    args = dict(K=2, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        contrastive_ucb.run(small_mdp, **args)


def test_run_rejects_the_wrong_model_class(small_mdp):
    with pytest.raises(ValueError, match="lrmdp must be a mdpkit.LowRankMDP, got TabularMDP"):
        contrastive_ucb.run(small_mdp.to_tabular(), K=2, seed=0)
    with pytest.raises(ValueError, match="lrgame must be a mdpkit.LowRankMarkovGame, got LowRankMDP"):
        contrastive_ucb.run_game(small_mdp, K=2, seed=0)
    game = random_lowrank_game(2, 2, 2, 2, 2, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        contrastive_ucb.run_game(game, K=2, seed=-1)


def test_run_game_gap_and_reproducibility():
    game = random_lowrank_game(5, 2, 2, 2, 2, seed=1)
    a = contrastive_ucb.run_game(game, K=4, seed=2, bonus_scale=0.2)
    b = contrastive_ucb.run_game(game, K=4, seed=2, bonus_scale=0.2)
    gap = a.extras["nash_gap"]
    assert gap.shape == (4,) and np.all(gap >= -1e-9)
    np.testing.assert_array_equal(gap, b.extras["nash_gap"])
    # upper and lower values bracket: the lower Q is clipped at 0 and the upper at H - h
    assert np.all(a.extras["lower_value"] <= a.extras["upper_value"] + 1e-9)


# ----------------------------------------------------------------------------- LSVI-UCB
def test_lsvi_ucb_reproducible_and_learns(small_mdp):
    a = lsvi_ucb.run(small_mdp, K=60, seed=0, bonus_scale=0.05)
    b = lsvi_ucb.run(small_mdp, K=60, seed=0, bonus_scale=0.05)
    np.testing.assert_array_equal(a.values, b.values)
    assert np.all(a.values <= a.optimal_value + 1e-12)
    gap = a.optimal_value - a.values
    assert gap[-10:].mean() < gap[:10].mean()


def test_lsvi_ucb_feature_shape_error(small_mdp):
    with pytest.raises(ValueError, match="features must have shape"):
        lsvi_ucb.run(small_mdp, K=2, seed=0, features=np.ones((3, 12, 3, 2)))


# ----------------------------------------------------------------------------- result attributes
def test_feature_angle_and_nash_gap_are_result_attributes(small_mdp):
    """``res.feature_angle`` / ``res.nash_gap`` are the extras arrays themselves (read-only, shape (K,))."""
    res = contrastive_ucb.run(small_mdp, K=3, seed=0, bonus_scale=0.2)
    assert res.feature_angle is res.extras["feature_angle"] and res.feature_angle.shape == (3,)
    assert np.all((res.feature_angle >= 0) & (res.feature_angle <= np.pi / 2 + 1e-12))
    assert not res.feature_angle.flags.writeable
    with pytest.raises(AttributeError, match="no 'nash_gap'"):
        res.nash_gap
    assert not hasattr(res, "nash_gap")
    game = random_lowrank_game(3, 2, 2, 2, 2, seed=0)
    g = contrastive_ucb.run_game(game, K=2, seed=0, bonus_scale=0.2)
    assert g.nash_gap is g.extras["nash_gap"] and g.nash_gap.shape == (2,)
    assert g.feature_angle.shape == (2,)


def test_other_algorithms_results_have_no_feature_angle():
    from mdpkit.algorithms.results import RunResult

    res = RunResult.from_values("ucbvi", [0.5, 0.7], 1.0, seed=0, hyper={})
    with pytest.raises(AttributeError, match="'ucbvi' result has no 'feature_angle'"):
        res.feature_angle
    np.testing.assert_allclose(res.regret, [0.5, 0.8])  # unchanged construction path


# ----------------------------------------------------------------------------- cold refits
def test_cold_refits_recover_the_lock_features():
    """Regression for the warm-start basin: with cold refits the learned span of the lock is exact."""
    from mdpkit.envs.lowrank import combination_lock

    lock = combination_lock(3, 2, 3, seed=0)
    res = contrastive_ucb.run(lock, K=200, seed=0, bonus_scale=0.3)
    assert res.hyper["cold_refits"] is True and res.extras["cold_refit_wins"] >= 1
    assert res.feature_angle[-1] < 0.2
    off = contrastive_ucb.run(lock, K=5, seed=0, bonus_scale=0.3, cold_refits=False)
    assert off.hyper["cold_refits"] is False and off.extras["cold_refit_wins"] == 0


def test_cold_refits_keep_random_features_fixed(small_mdp):
    """The restarted learner uses the same init seed, so frozen random features stay the same."""
    ex = contrastive_ucb._Explorer(small_mdp.P, small_mdp.mu0, small_mdp.A, small_mdp.d,
                                   np.full(small_mdp.S, 1.0 / small_mdp.S), 1, 20, "random", 1.0, 5)
    phi0 = ex.learner.current().phi.copy()
    policy = np.full((small_mdp.H, small_mdp.S, small_mdp.A), 1.0 / small_mdp.A)
    for _ in range(4):  # fits 1, 2 and 4 include a cold refit
        ex.collect(policy, "per_stage")
        fit, _, _ = ex.fit_and_bonus(1.0)
        np.testing.assert_array_equal(fit.phi, phi0)


def test_cold_refits_flag_is_validated(small_mdp):
    with pytest.raises(ValueError, match="cold_refits must be True or False"):
        contrastive_ucb.run(small_mdp, K=1, seed=0, cold_refits=1)
