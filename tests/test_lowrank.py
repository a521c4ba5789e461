"""LowRankMDP / LowRankMarkovGame models and the low-rank instance generators."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mdpkit
from mdpkit.envs.lowrank import block_mdp, combination_lock, random_lowrank_game, random_lowrank_mdp
from mdpkit.lowrank import LowRankMarkovGame, LowRankMDP
from mdpkit.markov_game import MarkovGame


def _tiny(H=2, S=3, A=2, d=2, seed=0):
    rng = np.random.default_rng(seed)
    phi = rng.dirichlet(np.ones(d), size=(H, S, A))
    psi = rng.dirichlet(np.ones(S), size=(H, d))
    R = rng.random((H, S, A))
    return phi, psi, R


# ----------------------------------------------------------------------------- validation
def test_valid_model_and_to_tabular():
    phi, psi, R = _tiny()
    m = LowRankMDP(phi, psi, R, 0)
    assert (m.H, m.S, m.A, m.d) == (2, 3, 2, 2)
    tab = m.to_tabular()
    assert isinstance(tab, mdpkit.TabularMDP)
    np.testing.assert_allclose(tab.P, np.einsum("hsai,hit->hsat", phi, psi), atol=1e-15)
    np.testing.assert_array_equal(tab.R, R)
    assert m.to_tabular() is tab  # cached
    # the tabular model's exact solution is what the low-rank model means
    sol = mdpkit.solve(tab)
    assert mdpkit.bellman_residual(tab, sol.V) < 1e-12


def test_immutable():
    m = LowRankMDP(*_tiny(), 0)
    with pytest.raises(AttributeError):
        m.foo = 1
    with pytest.raises(ValueError):
        m.phi[0, 0, 0, 0] = 1.0  # read-only array


def test_negative_kernel_entry_is_named():
    phi, psi, R = _tiny()
    # signed factors are allowed, but this product has a negative entry at (h=1, s=2, a=0)
    phi[1, 2, 0] = [1.5, -0.5]
    psi[1, 0] = [0.0, 0.0, 1.0]
    psi[1, 1] = [0.5, 0.5, 0.0]  # row = [-0.25, -0.25, 1.5]
    with pytest.raises(ValueError, match=r"<phi, psi>\[h=1, s=2, a=0, s'=0\] .* negative probability"):
        LowRankMDP(phi, psi, R, 0)


def test_signed_factors_with_valid_product_are_accepted():
    phi, psi, R = _tiny(d=2)
    psi[0, 1] = psi[0, 0]  # both prototypes equal: any affine weights summing to 1 give the same row
    phi[0, 0, 0] = [2.0, -1.0]
    m = LowRankMDP(phi, psi, R, 0)
    np.testing.assert_allclose(m.P[0, 0, 0], psi[0, 0])


def test_row_sum_error_is_named():
    phi, psi, R = _tiny()
    phi[0, 1, 1] *= 1.1
    with pytest.raises(ValueError, match=r"<phi, psi>\[h=0, s=1, a=1\] sums to"):
        LowRankMDP(phi, psi, R, 0)


@pytest.mark.parametrize("change, pattern", [
    (lambda p, q, r: (p[:, :, :, :1], q, r), r"psi must have shape \(H, d, S\)"),
    (lambda p, q, r: (p[0], q, r), "phi must have 4 dimensions"),
    (lambda p, q, r: (p, q, r[:, :2]), "R must have shape"),
    (lambda p, q, r: (p, q, r + 1.0), r"R\[h=0, s=0, a=0\] = .* outside \[0.0, 1.0\]"),
    (lambda p, q, r: (np.where(np.arange(2)[None, None, None] == 0, np.nan, p), q, r), r"phi\[h=0, s=0, a=0, i=0\]"),
])
def test_bad_inputs_raise(change, pattern):
    phi, psi, R = change(*_tiny())
    with pytest.raises(ValueError, match=pattern):
        LowRankMDP(phi, psi, R, 0)


def test_bad_mu0():
    phi, psi, R = _tiny()
    with pytest.raises(ValueError, match="mu0"):
        LowRankMDP(phi, psi, R, 7)


def test_lowrank_game_validation_and_to_game():
    rng = np.random.default_rng(1)
    phi = rng.dirichlet(np.ones(2), size=(2, 3, 2, 2))
    psi = rng.dirichlet(np.ones(3), size=(2, 2))
    R = rng.random((2, 3, 2, 2))
    g = LowRankMarkovGame(phi, psi, R, 0)
    game = g.to_game()
    assert isinstance(game, MarkovGame)
    np.testing.assert_allclose(game.P, np.einsum("hsabi,hit->hsabt", phi, psi), atol=1e-15)
    phi[0, 0, 1, 1] = [0.7, 0.7]
    with pytest.raises(ValueError, match=r"<phi, psi>\[h=0, s=0, a=1, b=1\] sums to"):
        LowRankMarkovGame(phi, psi, R, 0)


# ----------------------------------------------------------------------------- generators
def _rank(P_h: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(P_h.reshape(-1, P_h.shape[-1]), tol=1e-10))


@given(S=st.integers(5, 30), A=st.integers(1, 4), H=st.integers(1, 3), d=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_random_lowrank_mdp_has_rank_d_and_linear_rewards(S, A, H, d, seed):
    m = random_lowrank_mdp(S, A, H, d, seed=seed)
    assert m.P.shape == (H, S, A, S)
    assert all(_rank(m.P[h]) <= d for h in range(H))
    # rewards are linear in phi: regressing R on phi leaves no residual
    for h in range(H):
        X = m.phi[h].reshape(-1, d)
        theta, *_ = np.linalg.lstsq(X, m.R[h].ravel(), rcond=None)
        assert np.abs(X @ theta - m.R[h].ravel()).max() < 1e-10
    again = random_lowrank_mdp(S, A, H, d, seed=seed)
    np.testing.assert_array_equal(again.P, m.P)


def test_lowrank_mdp_with_large_S_small_d():
    m = random_lowrank_mdp(200, 4, 3, 4, psi_support=20, seed=3)
    assert _rank(m.P[0]) == 4
    assert np.count_nonzero(m.psi[0, 0]) == 20


@given(Z=st.integers(1, 4), obs=st.integers(1, 6), A=st.integers(1, 3), seed=st.integers(0, 2**16),
       emission=st.sampled_from(["uniform", "dirichlet"]))
def test_block_mdp_structure(Z, obs, A, seed, emission):
    m = block_mdp(Z, obs, A, 2, emission=emission, seed=seed)
    assert m.S == Z * obs and m.d == Z
    # observations of one latent block are indistinguishable: identical transition rows
    for z in range(Z):
        rows = m.P[:, z * obs:(z + 1) * obs]
        np.testing.assert_allclose(rows, np.broadcast_to(rows[:, :1], rows.shape), atol=1e-15)
    # each latent state emits only its own block
    for z in range(Z):
        support = np.flatnonzero(m.psi[0, z])
        assert support.min() >= z * obs and support.max() < (z + 1) * obs


def _lock_value_formula(m, key, policy):
    """The documented ``V^pi = prod_h sum_{x good} q_h(x) pi_h(key[h] | x)`` (plain numpy)."""
    obs = m.S // 2
    value = 1.0
    for h in range(m.H):
        q = m.mu0[:obs] if h == 0 else m.psi[h - 1, 0, :obs]
        value *= float(q @ policy[h, :obs, key[h]])
    return value


@given(H=st.integers(1, 5), A=st.integers(2, 4), obs=st.integers(1, 5), seed=st.integers(0, 2**16),
       emission=st.sampled_from(["uniform", "dirichlet"]))
def test_combination_lock_values_match_the_exact_solver(H, A, obs, seed, emission):
    m = combination_lock(H, A, obs, emission=emission, seed=seed)
    assert (m.H, m.S, m.A, m.d) == (H, 2 * obs, A, 2)
    key = np.array([int(np.flatnonzero(m.phi[h, 0, :, 0])[0]) for h in range(H)])  # the good action
    assert mdpkit.solve(m.to_tabular()).value == pytest.approx(1.0, abs=1e-12)  # documented V* = 1
    rng = np.random.default_rng(seed)
    for _ in range(3):  # any (randomised) policy: the product formula
        policy = rng.dirichlet(np.ones(A), size=(H, m.S))
        assert mdpkit.evaluate(m.to_tabular(), policy).value == pytest.approx(
            _lock_value_formula(m, key, policy), abs=1e-12)
    uniform = np.full((H, m.S, A), 1.0 / A)
    assert mdpkit.evaluate(m.to_tabular(), uniform).value == pytest.approx(A ** -H, rel=1e-12)
    # one wrong action on every good observation of any stage loses everything
    wrong = np.eye(A)[np.broadcast_to(key[:, None], (H, m.S))].copy()
    h = int(rng.integers(H))
    wrong[h, :obs] = np.eye(A)[(key[h] + 1) % A]
    assert mdpkit.evaluate(m.to_tabular(), wrong).value == pytest.approx(0.0, abs=1e-12)


def test_combination_lock_structure_and_key():
    m = combination_lock(4, 3, 2, key=[2, 0, 1, 2])
    assert m.name.startswith("combination_lock(H=4, A=3, obs=2, key=2012")
    good = np.arange(m.S) < 2
    for h, k in enumerate([2, 0, 1, 2]):
        np.testing.assert_array_equal(m.phi[h, :, :, 0], good[:, None] & (np.arange(3) == k)[None, :])
    np.testing.assert_array_equal(m.phi[..., 1], 1.0 - m.phi[..., 0])
    np.testing.assert_array_equal(m.R[:-1], 0.0)  # reward only at the last stage
    np.testing.assert_array_equal(m.R[-1], m.phi[-1, :, :, 0])
    np.testing.assert_array_equal(m.mu0, [0.5, 0.5, 0.0, 0.0])
    # the same seed gives the same instance; the default key is drawn from it
    a, b = combination_lock(6, 3, 2, seed=7), combination_lock(6, 3, 2, seed=7)
    np.testing.assert_array_equal(a.phi, b.phi)


def test_random_lowrank_game():
    g = random_lowrank_game(6, 2, 3, 2, 3, seed=0)
    assert (g.S, g.A, g.B, g.d) == (6, 2, 3, 3)
    assert _rank(g.P[0]) <= 3


@pytest.mark.parametrize("call, pattern", [
    (lambda: random_lowrank_mdp(0, 2, 2, 2), "S must be >= 1"),
    (lambda: random_lowrank_mdp(5, 2, 2, 2, psi_support=6), "psi_support must be <= S"),
    (lambda: random_lowrank_mdp(5, 2, 2, 2, phi_concentration=0.0), "phi_concentration"),
    (lambda: block_mdp(2, 3, 2, 2, emission="gauss"), "emission"),
    (lambda: random_lowrank_game(5, 2, 0, 2, 2), "B must be >= 1"),
    (lambda: combination_lock(3, 1, 2), "A must be >= 2"),
    (lambda: combination_lock(0, 2, 2), "H must be >= 1"),
    (lambda: combination_lock(3, 2, 0), "obs_per_state must be >= 1"),
    (lambda: combination_lock(3, 2, 2, key=[0, 1]), r"key must have shape \(H,\) = \(3,\)"),
    (lambda: combination_lock(3, 2, 2, key=[0, 2, 1]), r"key\[1\] = 2 is not an action in \[0, 2\)"),
    (lambda: combination_lock(3, 2, 2, key=[0, 0.5, 1]), r"key\[1\] = 0.5 is not an action"),
    (lambda: combination_lock(3, 2, 2, emission="gauss"), "emission"),
])
def test_generator_argument_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
