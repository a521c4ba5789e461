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
