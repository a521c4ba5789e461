"""Recovery metrics (mdpkit.lowrank_metrics), the generic instance generator, and the generic claims."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import subspace_angles

from mdpkit import lowrank_metrics as lm
from mdpkit.envs.lowrank import generic_lowrank_mdp, random_lowrank_mdp


# ----------------------------------------------------------------------------- principal angles
def test_identical_spans_give_zero():
    rng = np.random.default_rng(0)
    phi = rng.random((2, 12, 3))
    mixed = phi @ rng.standard_normal((3, 3))  # same span, another basis
    out = lm.stage_span_errors(mixed, phi, np.ones((2, 12)))
    np.testing.assert_allclose(out["largest"], 0.0, atol=1e-7)
    np.testing.assert_allclose(out["rms_sin"], 0.0, atol=1e-7)


def test_orthogonal_spans_give_right_angle():
    # columns e_0, e_1 against e_2, e_3 on 6 rows: every angle is pi/2
    eye = np.eye(6)
    out = lm.stage_span_errors(eye[None, :, :2], eye[None, :, 2:4], np.ones((1, 6)))
    assert out["largest"][0] == pytest.approx(np.pi / 2, abs=1e-12)
    assert out["rms_sin"][0] == pytest.approx(1.0, abs=1e-12)


def test_one_of_two_directions_missed():
    # truth span{e0, e1}, estimate span{e0, e2}: angles (0, pi/2), rms sin = sqrt(1/2)
    eye = np.eye(5)
    out = lm.stage_span_errors(eye[None, :, [0, 2]], eye[None, :, :2], np.ones((1, 5)))
    assert out["largest"][0] == pytest.approx(np.pi / 2)
    assert out["rms_sin"][0] == pytest.approx(np.sqrt(0.5))


def test_known_angle_between_lines():
    # lines through (1, 0, 0) and (cos t, sin t, 0): angle t
    t = 0.3
    a = np.array([[1.0], [0.0], [0.0]])
    b = np.array([[np.cos(t)], [np.sin(t)], [0.0]])
    assert np.arcsin(lm.principal_sines(b, a)[-1]) == pytest.approx(t, rel=1e-12)


def test_lower_rank_estimate_misses_a_direction():
    rng = np.random.default_rng(1)
    truth = rng.random((10, 3))
    collapsed = np.repeat(truth[:, :1], 3, axis=1)  # rank 1, inside the true span
    sines = lm.principal_sines(collapsed, truth)
    assert sines.shape == (3,)
    np.testing.assert_allclose(sines, [0.0, 1.0, 1.0], atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(4, 15), d=st.integers(1, 3))
def test_principal_sines_match_scipy(seed, n, d):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    ours = np.sort(np.arcsin(lm.principal_sines(a, b)))
    # scipy takes arccos for angles whose cosine is near 1, accurate to ~1e-8 only there
    np.testing.assert_allclose(ours, np.sort(subspace_angles(a, b)), atol=1e-7)


def test_weights_scale_rows_and_zero_weight_rows_drop_out():
    rng = np.random.default_rng(2)
    phi_hat, phi = rng.random((1, 9, 2)), rng.random((1, 9, 2))
    w = rng.random((1, 9)) + 0.5
    w[0, :3] = 0.0
    out = lm.stage_span_errors(phi_hat, phi, w)
    scale = np.sqrt(w[0, 3:])[:, None]
    expected = subspace_angles(scale * phi_hat[0, 3:], scale * phi[0, 3:]).max()
    assert out["largest"][0] == pytest.approx(expected, abs=1e-10)
    assert out["n_rows"][0] == 6
    # garbage in the zero-weight rows changes nothing
    phi_hat[0, :3] = 1e6
    assert lm.stage_span_errors(phi_hat, phi, w)["largest"][0] == pytest.approx(out["largest"][0], abs=1e-12)


def test_stages_with_at_most_d_visited_pairs_are_nan_not_zero():
    rng = np.random.default_rng(3)
    d = 3
    phi_hat, phi = rng.random((3, 8, d)), rng.random((3, 8, d))
    w = np.zeros((3, 8))
    w[0, :d] = 1.0       # exactly d rows: any d features span them -> NaN
    w[1, :d + 1] = 1.0   # d + 1 rows: measured
    out = lm.stage_span_errors(phi_hat, phi, w)     # stage 2: no rows
    assert np.isnan(out["largest"][0]) and np.isnan(out["rms_sin"][0])
    assert np.isfinite(out["largest"][1]) and out["largest"][1] > 0
    assert np.isnan(out["largest"][2])
    np.testing.assert_array_equal(out["n_rows"], [d, d + 1, 0])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="weight"):
        lm.stage_span_errors(np.ones((1, 4, 2)), np.ones((1, 4, 2)), -np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"weight\[0, 1\]"):
        lm.stage_span_errors(np.ones((1, 4, 2)), np.ones((1, 4, 2)), [[1.0, np.nan, 1.0, 1.0]])
    with pytest.raises(ValueError, match="agree on"):
        lm.stage_span_errors(np.ones((1, 5, 2)), np.ones((1, 4, 2)), np.ones((1, 4)))
    with pytest.raises(ValueError, match="n_draws"):
        lm.random_feature_level(np.ones((1, 4, 2)), np.ones((1, 4)), n_draws=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="next_counts"):
        lm.count_kernel(-np.ones((1, 2, 3)))


# ----------------------------------------------------------------------------- references
def test_random_features_are_the_learner_initial_features():
    from mdpkit.algorithms.contrastive import ContrastiveLearner

    # same generator stream: softmax of standard normals, as ContrastiveLearner(init_scale=1)
    learner = ContrastiveLearner(2, 5, 4, 3, np.full(4, 0.25), seed=np.random.default_rng(7))
    np.testing.assert_allclose(lm.random_features((2, 5, 3), np.random.default_rng(7)), learner.current().phi,
                               rtol=1e-12)


def test_random_feature_level_is_near_orthogonal_off_the_shared_direction():
    # N = 60 generic rows, d = 3: the all-ones direction is shared by every simplex feature map,
    # the other two random directions are nearly orthogonal to the true ones
    mdp = random_lowrank_mdp(15, 4, 1, 3, seed=0)
    phi = mdp.phi.reshape(1, 60, 3)
    out = lm.random_feature_level(phi, np.ones((1, 60)), n_draws=20, rng=np.random.default_rng(0))
    assert out["largest_draws"].shape == (20, 1)
    assert 1.2 < out["largest"][0] <= np.pi / 2
    # rms sin over 3 directions, one of them 0: at most sqrt(2/3)
    assert out["rms_sin"][0] <= np.sqrt(2 / 3) + 1e-12
    assert out["rms_sin"][0] > 0.6
    # the true features themselves are at 0
    assert lm.stage_span_errors(phi, phi, np.ones((1, 60)))["largest"][0] == pytest.approx(0.0, abs=1e-7)


def test_count_svd_recovers_the_span_from_exact_counts():
    mdp = random_lowrank_mdp(12, 3, 2, 3, seed=1)
    P = mdp.P.reshape(2, 36, 12)
    visits = np.random.default_rng(0).integers(1, 50, size=(2, 36)).astype(float)
    visits[1, :30] = 0.0  # stage 1: 6 visited rows
    counts = visits[:, :, None] * P  # "infinite-data" counts: count kernel = P on visited rows
    feats = lm.count_svd_features(counts, 3)
    out = lm.stage_span_errors(feats, mdp.phi.reshape(2, 36, 3), visits)
    np.testing.assert_allclose(out["largest"], 0.0, atol=1e-6)
    assert np.all(feats[1, :30] == 0)


def test_count_kernel_and_kernel_error_by_hand():
    counts = np.array([[[3.0, 1.0], [0.0, 0.0], [0.0, 2.0]]])   # (1, 3, 2)
    np.testing.assert_allclose(lm.count_kernel(counts)[0], [[0.75, 0.25], [0.0, 0.0], [0.0, 1.0]])
    P = np.array([[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]])
    w = np.array([[4.0, 0.0, 2.0]])
    # TV row 0 = 0.25, row 2 = 0.5; weighted (4 * 0.25 + 2 * 0.5) / 6
    assert lm.kernel_error(lm.count_kernel(counts), P, w)[0] == pytest.approx(2.0 / 6.0)
    assert np.isnan(lm.kernel_error(P, P, np.zeros((1, 3)))[0])


# ----------------------------------------------------------------------------- generator
def test_generic_instance_is_random_lowrank_with_uniform_start():
    g = generic_lowrank_mdp(20, 3, 2, 3, seed=5)
    r = random_lowrank_mdp(20, 3, 2, 3, mu0=np.full(20, 1 / 20), seed=5)
    np.testing.assert_array_equal(g.phi, r.phi)
    np.testing.assert_array_equal(g.psi, r.psi)
    np.testing.assert_allclose(g.mu0, 1 / 20)
    assert "generic_lowrank" in g.name and (g.S, g.A, g.H, g.d) == (20, 3, 2, 3)
    assert not np.array_equal(generic_lowrank_mdp(20, 3, 2, 3, seed=6).phi, g.phi)
    with pytest.raises(ValueError, match="S"):
        generic_lowrank_mdp(0, 3, 2, 3, seed=0)


def test_oracle_psi_features_recover_phi_from_exact_counts():
    mdp = random_lowrank_mdp(10, 3, 1, 3, seed=2)
    counts = 1e4 * mdp.P.reshape(1, 30, 10)
    counts[0, :5] = 0.0  # unvisited anchors keep the uniform point
    phi = lm.oracle_psi_features(counts, mdp.psi, n_iter=3000)
    np.testing.assert_allclose(phi[0, 5:], mdp.phi.reshape(1, 30, 3)[0, 5:], atol=2e-3)
    np.testing.assert_allclose(phi[0, :5], 1 / 3)
    np.testing.assert_allclose(phi.sum(axis=2), 1.0)


def test_oracle_psi_em_increases_the_likelihood():
    mdp = random_lowrank_mdp(8, 2, 1, 3, seed=3)
    rng = np.random.default_rng(0)
    counts = np.stack([rng.multinomial(5, p) for p in mdp.P.reshape(16, 8)])[None].astype(float)

    def loglik(phi):
        mix = np.einsum("hxi,his->hxs", phi, mdp.psi)
        return float(np.sum(np.where(counts > 0, counts * np.log(np.where(counts > 0, mix, 1.0)), 0.0)))

    values = [loglik(lm.oracle_psi_features(counts, mdp.psi, n_iter=n)) for n in (1, 5, 50, 500)]
    assert all(b >= a - 1e-9 for a, b in zip(values, values[1:]))
    assert loglik(lm.oracle_psi_features(counts, mdp.psi, n_iter=500)) >= loglik(np.full((1, 16, 3), 1 / 3))


def test_spectral_snr_by_hand():
    # exact counts: no noise, infinite ratio; rank-1 kernel with d = 2: signal sigma_2 = 0 -> 0
    P = np.array([[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]])
    assert lm.spectral_snr(4 * P, P, 1)[0] == np.inf
    noisy = np.array([[[3.0, 1.0], [1.0, 3.0], [2.0, 2.0], [2.0, 2.0]]])
    assert lm.spectral_snr(noisy, P, 2)[0] == 0.0
    assert np.isnan(lm.spectral_snr(noisy[:, :2], P[:, :2], 2)[0])  # 2 rows <= d = 2


# ----------------------------------------------------------------------------- online snapshots and claims
from proofs_check import derive_seed  # noqa: E402
from proofs_check.claims import _contrastive_generic as generic  # noqa: E402

# No QUICK_FAMILY here: run alone, this module computes only its two claims (quick_sweep); they are in
# contrastive_ucb.CLAIMS, so with the family's tests the background sweep covers them.
TINY = {"S": 8, "A": 3, "H": 2, "d": 2, "K": 12}


def test_snapshots_match_the_run_and_its_own_angle():
    from mdpkit.algorithms import contrastive_ucb

    mdp = generic_lowrank_mdp(8, 3, 2, 2, seed=0)
    snaps, res = generic.online_snapshots(mdp, K=12, seed=3, checkpoints=[4, 12])
    plain = contrastive_ucb.run(mdp, K=12, seed=3)
    np.testing.assert_array_equal(res.values, plain.values)  # record=True changes no output
    assert "trace" not in res.extras
    assert [s["k"] for s in snaps] == [4, 12]
    for snap in snaps:  # per_stage data: one transition per stage per episode
        np.testing.assert_array_equal(snap["anchor_counts"].sum(axis=1), [snap["k"]] * 2)
        np.testing.assert_allclose(snap["P_hat"].sum(axis=2), 1.0)
    # the run's own summary (scipy, worst stage) equals the per-stage metric's maximum when every
    # stage has more than d visited pairs
    out = lm.stage_span_errors(snaps[-1]["phi"], mdp.phi.reshape(2, 24, 2), snaps[-1]["anchor_counts"])
    assert np.all(out["n_rows"] > 2)
    assert np.nanmax(out["largest"]) == pytest.approx(res.feature_angle[-1], abs=1e-7)
    with pytest.raises(ValueError, match="checkpoints"):
        generic.online_snapshots(mdp, K=12, seed=3, checkpoints=[13])


def test_generic_observables_are_reproducible_and_seeded():
    claim = generic.SEPARATED_LEARNING
    for name, observe in claim.variants():
        a = observe(TINY, derive_seed(claim.id, TINY, 0))
        b = observe(TINY, derive_seed(claim.id, TINY, 0))
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")
        c = observe(TINY, derive_seed(claim.id, TINY, 1))
        assert not np.array_equal(a["learned_angle"], c["learned_angle"]), name
        assert a["shortfall"] == pytest.approx(generic.MARGIN - a["margin"])
        assert a["learning_shortfall"] == pytest.approx(generic.LEARNING_MARGIN - a["margin"])
        assert a["margin"] == pytest.approx(np.nanmean(a["random_angle"] - a["learned_angle"]))


def test_random_features_mutant_reports_the_initial_features():
    # frozen features: the learned angle is that of the learner's initial softmax features
    a = generic.observe_generic_random_features(TINY, derive_seed("x", TINY, 0))
    assert np.all(np.isfinite(a["learned_angle"]))
    b = generic.observe_generic_recovery(TINY, derive_seed("x", TINY, 0))
    np.testing.assert_array_equal(a["random_angle"], b["random_angle"])  # same rows drawn, same reference
    assert not np.array_equal(a["learned_angle"], b["learned_angle"])


def test_never_refit_mutant_keeps_its_first_features():
    from unittest import mock

    from mdpkit.algorithms.contrastive import ContrastiveLearner

    calls = []
    original = ContrastiveLearner.current

    def spy(self, **kw):
        calls.append(kw.get("n_iterations", 0))
        return original(self, **kw)

    with mock.patch.object(ContrastiveLearner, "current", spy):
        generic.observe_generic_never_refit(TINY, derive_seed("x", TINY, 0))
    # one real fit (its iterations reported), then K - 1 stale returns with 0 iterations
    assert len(calls) == TINY["K"] and calls[0] > 0 and not any(calls[1:])


def test_derived_mutant_reports_the_random_level():
    obs = generic.observe_generic_recovery(TINY, derive_seed("x", TINY, 0))
    out = generic._learned_replaced_by_random(obs)
    np.testing.assert_array_equal(out["learned_angle"], obs["random_angle"])
    assert out["shortfall"] == generic.MARGIN and obs["shortfall"] != generic.MARGIN


def test_generic_claims_are_well_formed_and_cheap_to_import():
    import subprocess
    import sys

    ids = [c.id for c in generic.GENERIC_CLAIMS]
    assert ids == ["contrastive_ucb.generic_span_vs_random", "contrastive_ucb.generic_separated_learning"]
    for claim in generic.GENERIC_CLAIMS:
        assert claim.family == "contrastive_ucb" and claim.provenance.kind == "reconstructed"
        assert "docs/papers/contrastive_ucb.md#" in claim.provenance.note
    finding = generic.GENERIC_SPAN_VS_RANDOM.finding
    assert finding.expect == "FAIL" and finding.statistic == "claim.max_excess"
    assert not generic.SEPARATED_LEARNING.finding
    heavy = ("mdpkit.algorithms", "mdpkit.envs", "mdpkit.lowrank", "numba", "scipy", "matplotlib")
    code = ("import sys, proofs_check.claims._contrastive_generic; "
            f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.fixture(scope="module")
def generic_quick(quick_sweep):
    return {r.claim.id: r for r in quick_sweep(generic.GENERIC_CLAIMS).results}


def test_quick_budget_verdicts(generic_quick):
    # the acceptance target fails at the random level, reproducing its pinned finding
    finding = generic_quick["contrastive_ucb.generic_span_vs_random"].verdict
    assert finding.label == "FAIL (documented)", finding.summary
    assert finding.finding_check["reproduces"] and finding.finding_check["inside"]
    # on separated instances with 8 negatives the learner beats random; both mutants are caught
    learning = generic_quick["contrastive_ucb.generic_separated_learning"].verdict
    assert learning.label == "PASS", learning.summary
    assert {m.name for m in learning.mutants if m.caught} == {"random_features", "never_refit"}
