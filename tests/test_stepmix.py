"""StepMix / EpsMix: exact value of the mixture path (vs evaluate and Monte Carlo), pessimistic
kernels vs numpy, the (t, rho) choice, no violations, the offline variant, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdpkit
from mdpkit import envs
from mdpkit.algorithms import _ucbvi_kernels as kern
from mdpkit.algorithms import stepmix, ucbvi


def _inverses(counts_sa):
    """``(1 / n, 1 / sqrt(n))``, 0 where unvisited: the kernels' cached per-pair inverses."""
    visited = counts_sa > 0
    safe = np.where(visited, counts_sa, 1.0)
    return np.where(visited, 1.0 / safe, 0.0), np.where(visited, 1.0 / np.sqrt(safe), 0.0)


def _instance(seed, S=4, A=3, H=4, stationary=True):
    return envs.random_mdp(S, A, H, stationary=stationary, seed=seed, mu0=np.full(S, 1.0 / S))


def _random_baseline(rng, H, S, A, deterministic):
    if deterministic:
        return rng.integers(0, A, size=(H, S))
    return rng.dirichlet(np.ones(A), size=(H, S))


def _river_setup(weight=0.7):
    """RiverSwim with a baseline mixing the optimal policy and 'always swim left'."""
    mdp = envs.riverswim(4, 10)
    opt = mdpkit.solve(mdp).policy
    base = np.zeros((mdp.H, mdp.S, mdp.A))
    np.put_along_axis(base, opt[:, :, None], weight, axis=2)
    base[:, :, 0] += 1.0 - weight
    return mdp, base


# ============================================================================ exact value of the path
@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(1, 5), stationary=st.booleans(),
       deterministic=st.booleans(), rho=st.floats(0.0, 1.0), data=st.data())
@settings(max_examples=40)
def test_path_value_kernel_equals_evaluate(seed, H, stationary, deterministic, rho, data):
    mdp = _instance(seed, H=H, stationary=stationary)
    rng = np.random.default_rng(seed)
    t = data.draw(st.integers(0, H - 1))
    policy_k = rng.integers(0, mdp.A, size=(H, mdp.S))
    baseline = _random_baseline(rng, H, mdp.S, mdp.A, deterministic)
    Vb = mdpkit.evaluate(mdp, baseline).V
    got = kern.true_path_value(np.asarray(mdp.P_stages), mdp.R, mdp.mu0, policy_k, Vb, t, rho, np.zeros((2, mdp.S)))
    want = mdpkit.evaluate(mdp, stepmix.path_policy(policy_k, baseline, t, rho, n_actions=mdp.A)).value
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    # affine in rho: V(t, rho) = rho V(t + 1, 0) + (1 - rho) V(t, 0), with V(H, 0) := V^{pi_k}
    v_t0 = mdpkit.evaluate(mdp, stepmix.path_policy(policy_k, baseline, t, 0.0, n_actions=mdp.A)).value
    v_next = (mdpkit.evaluate(mdp, policy_k).value if t == H - 1
              else mdpkit.evaluate(mdp, stepmix.path_policy(policy_k, baseline, t + 1, 0.0, n_actions=mdp.A)).value)
    assert want == pytest.approx(rho * v_next + (1 - rho) * v_t0, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("deterministic", [True, False])
def test_path_value_equals_monte_carlo_of_the_switch_coin(deterministic):
    """Roll out the mechanism itself -- one coin at step t, then the baseline -- and compare the
    mean return with the exact formula (within 4 standard errors)."""
    mdp = _instance(11, S=5, A=3, H=6, stationary=False)
    rng = np.random.default_rng(5)
    H, S, A = mdp.H, mdp.S, mdp.A
    policy_k = rng.integers(0, A, size=(H, S))
    baseline = _random_baseline(rng, H, S, A, deterministic)
    b_probs = stepmix.baseline_probabilities(baseline, H, S, A)
    t, rho, n = 3, 0.37, 40_000
    exact = mdpkit.evaluate(mdp, stepmix.path_policy(policy_k, baseline, t, rho, n_actions=mdp.A)).value
    P = np.asarray(mdp.P)
    s = rng.choice(S, size=n, p=mdp.mu0)
    coin = rng.random(n) < rho
    returns = np.zeros(n)
    for h in range(H):
        base_a = (rng.random(n)[:, None] > np.cumsum(b_probs[h, s], axis=1)).sum(axis=1)
        use_k = (h < t) | ((h == t) & coin)
        a = np.where(use_k, policy_k[h, s], base_a)
        returns += mdp.R[h, s, a]
        s = (rng.random(n)[:, None] > np.cumsum(P[h, s, a], axis=1)).sum(axis=1)
    se = returns.std(ddof=1) / math.sqrt(n)
    assert abs(returns.mean() - exact) < 4 * se, (returns.mean(), exact, se)


# ============================================================================ pessimistic kernels
def reference_lower_values(counts_sas, counts_sa, R, coef, probs_per_stage):
    """max(0, R + P_hat V - coef (H-h-1)/sqrt(n)) backward, for a Markov policy (H, S, A)."""
    H, S, A = R.shape
    G = counts_sas.shape[0]
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        g = h if G > 1 else 0
        n = counts_sa[g]
        with np.errstate(divide="ignore", invalid="ignore"):
            q = R[h] + (counts_sas[g] @ V[h + 1]) / n - coef * (H - h - 1) / np.sqrt(n)
        q = np.where(n > 0, np.maximum(q, 0.0), 0.0)
        if h == H - 1:
            q = R[h]
        V[h] = (probs_per_stage[h] * q).sum(axis=1)
    return V


@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(1, 5), stationary=st.booleans(),
       deterministic=st.booleans(), rho=st.floats(0.0, 1.0), data=st.data())
@settings(max_examples=40)
def test_pessimistic_values_match_numpy(seed, H, stationary, deterministic, rho, data):
    rng = np.random.default_rng(seed)
    S, A = 4, 3
    G = 1 if stationary else H
    counts_sas = (rng.integers(0, 30, size=(G, S, A, S)) * (rng.random((G, S, A, 1)) < 0.8)).astype(float)
    counts_sa = counts_sas.sum(axis=3)
    inv = _inverses(counts_sa)
    R = rng.random((H, S, A))
    mu0 = rng.dirichlet(np.ones(S))
    coef = float(rng.choice([0.0, 0.05, 0.3]))
    policy_k = rng.integers(0, A, size=(H, S))
    b_probs = stepmix.baseline_probabilities(_random_baseline(rng, H, S, A, deterministic), H, S, A)
    W_low, W_up = np.zeros((H + 1, S)), np.zeros((H + 1, S))
    kern.baseline_bounds(counts_sas, counts_sa, *inv, R, b_probs, coef, True, W_low, W_up)
    np.testing.assert_allclose(W_low, reference_lower_values(counts_sas, counts_sa, R, coef, b_probs),
                               rtol=1e-12, atol=1e-12)
    assert np.all(W_up >= W_low - 1e-12)
    t = data.draw(st.integers(0, H - 1))
    path = stepmix.path_policy(policy_k, b_probs, t, rho)
    bufs = np.zeros((2, S)), np.zeros((2, S))
    f, slope = kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, rho, *bufs)
    ref = mu0 @ reference_lower_values(counts_sas, counts_sa, R, coef, path)[0]
    assert f == pytest.approx(ref, rel=1e-12, abs=1e-12)
    # right derivative vs a one-sided finite difference (f is piecewise linear)
    eps = 1e-7
    if rho + eps <= 1.0:
        f_eps, _ = kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, rho + eps,
                                               *bufs)
        assert slope == pytest.approx((f_eps - f) / eps, abs=1e-5)


@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(2, 5))
@settings(max_examples=30)
def test_largest_feasible_rho_is_maximal(seed, H):
    """The Newton root finder returns a certified rho, and no rho on a fine grid above it is certified."""
    rng = np.random.default_rng(seed)
    S, A = 3, 2
    counts_sas = rng.integers(1, 40, size=(1, S, A, S)).astype(float)
    counts_sa = counts_sas.sum(axis=3)
    inv = _inverses(counts_sa)
    R = rng.random((H, S, A))
    mu0 = rng.dirichlet(np.ones(S))
    coef = float(rng.uniform(0.0, 0.3))
    policy_k = rng.integers(0, A, size=(H, S))
    b_probs = stepmix.baseline_probabilities(rng.integers(0, A, size=(H, S)), H, S, A)
    W_low, W_up = np.zeros((H + 1, S)), np.zeros((H + 1, S))
    kern.baseline_bounds(counts_sas, counts_sa, *inv, R, b_probs, coef, False, W_low, W_up)
    bufs = np.zeros((2, S)), np.zeros((2, S))
    t = int(rng.integers(0, H))
    grid = np.linspace(0.0, 1.0, 2001)
    f = np.array([kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, r,
                                              *bufs)[0]
                  for r in grid])
    assert np.all(np.diff(f, 2) >= -1e-9)  # convex in rho
    lo, hi = min(f[0], f[-1]), max(f[0], f[-1])
    if not f[0] > f[-1]:
        return  # the root finder is only used when f_t(0) >= thr > f_t(1)
    thr = float(rng.uniform(f[-1], f[0]))
    rho, val = kern.largest_feasible_rho(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, thr, *bufs)
    assert val >= thr and 0.0 <= rho < 1.0
    assert val == kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, rho,
                                              *bufs)[0]
    assert np.all(f[grid > rho + 1e-6] < thr + 1e-9), (lo, hi, rho)


def _random_learner_state(rng, H, S, A, stationary):
    G = 1 if stationary else H
    counts_sas = (rng.integers(0, 30, size=(G, S, A, S)) * (rng.random((G, S, A, 1)) < 0.8)).astype(float)
    return counts_sas, counts_sas.sum(axis=3)


@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(1, 6), stationary=st.booleans(),
       deterministic=st.booleans())
@settings(max_examples=60)
def test_path_upper_bounds_dominate_every_switch_step(seed, H, stationary, deterministic):
    """U[t] >= f_t(0) for every t (the chord bound of the clipped backup), tight when nothing clips."""
    rng = np.random.default_rng(seed)
    S, A = 4, 3
    counts_sas, counts_sa = _random_learner_state(rng, H, S, A, stationary)
    inv = _inverses(counts_sa)
    R = rng.random((H, S, A))
    mu0 = rng.dirichlet(np.ones(S))
    coef = float(rng.choice([0.0, 0.02, 0.3, 3.0]))
    policy_k = rng.integers(0, A, size=(H, S))
    b_probs = stepmix.baseline_probabilities(_random_baseline(rng, H, S, A, deterministic), H, S, A)
    W_low, W_up = np.zeros((H + 1, S)), np.zeros((H + 1, S))
    kern.baseline_bounds(counts_sas, counts_sa, *inv, R, b_probs, coef, False, W_low, W_up)
    U = np.empty(H)
    u_k = kern.path_upper_bounds(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, np.zeros((2, S)), U)
    bufs = np.zeros((2, S)), np.zeros((2, S))
    f_k = kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, H - 1, 1.0, *bufs)[0]
    assert u_k >= f_k - 1e-12, (u_k, f_k)  # the same bound for pi^k itself
    exact = np.array([kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, 0.0,
                                                  *bufs)[0] for t in range(H)])
    assert np.all(U >= exact - 1e-12), (U, exact)
    assert U[0] == pytest.approx(exact[0], abs=1e-12)  # t = 0 is the baseline itself: no backup, exact
    if coef == 0.0:  # no bonus: nothing is ever clipped (R >= 0), the bound is exact
        np.testing.assert_allclose(U, exact, rtol=1e-12, atol=1e-12)
        assert u_k == pytest.approx(f_k, rel=1e-12, abs=1e-12)


@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(1, 6), stationary=st.booleans())
@settings(max_examples=60)
def test_choose_path_point_equals_the_full_scan(seed, H, stationary):
    """The pruned choice equals the brute-force lexicographic scan over every switch step."""
    rng = np.random.default_rng(seed)
    S, A = 4, 3
    counts_sas, counts_sa = _random_learner_state(rng, H, S, A, stationary)
    inv = _inverses(counts_sa)
    R = rng.random((H, S, A))
    mu0 = rng.dirichlet(np.ones(S))
    coef = float(rng.choice([0.02, 0.1, 0.3]))
    policy_k = rng.integers(0, A, size=(H, S))
    b_probs = stepmix.baseline_probabilities(_random_baseline(rng, H, S, A, False), H, S, A)
    W_low, W_up = np.zeros((H + 1, S)), np.zeros((H + 1, S))
    kern.baseline_bounds(counts_sas, counts_sa, *inv, R, b_probs, coef, False, W_low, W_up)
    bufs = np.zeros((2, S)), np.zeros((2, S))
    g = [kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, t, 0.0, *bufs)[0]
         for t in range(H)]
    f_k = kern.pessimistic_path_value(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, H - 1, 1.0, *bufs)[0]
    for thr in [f_k - 1e-3, *np.quantile(g + [f_k], [0.1, 0.5, 0.9]), max(g + [f_k]) + 1e-3]:
        got = kern.choose_path_point(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, float(thr), f_k,
                                     *bufs, np.empty(H))
        if f_k >= thr:
            want_t = H - 1
        else:
            passing = [t for t in range(H) if g[t] >= thr]
            want_t = max(passing) if passing else 0
        assert got[0] == want_t
        assert got[3] == (f_k >= thr or any(x >= thr for x in g))
        if got[3]:
            assert got[2] >= thr
        # run_mix_chunk's other order: bounds first, f_k evaluated only if its bound can pass
        U = np.empty(H)
        u_k = kern.path_upper_bounds(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, np.zeros((2, S)), U)
        f_maybe = f_k if u_k >= thr - kern._SKIP_SLACK else -np.inf
        assert f_maybe == -np.inf or f_maybe == f_k
        assert kern.choose_given_bounds(counts_sas, counts_sa, *inv, R, mu0, coef, policy_k, W_low, float(thr),
                                        f_maybe, *bufs, U) == got


# ============================================================================ run()
@pytest.mark.parametrize("variant", stepmix.VARIANTS)
@pytest.mark.parametrize("known", [True, False])
def test_no_violations_and_constraint_binds(variant, known):
    """On RiverSwim, UCBVI violates the episode-wise constraint while StepMix/EpsMix never do --
    and they do leave the baseline (the check is not vacuous)."""
    mdp, base = _river_setup()
    K, alpha = 30_000, 0.2
    threshold = (1 - alpha) * mdpkit.evaluate(mdp, base).value
    assert np.count_nonzero(ucbvi.run(mdp, K=K, seed=0).values < threshold) > 100
    for seed in range(3):
        res = stepmix.run(mdp, base, alpha=alpha, K=K, seed=seed, variant=variant, baseline_value_known=known)
        assert res.violations == 0
        assert res.threshold == pytest.approx(threshold)
        assert np.count_nonzero(res.extras["rho"] > 0) > 1000  # explores beyond the baseline
        assert np.all(res.extras["lower_bound"][res.extras["certified"]]
                      >= res.extras["threshold_used"][res.extras["certified"]] - 1e-12)
        if known:
            assert np.all(res.extras["threshold_used"] == threshold)


@pytest.mark.parametrize("seed", range(4))
def test_no_violations_random_instances_quick(seed):
    mdp = envs.random_mdp(4, 2, 4, seed=seed)
    base = np.random.default_rng(seed).integers(0, 2, size=(4, 4))
    for variant in stepmix.VARIANTS:
        res = stepmix.run(mdp, base, alpha=0.1, K=3000, seed=seed, variant=variant)
        assert res.violations == 0
        np.testing.assert_allclose(res.regret, np.cumsum(res.optimal_value - res.values))


def test_epsmix_rho_closed_form():
    mdp, base = _river_setup()
    res = stepmix.run(mdp, base, alpha=0.2, K=20_000, seed=1, variant="epsmix")
    rho, lb, thr = res.extras["rho"], res.extras["lower_bound"], res.threshold
    Vb = res.baseline_value
    mixed = rho < 1.0
    assert mixed.any() and (~mixed).any()
    # rho_k = alpha V^b / (V^b - V_low^{pi_k}), i.e. the mixture's certified value sits on the threshold
    np.testing.assert_allclose(lb[mixed], thr, rtol=1e-12)
    v_low_k = (lb[mixed] - (1 - rho[mixed]) * Vb) / rho[mixed]
    np.testing.assert_allclose(rho[mixed], 0.2 * Vb / (Vb - v_low_k), rtol=1e-9)
    assert np.all(rho >= 0.2 - 1e-12)  # rho_k >= alpha because V_low >= 0


def test_stepmix_switch_step_moves_later_and_bit_identical():
    mdp, base = _river_setup()
    a = stepmix.run(mdp, base, alpha=0.2, K=20_000, seed=3)
    b = stepmix.run(mdp, base, alpha=0.2, K=20_000, seed=np.random.SeedSequence(3))
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.extras["switch_step"], b.extras["switch_step"])
    progress = a.extras["switch_step"] + a.extras["rho"]
    assert progress[:2000].mean() < progress[-2000:].mean()
    assert np.all(a.extras["switch_step"][-1000:] == mdp.H - 1)


@pytest.mark.parametrize("variant", stepmix.VARIANTS)
def test_bit_identical_whatever_the_chunk_size(monkeypatch, variant):
    """Chunks of 7 episodes: every chunk recomputes the cached count inverses and restarts StepMix's
    choice of order (f_k first or the switch-step bounds first), so about one episode in 7 takes the
    other order than in one long chunk -- the results must not move by a bit."""
    mdp, base = _river_setup()
    a = stepmix.run(mdp, base, alpha=0.2, K=20_000, seed=5, variant=variant)
    monkeypatch.setattr(ucbvi, "_UNIFORMS_PER_CHUNK", 7 * (2 + 2 * mdp.H))
    b = stepmix.run(mdp, base, alpha=0.2, K=20_000, seed=5, variant=variant)
    np.testing.assert_array_equal(a.values, b.values)
    for key in a.extras:
        np.testing.assert_array_equal(a.extras[key], b.extras[key])
    certified_k = (a.extras["switch_step"] == mdp.H - 1) & (a.extras["rho"] == 1.0)
    assert 0 < certified_k.mean() < 1  # both regimes (pi^k certified or not) occur in the run


def test_no_pessimism_mutant_certifies_earlier():
    """pessimism_scale=0 certifies on the empirical value alone: it leaves the baseline sooner."""
    mdp, base = _river_setup()
    honest = stepmix.run(mdp, base, alpha=0.2, K=5000, seed=0)
    mutant = stepmix.run(mdp, base, alpha=0.2, K=5000, seed=0, pessimism_scale=0.0)
    assert mutant.hyper["pessimism_scale"] == 0.0
    def first_exploration(res):
        explored = np.flatnonzero(res.extras["rho"] > 0)
        return explored[0] if explored.size else res.K

    assert first_exploration(mutant) < first_exploration(honest)


def test_offline_variant():
    mdp, base = _river_setup()
    res = stepmix.run_offline(mdp, base, n_trajectories=20_000, alpha=0.2, K=5000, seed=0)
    assert res.violations == 0
    assert res.baseline_value == pytest.approx(mdpkit.evaluate(mdp, base).value)
    assert res.extras["certified"].all()  # large dataset: the cloned baseline is certified from the start
    assert res.extras["offline_ucb"] >= res.baseline_value
    assert abs(res.extras["played_baseline_value"] - res.baseline_value) < 0.05
    again = stepmix.run_offline(mdp, base, n_trajectories=20_000, alpha=0.2, K=5000, seed=0)
    np.testing.assert_array_equal(res.values, again.values)
    small = stepmix.run_offline(mdp, base, n_trajectories=10, alpha=0.2, K=500, seed=0)
    assert not small.extras["certified"].all()


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": 0.0}, "alpha"), ({"alpha": 1.0}, "alpha"), ({"K": 0}, "K"), ({"seed": -3}, "seed"),
    ({"delta": 2.0}, "delta"), ({"variant": "mix"}, "variant"), ({"baseline_value_known": 1}, "baseline_value_known"),
    ({"bonus_scale": -1.0}, "bonus_scale"), ({"bonus": "x"}, "bonus"), ({"pessimism_scale": float("nan")},
                                                                        "pessimism_scale"),
])
def test_validation(kwargs, match):
    mdp = envs.random_mdp(2, 2, 2, seed=0)
    args = {"alpha": 0.1, "K": 5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        stepmix.run(mdp, np.zeros((2, 2), dtype=int), **args)


def test_baseline_validation_names_the_entry():
    mdp = envs.random_mdp(2, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"baseline\[h=1, s=0\] = 5"):
        stepmix.run(mdp, np.array([[0, 0], [5, 0]]), alpha=0.1, K=5, seed=0)
    with pytest.raises(ValueError, match="baseline"):
        stepmix.run(mdp, np.zeros((3, 2), dtype=int), alpha=0.1, K=5, seed=0)
    with pytest.raises(ValueError, match="n_trajectories"):
        stepmix.run_offline(mdp, np.zeros((2, 2), dtype=int), n_trajectories=0, alpha=0.1, K=5, seed=0)
    with pytest.raises(ValueError, match="behaviour_policy"):
        stepmix.run_offline(mdp, np.full((2, 2, 2), 0.7), n_trajectories=5, alpha=0.1, K=5, seed=0)


def test_reconstructed_parts_are_marked():
    """The constraint form and the StepMix/EpsMix mechanisms are reconstructed (abstract only)."""
    doc = stepmix.__doc__
    assert "Reconstructed: the constraint's form" in doc and "Reconstructed: the mechanisms" in doc
    for fn in (stepmix.path_policy, kern.largest_feasible_rho, kern.choose_path_point, kern.run_mix_chunk):
        assert "Reconstructed:" in fn.__doc__, fn.__name__
    assert "recalled" in ucbvi.__doc__ and "Algorithms 1-3" not in ucbvi.__doc__


# ============================================================================ record=True
@pytest.mark.parametrize("variant", ["stepmix", "epsmix"])
@pytest.mark.parametrize("hyper", [{}, {"bonus_scale": 0.02, "pessimism_scale": 0.2},
                                   {"bonus_scale": 0.02, "pessimism_scale": 0.2, "baseline_value_known": False}])
@pytest.mark.parametrize("stationary", [True, False])
def test_record_changes_no_output(variant, hyper, stationary):
    mdp = envs.random_mdp(3, 2, 4, stationary=stationary, seed=5)
    baseline = np.full((mdp.H, mdp.S, mdp.A), 1.0 / mdp.A)
    K = 150
    plain = stepmix.run(mdp, baseline, alpha=0.2, K=K, seed=3, variant=variant, **hyper)
    rec = stepmix.run(mdp, baseline, alpha=0.2, K=K, seed=3, variant=variant, record=True, **hyper)
    np.testing.assert_array_equal(plain.values, rec.values)
    assert plain.hyper == rec.hyper
    for key, arr in plain.extras.items():
        np.testing.assert_array_equal(arr, rec.extras[key])
    assert set(rec.extras) - set(plain.extras) == {*ucbvi.RECORDED, *stepmix.RECORDED_BASELINE}
    W_low, W_up = rec.extras["lower_baseline_V"], rec.extras["upper_baseline_V"]
    assert W_low.shape == (K, mdp.H + 1, mdp.S)
    # the uncertified fallback reports the baseline's pessimistic value at the first step
    fallback = ~rec.extras["certified"] & (rec.extras["rho"] == 0.0)
    if variant == "stepmix" and fallback.any():
        np.testing.assert_array_equal(rec.extras["lower_bound"][fallback], (W_low[:, 0] @ np.asarray(mdp.mu0))[fallback])
    if not hyper.get("baseline_value_known", True):
        np.testing.assert_array_equal(rec.extras["threshold_used"], 0.8 * (W_up[:, 0] @ np.asarray(mdp.mu0)))


def test_record_is_validated():
    mdp = envs.random_mdp(2, 2, 2, seed=0)
    with pytest.raises(ValueError, match="record"):
        stepmix.run(mdp, np.zeros((2, 2), dtype=int), alpha=0.1, K=3, seed=0, record="yes")
