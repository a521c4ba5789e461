"""The MWU/Hedge numba kernel against its plain-numpy specification (mdpkit.algorithms.mwu).

Bounds (measured, then given ~10x room):
- one kernel step vs ``mwu.step``: |difference| <= 1e-14 * max(1, |log pi|) (measured 1.5e-15 over
  2000 draws, n <= 60, eta in [1e-3, 10]); the sums run in another order (and with fused
  multiply-adds), so bit equality is not expected;
- whole runs in the nash claims' regime (eta = sqrt(8 log n / (T + 1)), T = 3162): iterates within
  1e-12, running averages within 1e-13 (measured 7e-14 and 2e-15). Over many steps rounding
  differences are carried along by the dynamics (up to 6e-12 on the last iterate at T = 31623), so
  a per-step bound is the kernel's specification and whole runs are checked where the claims use them.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdpkit.algorithms import mwu
from mdpkit.algorithms._mwu_kernels import hedge_self_play
from mdpkit.envs import cyclic_game, nontransitive_dice_game, random_preference_game


def kernel_step(game, log_pi, eta):
    log_policies = np.empty((2, game.n))
    log_policies[0] = log_pi
    average = np.empty((2, game.n))
    hedge_self_play(np.ascontiguousarray(game.P), eta, log_policies, average)
    return log_policies[1], average


@given(n=st.integers(1, 60), eta=st.floats(1e-3, 10.0), concentration=st.floats(0.05, 5.0),
       seed=st.integers(0, 2**32 - 1))
def test_one_kernel_step_matches_numpy_step(n, eta, concentration, seed):
    rng = np.random.default_rng(seed)
    game = random_preference_game(n, 0.0, mu="random", seed=rng)
    log_pi = np.log(np.maximum(rng.dirichlet(np.full(n, concentration)), 1e-300))
    log_pi -= np.log(np.sum(np.exp(log_pi)))
    new, average = kernel_step(game, log_pi, eta)
    expected = mwu.step(game, log_pi, eta)
    assert np.all(np.abs(new - expected) <= 1e-14 * np.maximum(1.0, np.abs(expected)))
    np.testing.assert_allclose(average[1], (np.exp(log_pi) + np.exp(new)) / 2, rtol=0, atol=1e-15)


def claim_games():
    yield from (random_preference_game(n, 0.0, mu="random", seed=s) for s, n in enumerate((3, 17, 50)))
    yield cyclic_game(3, 0.0, p=0.8, mu="random", seed=0)
    yield nontransitive_dice_game(0.0, mu="random", seed=0)


@pytest.mark.parametrize("game", list(claim_games()), ids=lambda g: f"n{g.n}")
def test_run_matches_reference_in_the_claims_regime(game):
    T = 3162
    init = np.random.default_rng(game.n).dirichlet(np.ones(game.n))
    res = mwu.run(game, iters=T, init=init)
    assert res.hyper["eta"] == mwu.default_eta(game.n, T + 1)
    log_policies, average = mwu.reference_iterates(game, np.log(init), res.hyper["eta"], T)
    np.testing.assert_array_equal(res.log_policies[0], np.log(init))  # the start is copied exactly
    np.testing.assert_allclose(res.policies, np.exp(log_policies), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.average, average, rtol=0, atol=1e-13)
    assert res.policies.shape == res.average.shape == (T + 1, game.n)
    np.testing.assert_array_equal(res.queries, np.arange(T + 1))


def test_zero_iterations_and_single_action():
    game = random_preference_game(4, 0.0, mu="random", seed=3)
    res = mwu.run(game, iters=0)
    np.testing.assert_array_equal(res.log_policies, game.log_mu[None, :])
    np.testing.assert_array_equal(res.average, np.exp(game.log_mu)[None, :])
    single = random_preference_game(1, 0.0, seed=0)
    np.testing.assert_array_equal(mwu.run(single, iters=5).policies, np.ones((6, 1)))


def test_arguments_are_validated():
    game = random_preference_game(3, 0.0, seed=0)
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="eta"):
            mwu.run(game, iters=2, eta=bad)
    with pytest.raises(ValueError, match="iters"):
        mwu.run(game, iters=-1)
    with pytest.raises(ValueError, match="full support"):
        mwu.run(game, iters=2, init=[0.0, 0.5, 0.5])
