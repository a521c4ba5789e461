"""HF-UCRL-RFE++ and UCRL-RFE: kernels against numpy references, determinism, confidence sets, planning."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit import audit
from mdpkit.algorithms import _linear_kernels as kern
from mdpkit.algorithms import hf_rfe, ucrl_rfe
from mdpkit.envs.linear import long_horizon_two_state, random_linear_mixture, three_state_hard
from mdpkit.linear import plan_with_ellipsoids

ALGORITHMS = [hf_rfe, ucrl_rfe]
sizes = st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(0, 10 ** 6))


def _spd_inverse(rng, d):
    G = rng.normal(size=(d, d))
    return np.linalg.inv(G @ G.T + 0.5 * np.eye(d))


def _vertices(S):
    return ((np.arange(2 ** S)[:, None] >> np.arange(S)[None, :]) & 1).astype(np.float64)


def _norms(X, inv):
    return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", X, inv, X), 0.0))


# ---------------------------------------------------------------------------- kernels vs numpy
@given(sizes)
def test_max_vertex_norms_matches_enumeration(size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    inv = _spd_inverse(np.random.default_rng(seed), d)
    ref = _norms(np.einsum("vt,satd->vsad", _vertices(S), m.phi), inv)  # (2^S, S, A)
    norms, vertices = np.empty((S, A)), np.empty((S, A), dtype=np.int64)
    kern.max_vertex_norms(np.ascontiguousarray(m.phi), inv, norms, vertices)
    np.testing.assert_allclose(norms, ref.max(axis=0), rtol=1e-12, atol=1e-14)
    chosen = np.take_along_axis(ref, vertices[None], axis=0)[0]  # the returned vertex attains the max
    np.testing.assert_allclose(chosen, ref.max(axis=0), rtol=1e-12, atol=1e-14)


def _reference_dp(m, extra, theta, inv, coef, cap):
    """Plain numpy: V_h = clip(max_a extra_h + <psi, theta> + coef ||psi||), argmax untruncated."""
    H, S = extra.shape[0], m.S
    V, policy = np.zeros((H + 1, S)), np.zeros((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        X = m.psi(V[h + 1])
        q = extra[h] + X @ theta + coef * _norms(X, inv)
        policy[h] = q.argmax(axis=1)
        V[h] = np.clip(q.max(axis=1), 0.0, cap)
    return V, policy


def _reference_uncertainty_dp(m, extra, tie_key, theta, inv, coef):
    """Plain numpy: V_h = clip(max_a q), q = extra_h + <psi, theta> + coef ||psi||; among the actions
    within TIE_RTOL of the maximum, the largest tie_key, then the lowest index."""
    H, S = extra.shape[0], m.S
    V, policy = np.zeros((H + 1, S)), np.zeros((H, S), dtype=np.int64)
    n_tied = np.zeros((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        X = m.psi(V[h + 1])
        q = extra[h] + X @ theta + coef * _norms(X, inv)
        best = q.max(axis=1, keepdims=True)
        tied = q >= best - kern.TIE_RTOL * np.maximum(1.0, np.abs(best))
        n_tied[h] = tied.sum(axis=1)
        policy[h] = np.where(tied, tie_key[h], -np.inf).argmax(axis=1)
        V[h] = np.clip(best[:, 0], 0.0, 1.0)
    return V, policy, n_tied


@pytest.mark.parametrize("key", ["zeros", "random", "saturated"])
@given(sizes)
def test_uncertainty_dp_matches_reference(key, size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    rng = np.random.default_rng(seed)
    u, theta, inv = rng.random((S, A)) * 0.3, rng.normal(size=d), _spd_inverse(rng, d) * 0.05
    coef = 0.7
    if key == "saturated":  # the findings' regime: u = 1 and no other term, so every action ties
        u, theta, coef = np.ones((S, A)), np.zeros(d), 0.0
    tie_key = np.zeros((H, S, A)) if key == "zeros" else rng.random((H, S, A))
    extra = np.broadcast_to(u, (H, S, A)).copy()
    extra[H - 1] = 0.0
    V, policy = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    n_tied = np.empty((H, S), dtype=np.int64)
    kern.uncertainty_dp(np.ascontiguousarray(m.phi), u, tie_key, theta, inv, coef, V, policy, n_tied)
    V_ref, pol_ref, tied_ref = _reference_uncertainty_dp(m, extra, tie_key, theta, inv, coef)
    np.testing.assert_allclose(V, V_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(policy, pol_ref)
    np.testing.assert_array_equal(n_tied, tied_ref)
    if key == "saturated":
        assert np.all(n_tied == A)
        np.testing.assert_array_equal(policy, tie_key.argmax(axis=2))


@given(sizes)
def test_optimistic_dp_matches_reference(size):
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    rng = np.random.default_rng(seed)
    R, theta, inv = rng.random((H, S, A)), rng.normal(size=d), _spd_inverse(rng, d)
    V, policy = np.empty((H + 1, S)), np.empty((H, S), dtype=np.int64)
    kern.optimistic_dp(np.ascontiguousarray(m.phi), R, theta, inv, 1.3, float(H), V, policy)
    V_ref, pol_ref = _reference_dp(m, R, theta, inv, 1.3, float(H))
    np.testing.assert_allclose(V, V_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(policy, pol_ref)


def _reference_home_step(V_next, X, y, theta, inv_run, inv_frozen, beta, alpha, gamma):
    """Plain numpy HOME weights (thesis Alg. 5)."""
    M = X.shape[0]
    clip = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    sigma2 = np.empty(M)
    for m in range(M):
        epistemic = gamma ** 2 * _norms(X[m], inv_run[m])
        if m < M - 1:
            var = clip(X[m + 1] @ theta[m + 1]) - clip(X[m] @ theta[m]) ** 2
            err = min(1.0, 2 * beta * _norms(X[m], inv_frozen[m])) + min(1.0, beta * _norms(X[m + 1], inv_frozen[m + 1]))
            sigma2[m] = max(epistemic, var + err, alpha ** 2)
        else:
            sigma2[m] = max(epistemic, 1.0, alpha ** 2)
    return sigma2


@pytest.mark.parametrize("target", ["random", "vertex", "underflow"])
@pytest.mark.parametrize("weighted", [True, False])
@given(sizes)
def test_vtr_moment_update_matches_reference(weighted, target, size):
    """Also the kernel's two exact shortcuts: a 0/1 target (same feature at every level) and a
    target whose powers underflow to exactly 0 (M = 14 levels, values <= 0.5: 0.5^(2^11) = 0)."""
    S, A, d, H, seed = size
    m = random_linear_mixture(S, A, d, H, seed=seed)
    rng = np.random.default_rng(seed)
    M, beta, alpha, gamma = 4, 0.8, 0.3, d ** -0.25
    V_next = rng.random(S)
    if target == "vertex":
        V_next = (V_next > 0.5).astype(np.float64)
    elif target == "underflow":
        M, V_next = 14, 0.5 * V_next
    s, a, s_next = rng.integers(S), rng.integers(A), rng.integers(S)
    theta = rng.normal(size=(M, d))
    inv_frozen = np.stack([_spd_inverse(rng, d) for _ in range(M)])
    gram = np.stack([np.eye(d) + 0.1 * np.outer(v, v) for v in rng.normal(size=(M, d))])
    inv_run = np.linalg.inv(gram)
    b = rng.normal(size=(M, d))
    X_ref = np.stack([m.psi(V_next ** (2.0 ** j))[s, a] for j in range(M)])
    y_ref = V_next[s_next] ** (2.0 ** np.arange(M))
    if target == "underflow":
        assert np.all(X_ref[-1] == 0.0)  # the shortcut is exercised
    sigma2_ref = (_reference_home_step(V_next, X_ref, y_ref, theta, inv_run, inv_frozen, beta, alpha, gamma)
                  if weighted else np.ones(M))
    gram_ref = gram + np.einsum("m,mi,mj->mij", 1 / sigma2_ref, X_ref, X_ref)
    b_ref = b + (y_ref / sigma2_ref)[:, None] * X_ref

    sigma2 = np.empty(M)
    kern.vtr_moment_update(V_next, np.ascontiguousarray(m.phi), s, a, s_next, theta, inv_run, gram, inv_frozen, b,
                           beta, alpha, gamma, weighted, np.empty((M, d)), np.empty(M), sigma2, np.empty((M, d)),
                           np.empty(S))
    np.testing.assert_allclose(sigma2, sigma2_ref, rtol=1e-12)
    np.testing.assert_allclose(gram, gram_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b, b_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(inv_run, np.linalg.inv(gram_ref), rtol=1e-9, atol=1e-12)


def test_sherman_morrison_inverse_after_many_updates():
    """10^5 rank-one updates with weights in [1/H, 1] (H = 100), as HOME produces.

    Tolerance: relative Frobenius error <= 1e-9. Each update's rounding is ~cond(Sigma) * 1e-16 and
    errors of a positive-definite downdate sequence do not amplify; measured 1.8e-15 (cond 3e4).
    """
    rng = np.random.default_rng(0)
    d, lam = 8, 1.0
    gram, inv, work = lam * np.eye(d), np.eye(d) / lam, np.empty(d)
    scales = rng.gamma(0.3, size=d)  # anisotropic features: a badly conditioned Gram matrix
    for x, w in zip(rng.normal(size=(100_000, d)) * scales, rng.uniform(0.01, 1.0, size=100_000)):
        kern.sherman_morrison_update(inv, gram, x, w, work)
    ref = np.linalg.inv(gram)
    assert np.linalg.cond(gram) > 1e3
    assert np.linalg.norm(inv - ref) / np.linalg.norm(ref) <= 1e-9


# ---------------------------------------------------------------------------- exploration
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_bit_identical_per_seed(alg):
    m = random_linear_mixture(4, 3, 3, 6, seed=5)
    one, two = (alg.explore(m, K=30, seed=11, beta_scale=0.01) for _ in range(2))
    for key in one.diagnostics:
        np.testing.assert_array_equal(one.diagnostics[key], two.diagnostics[key])
    np.testing.assert_array_equal(one.centres, two.centres)
    np.testing.assert_array_equal(one.inverse_grams, two.inverse_grams)
    other = alg.explore(m, K=30, seed=12, beta_scale=0.01)
    assert not np.array_equal(one.diagnostics["states"], other.diagnostics["states"])


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("beta_scale", [1.0, 0.003])
def test_record_adds_diagnostics_and_changes_nothing_else(alg, beta_scale):
    m = random_linear_mixture(4, 3, 3, 6, seed=5)
    plain = alg.explore(m, K=12, seed=11, beta_scale=beta_scale, checkpoints=[5])
    recorded = alg.explore(m, K=12, seed=11, beta_scale=beta_scale, checkpoints=[5], record=True)
    assert set(plain.diagnostics) < set(recorded.diagnostics)
    for key in plain.diagnostics:
        np.testing.assert_array_equal(plain.diagnostics[key], recorded.diagnostics[key])
    for name in ("plan_theta", "centres", "grams", "inverse_grams"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(recorded, name))
    assert plain.hyper == recorded.hyper and plain.radius == recorded.radius
    # The recorded state after the last episode is the returned one; snapshots keep their prefix.
    diag = recorded.diagnostics
    last_gram = diag["gram_after"][-1][:, 0] if alg is hf_rfe else diag["gram_after"][-1][None]  # (E, d, d)
    np.testing.assert_array_equal(last_gram, recorded.grams)
    assert all(v.shape[0] == 12 for v in diag.values())
    assert all(v.shape[0] == 5 for v in recorded.checkpoints[0].diagnostics.values())


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("record", [1, "yes", None])
def test_record_must_be_a_bool(alg, record):
    with pytest.raises(TypeError, match="record must be True or False"):
        alg.explore(random_linear_mixture(3, 2, 2, 4, seed=0), K=2, seed=0, record=record)


def test_hf_record_holds_home_weights_in_range():
    m = random_linear_mixture(3, 2, 3, 5, seed=1)
    ex = hf_rfe.explore(m, K=10, seed=2, beta_scale=0.001, record=True)
    sigma2, hyper = ex.diagnostics["sigma2"], ex.hyper
    assert sigma2.shape == (10, 4, 2, hyper["n_moments"])
    assert np.all(sigma2 >= hyper["alpha"] ** 2)
    np.testing.assert_array_equal(ex.diagnostics["theta_after"][-1, :, 0], ex.centres)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_explore_records_hyperparameters(alg):
    m = random_linear_mixture(3, 2, 2, 5, seed=0)
    ex = alg.explore(m, K=4, seed=np.random.SeedSequence(7), delta=0.1, beta_scale=0.5)
    assert ex.K == 4 and ex.seed == 7
    assert ex.hyper["beta_scale"] == 0.5 and ex.hyper["delta"] == 0.1
    assert ex.radius == pytest.approx(ex.hyper["beta_used"])
    assert all(v.shape[0] == 4 for v in ex.diagnostics.values())


def test_hf_hyperparameters_follow_the_theorem():
    hp = hf_rfe.theoretical_hyperparameters(d=4, H=10, K=10 ** 4, B=2.0, delta=0.01)
    assert hp["n_moments"] == int(np.ceil(np.log2(7e5)))
    assert hp["alpha"] == pytest.approx(10 ** -0.5) and hp["gamma"] == pytest.approx(4 ** -0.25)
    assert hp["lam"] == pytest.approx(1.0)
    assert 3e3 < hp["beta_K"] < 4e3  # docs/papers/hf_rfe.md#hf-rfe-hyper-parameters: ~3.4e3 with base-2 logs


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("kwargs, match", [
    (dict(K=0), "K must be >= 1"),
    (dict(delta=1.5), "delta = 1.5 must be in"),
    (dict(beta_scale=-1.0), "beta_scale = -1.0 must be positive"),
])
def test_explore_argument_errors(alg, kwargs, match):
    args = dict(K=3, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        alg.explore(random_linear_mixture(3, 2, 2, 4, seed=0), **args)


def test_explore_rejects_non_linear_model_and_too_many_states():
    with pytest.raises(ValueError, match="must be a LinearMixtureMDP"):
        hf_rfe.explore("not a model", K=3, seed=0)
    with pytest.raises(ValueError, match="S <= 16"):
        hf_rfe.explore(random_linear_mixture(17, 1, 2, 3, seed=0), K=1, seed=0)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_running_inverses_stay_inverses(alg):
    ex = alg.explore(random_linear_mixture(5, 3, 4, 20, seed=2), K=100, seed=3, beta_scale=0.01)
    for G, inv in zip(ex.grams, ex.inverse_grams):
        np.testing.assert_allclose(inv, np.linalg.inv(G), rtol=1e-8, atol=1e-12)


def test_theoretical_radius_covers_theta_star_and_makes_the_oracle_flat():
    """Theory beta: theta* in every ellipsoid on every seed, and V_hat = 1 throughout (documented:
    exploration is uninformed at feasible K). The theorem's own guarantee, 1 - 4 M delta, is vacuous
    here (M = 12, delta = 0.05), so coverage is measured, not implied."""
    m = random_linear_mixture(4, 3, 3, 8, seed=1)
    for seed in range(10):
        ex = hf_rfe.explore(m, K=40, seed=seed)
        assert ex.diagnostics["covered"].all() and ex.theta_star_covered()
        assert np.all(ex.diagnostics["oracle_value"] == 1.0)


def test_practical_radius_coverage_on_most_seeds():
    """beta_scale = 0.01 (radius ~25 on this instance): theta* stays in all 2M ellipsoids in
    >= 18 of 20 seeds at the end of K = 100 episodes (measured 20/20)."""
    m = random_linear_mixture(4, 3, 3, 8, seed=1)
    covered = [hf_rfe.explore(m, K=100, seed=seed, beta_scale=0.01).theta_star_covered() for seed in range(20)]
    assert sum(covered) >= 18


# ---------------------------------------------------------------------------- planning
def _reference_plugin_plan(m, R, theta):
    V, policy = np.zeros((m.H + 1, m.S)), np.zeros((m.H, m.S), dtype=np.int64)
    for h in range(m.H - 1, -1, -1):
        q = R[h] + m.psi(V[h + 1]) @ theta
        policy[h] = q.argmax(axis=1)
        V[h] = np.clip(q.max(axis=1), 0, 1)
    return policy, V


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_batch_plan_equals_single_plans(alg):
    m = random_linear_mixture(5, 3, 4, 10, seed=4)
    ex = alg.explore(m, K=50, seed=0, beta_scale=0.01)
    battery = audit.reward_battery(m, seed=1, exploration=ex)
    policies, certs = ex.plan(battery.rewards)
    assert policies.shape == (len(battery), m.H, m.S) and certs.shape == (len(battery),)
    for i in (0, 3, len(battery) - 1):
        pol, cert = ex.plan(battery.rewards[i])
        np.testing.assert_array_equal(pol, policies[i])
        assert cert == pytest.approx(certs[i], rel=1e-12, abs=1e-14)


def test_plugin_plan_matches_reference():
    m = random_linear_mixture(5, 3, 4, 10, seed=4)
    ex = hf_rfe.explore(m, K=50, seed=0, beta_scale=0.01)
    battery = audit.reward_battery(m, seed=2)
    result = ex.plan_details(battery.rewards)
    for i in range(len(battery)):
        pol, V = _reference_plugin_plan(m, battery.rewards[i], ex.plan_theta)
        np.testing.assert_array_equal(result.policy[i], pol)
        np.testing.assert_allclose(result.V_model[i], V, atol=1e-12)


def test_certificate_is_exact_with_the_true_model():
    """A single ellipsoid centred at theta* of radius 0: upper = lower = exact values, certificate = gap."""
    m = random_linear_mixture(4, 2, 3, 6, seed=3)
    battery = audit.reward_battery(m, seed=0)
    R = battery.rewards
    res = plan_with_ellipsoids(m, R, plan_theta=np.array(m.theta), centres=np.array(m.theta)[None],
                               inverse_grams=np.eye(3)[None], radius=0.0, planner="plugin")
    import mdpkit
    V_star = mdpkit.solve(m.to_tabular(), rewards=R).value
    np.testing.assert_allclose(res.V_upper[:, 0] @ m.mu0, V_star, atol=1e-12)
    np.testing.assert_allclose(res.certificate, 0.0, atol=1e-12)


#: Practical radius multipliers: UCRL-RFE regresses targets of size up to H with a radius of
#: order H sqrt(d log), and measured coverage at K = 60 needs ~0.1-0.3 of it (0.01 covers in 0/10
#: seeds); HF-UCRL-RFE++'s radius is in the thousands for values in [0, 1], and 0.01 covers 10/10.
PRACTICAL_SCALE = {hf_rfe: 0.01, ucrl_rfe: 0.3}


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("make, practical", [
    (lambda: random_linear_mixture(5, 3, 4, 10, seed=6), False),
    (lambda: random_linear_mixture(5, 3, 4, 10, seed=6), True),
    (lambda: three_state_hard(4, 6, 0.04, seed=2).lmdp, True),
    (lambda: long_horizon_two_state(3, 30, seed=1).lmdp, True),
])
def test_certificate_upper_bounds_the_exact_gap(alg, make, practical):
    """On every battery reward and seed where theta* is in the ellipsoids (the certificate's
    condition), certificate >= exact gap; the condition must hold on most seeds for the test to bite."""
    m = make()
    beta_scale = PRACTICAL_SCALE[alg] if practical else 1.0
    checked = 0
    for seed in range(4):
        ex = alg.explore(m, K=60, seed=seed, beta_scale=beta_scale)
        result = audit.exact_gaps(ex, audit.reward_battery(m, seed=seed, exploration=ex))
        assert np.all(result.gaps >= -1e-12)
        if ex.theta_star_covered():
            checked += 1
            assert result.certified.all(), (result.gaps - result.certificates).max()
    assert checked >= 3


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_checkpoints_are_prefixes_of_the_same_run(alg):
    m = random_linear_mixture(4, 2, 3, 6, seed=1)
    run = alg.explore(m, K=40, seed=2, beta_scale=0.05, checkpoints=(10, 25, 40))
    assert [snap.K for snap in run.checkpoints] == [10, 25]
    for snap in run.checkpoints:
        for key, value in snap.diagnostics.items():
            np.testing.assert_array_equal(value, run.diagnostics[key][:snap.K])
        snap.plan(np.full((6, 4, 2), 1 / 6))
    with pytest.raises(ValueError, match="checkpoints\\[0\\] = 50 exceeds K = 40"):
        alg.explore(m, K=40, seed=2, checkpoints=(50,))


# ---------------------------------------------------------------------------- tie-breaking (issue 5)
@pytest.mark.parametrize("tie_break", hf_rfe.TIE_BREAKS)
def test_tie_break_is_recorded_and_reproducible(tie_break):
    m = three_state_hard(4, 3, 0.01, seed=0).lmdp
    one, two = (hf_rfe.explore(m, K=40, seed=3, beta_scale=0.01, tie_break=tie_break) for _ in range(2))
    assert one.hyper["tie_break"] == tie_break
    for key in one.diagnostics:
        np.testing.assert_array_equal(one.diagnostics[key], two.diagnostics[key])


def test_tie_break_only_chooses_among_maximisers():
    """Whatever the tie-break, the first-step action is one of the tied maximisers: on the hard
    instance with the practical radius every first-step action ties (u = 1 everywhere and the
    successor values are action-independent), so all three rules play a maximiser; they differ
    only in which. Lowest index keeps action 0; random and uncertainty spread over the actions."""
    m = three_state_hard(4, 3, 0.01, seed=0).lmdp
    runs = {tb: hf_rfe.explore(m, K=60, seed=1, beta_scale=0.01, tie_break=tb) for tb in hf_rfe.TIE_BREAKS}
    for run in runs.values():
        assert np.all(run.diagnostics["first_step_ties"] == m.A)  # saturated throughout
    assert np.all(runs["lowest"].diagnostics["actions"][:, 0] == 0)
    assert np.unique(runs["random"].diagnostics["actions"][:, 0]).size == m.A
    assert np.unique(runs["uncertainty"].diagnostics["actions"][:, 0]).size >= m.d
    # The transitions stream does not depend on the tie-break: the same start states.
    np.testing.assert_array_equal(runs["random"].diagnostics["states"][:, 0], runs["lowest"].diagnostics["states"][:, 0])


def test_random_tie_break_is_uniform_over_tied_actions():
    """Chi-square test of the first-step actions over 8 tied actions (K = 800): p > 1e-4."""
    from scipy.stats import chisquare
    m = three_state_hard(4, 3, 0.01, seed=0).lmdp
    run = hf_rfe.explore(m, K=800, seed=5, beta_scale=0.01, tie_break="random")
    assert np.all(run.diagnostics["first_step_ties"] == m.A)
    counts = np.bincount(run.diagnostics["actions"][:, 0], minlength=m.A)
    assert chisquare(counts).pvalue > 1e-4


def test_tie_break_argument_error():
    with pytest.raises(ValueError, match="tie_break must be one of"):
        hf_rfe.explore(random_linear_mixture(3, 2, 2, 4, seed=0), K=2, seed=0, tie_break="first")


def test_seed_sequence_not_mutated_by_explore():
    ss = np.random.SeedSequence(9)
    hf_rfe.explore(random_linear_mixture(3, 2, 2, 4, seed=0), K=3, seed=ss)
    assert ss.n_children_spawned == 0


# ---------------------------------------------------------------------------- BLAS-3 batched planner
def _blas_plan(m, ex, R, planner):
    Bn, H, S = R.shape[0], m.H, m.S
    out = [np.empty((H + 1, S, Bn)) for _ in range(3)]
    policy = np.empty((H, S, Bn), dtype=np.int64)
    cert = kern.plan_ellipsoids_blas(kern.feature_major(m.phi), m.mu0, np.ascontiguousarray(R.transpose(1, 2, 3, 0)),
                                     ex.plan_theta, ex.centres, ex.inverse_grams, ex.radius, planner == "plugin",
                                     *out, policy)
    return policy.transpose(2, 0, 1), cert, [v.transpose(2, 0, 1) for v in out]


def test_feature_major_layout():
    m = random_linear_mixture(4, 3, 5, 2, seed=0)
    V = np.random.default_rng(0).random((4, 7))
    X = (kern.feature_major(m.phi) @ V).reshape(5, 4, 3, 7)
    np.testing.assert_allclose(X.transpose(3, 1, 2, 0), m.psi(V.T), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("alg, planner", [(hf_rfe, "plugin"), (ucrl_rfe, "optimistic")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blas_planner_matches_plan_with_ellipsoids(alg, planner, seed):
    """Same policies, bounds and certificates as the numpy reference planner, and each reward of a
    batch planned alone gives the same policy and certificate (rel. 1e-12)."""
    m = random_linear_mixture(6, 3, 4, 12, seed=seed)
    ex = alg.explore(m, K=40, seed=seed, beta_scale=PRACTICAL_SCALE[alg])
    battery = audit.reward_battery(m, seed=seed, exploration=ex)
    rng = np.random.default_rng(seed)
    R = np.concatenate([battery.rewards, rng.dirichlet(np.ones(m.H), size=8)[:, :, None, None] * rng.random((8, m.H, 6, 3))])
    ref = plan_with_ellipsoids(m, R, plan_theta=ex.plan_theta, centres=ex.centres, inverse_grams=ex.inverse_grams,
                               radius=ex.radius, planner=planner)
    policy, cert, (V_up, V_low, V_model) = _blas_plan(m, ex, R, planner)
    np.testing.assert_array_equal(policy, ref.policy)
    np.testing.assert_allclose(cert, ref.certificate, rtol=1e-10, atol=1e-12)
    for mine, theirs in [(V_up, ref.V_upper), (V_low, ref.V_lower), (V_model, ref.V_model)]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    for i in (0, len(R) // 2, len(R) - 1):
        pol_i, cert_i, _ = _blas_plan(m, ex, R[i:i + 1], planner)
        np.testing.assert_array_equal(pol_i[0], policy[i])
        assert cert_i[0] == pytest.approx(cert[i], rel=1e-12, abs=1e-14)


def test_blas_planner_with_a_singular_ellipsoid():
    """Radius 0 at theta* with a rank-deficient PSD matrix: bounds are the exact values."""
    m = random_linear_mixture(4, 2, 3, 6, seed=3)
    R = audit.reward_battery(m, seed=0).rewards
    inv = np.diag([1.0, 1.0, 0.0])[None]

    class _Ex:  # the attributes the planner reads
        plan_theta, centres, inverse_grams, radius = np.array(m.theta), np.array(m.theta)[None], inv, 0.0

    policy, cert, (V_up, V_low, _) = _blas_plan(m, _Ex, R, "plugin")
    ref = plan_with_ellipsoids(m, R, plan_theta=_Ex.plan_theta, centres=_Ex.centres, inverse_grams=inv, radius=0.0,
                               planner="plugin")
    np.testing.assert_array_equal(policy, ref.policy)
    np.testing.assert_allclose(cert, 0.0, atol=1e-12)


@pytest.mark.parametrize("alg", [hf_rfe, ucrl_rfe])
@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_bad_seed_is_named(alg, seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int or a numpy.random.SeedSequence"):
        alg.explore(random_linear_mixture(3, 2, 2, 4, seed=0), K=2, seed=seed)
