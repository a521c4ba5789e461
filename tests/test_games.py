"""Tests for mdpkit.games (PreferenceGame, exact solvers, metrics) and mdpkit.envs.preference."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import logsumexp

from mdpkit.envs.preference import (
    bradley_terry_game,
    cyclic_game,
    dice_game,
    nontransitive_dice_game,
    random_preference_game,
)
from mdpkit.games import (
    PreferenceGame,
    best_response,
    duality_gap,
    exploitability,
    fixed_point_residual,
    kl,
    kl_log,
    log_ratio_span,
    regularized_nash,
    unregularized_nash,
)


def random_policy(rng, n, scale=1.0):
    z = rng.normal(0.0, scale, n)
    return np.exp(z - logsumexp(z))


# ------------------------------------------------------------------ validation
class TestValidation:
    def test_non_complementary_pair_is_named(self):
        P = np.full((3, 3), 0.5)
        P[0, 2], P[2, 0] = 0.7, 0.2
        with pytest.raises(ValueError, match=r"P\[y=0, y'=2\].*not 1"):
            PreferenceGame(P, np.full(3, 1 / 3), 0.1)

    def test_diagonal_must_be_half(self):
        P = np.full((2, 2), 0.5)
        P[1, 1] = 0.6
        with pytest.raises(ValueError, match=r"P\[y=1, y'=1\]"):
            PreferenceGame(P, [0.5, 0.5], 0.1)

    def test_out_of_range_entry(self):
        P = np.array([[0.5, 1.2], [-0.2, 0.5]])
        with pytest.raises(ValueError, match=r"P\[y=0, y'=1\] = 1.2 is outside"):
            PreferenceGame(P, [0.5, 0.5], 0.1)

    @pytest.mark.parametrize("mu, msg", [([1.0, 0.0], r"mu\[y=1\].*full support"),
                                         ([0.6, 0.6], r"mu sums to"),
                                         ([1.5, -0.5], r"mu\[y=1\].*negative"),
                                         ([0.5, np.nan], r"mu\[y=1\].*not finite")])
    def test_bad_reference(self, mu, msg):
        with pytest.raises(ValueError, match=msg):
            PreferenceGame(np.full((2, 2), 0.5), mu, 0.1)

    @pytest.mark.parametrize("beta", [-1e-3, np.inf, np.nan, "a", True])
    def test_bad_beta(self, beta):
        with pytest.raises(ValueError, match="beta"):
            PreferenceGame(np.full((2, 2), 0.5), [0.5, 0.5], beta)

    def test_messages_show_plain_floats(self):
        """Offending entries print as Python floats, not numpy 2 reprs such as np.float64(0.6)."""
        P = np.full((2, 2), 0.5)
        P[1, 1] = 0.6
        with pytest.raises(ValueError, match=r"= 0\.6 \+ 0\.6 = 1\.2, not 1 ") as exc:
            PreferenceGame(P, [0.5, 0.5], 0.1)
        assert "np." not in str(exc.value)
        with pytest.raises(ValueError, match=r"^mu\[y=1\] = 0\.0: ") as exc:
            PreferenceGame(np.full((2, 2), 0.5), [1.0, 0.0], 0.1)
        with pytest.raises(ValueError, match=r"^log_pi\[y=0\] = nan is not") as exc:
            fixed_point_residual(cyclic_game(3, 0.1), [np.nan, 0.0, 0.0])

    def test_not_square(self):
        with pytest.raises(ValueError, match="P must"):
            PreferenceGame(np.full((2, 3), 0.5), [0.5, 0.5], 0.1)

    def test_immutable_and_copied(self):
        P = np.full((2, 2), 0.5)
        g = PreferenceGame(P, [0.5, 0.5], 0.1)
        P[0, 1] = 0.0
        assert g.P[0, 1] == 0.5
        with pytest.raises(ValueError):
            g.P[0, 1] = 1.0

    def test_policy_argument_validated(self):
        g = cyclic_game(3, 0.1)
        with pytest.raises(ValueError, match=r"pi sums to"):
            exploitability(g, [0.5, 0.5, 0.5])


# ------------------------------------------------------------------ generators
@pytest.mark.parametrize("make", [
    lambda: random_preference_game(7, 0.1, seed=0, mu="random"),
    lambda: bradley_terry_game(6, 0.1, seed=1),
    lambda: cyclic_game(5, 0.1, p=0.8),
    lambda: nontransitive_dice_game(0.1),
])
def test_generators_are_valid_games(make):
    g = make()
    assert np.array_equal(g.P + g.P.T, np.ones_like(g.P))
    assert np.all(np.diag(g.P) == 0.5)
    assert np.all(g.mu > 0)


def test_generators_are_seeded():
    a = random_preference_game(5, 0.1, seed=3, mu="random")
    b = random_preference_game(5, 0.1, seed=3, mu="random")
    assert np.array_equal(a.P, b.P) and np.array_equal(a.mu, b.mu)


def test_nlhf_dice_beat_each_other_with_five_ninths():
    g = nontransitive_dice_game(0.0)
    assert g.P[0, 1] == pytest.approx(5 / 9) and g.P[1, 2] == pytest.approx(5 / 9)
    assert g.P[2, 0] == pytest.approx(5 / 9)


def test_dice_ties_count_half():
    g = dice_game([[1, 2], [2, 2]], 0.0)
    assert g.P[0, 1] == pytest.approx(0.25)  # (1<2, 1<2, 2=2, 2=2) -> (0 + 0 + .5 + .5) / 4


def test_bradley_terry_is_transitive_and_lp_picks_the_best_response():
    r = np.array([0.3, -1.0, 2.0, 0.5])
    g = bradley_terry_game(r, 0.0)
    assert np.all((g.P > 0.5) == (r[:, None] > r[None, :]))
    sol = unregularized_nash(g)
    assert sol.policy[2] == pytest.approx(1.0)


# ------------------------------------------------------------------ metrics
@given(st.integers(2, 30), st.floats(1e-3, 2.0), st.integers(0, 2**31 - 1))
def test_exploitability_identity_and_gap(n, beta, seed):
    """e_beta(pi) = beta lse(log mu + P pi/beta) + beta KL(pi||mu) - 1/2 = beta KL(pi||BR(pi)) >= 0,
    and the symmetric duality gap is 2 e_beta."""
    rng = np.random.default_rng(seed)
    g = random_preference_game(n, beta, seed=rng, mu="random")
    pi = random_policy(rng, n, 2.0)
    direct = beta * logsumexp(g.log_mu + g.P @ pi / beta) + beta * kl(pi, g.mu) - 0.5
    e = exploitability(g, pi)
    assert e >= 0
    assert e == pytest.approx(direct, rel=1e-7, abs=1e-12)
    assert duality_gap(g, pi) == pytest.approx(2 * e, rel=1e-7, abs=1e-12)
    other = random_policy(rng, n)
    assert duality_gap(g, pi, other) >= -1e-12
    assert duality_gap(g, pi, other, regularized=False) >= -1e-12


def test_exploitability_is_brute_force_best_response_value():
    """max over a dense grid of pi' of J_beta(pi', pi) - 1/2 matches the closed form (n = 2)."""
    g = random_preference_game(2, 0.3, seed=5, mu="random")
    pi = np.array([0.8, 0.2])
    grid = np.linspace(1e-9, 1 - 1e-9, 200001)
    cand = np.stack([grid, 1 - grid], axis=1)
    kl_c = np.sum(cand * (np.log(cand) - g.log_mu), axis=1)
    values = cand @ g.P @ pi - g.beta * kl_c + g.beta * kl(pi, g.mu)
    assert exploitability(g, pi) == pytest.approx(values.max() - 0.5, abs=1e-9)


def test_kl_log_is_accurate_near_equal_and_handles_zeros():
    rng = np.random.default_rng(0)
    p = random_policy(rng, 20)
    d = 1e-6 * rng.normal(size=20)
    q = p * np.exp(d)
    q /= q.sum()
    # second-order expansion KL ~ Var_p(d)/2
    dd = np.log(p) - np.log(q)
    var = np.sum(p * (dd - np.sum(p * dd)) ** 2)
    assert kl_log(np.log(p), np.log(q)) == pytest.approx(var / 2, rel=1e-4)
    assert kl_log(np.log(p), np.log(p)) == 0.0
    assert kl([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert log_ratio_span(np.log([0.2, 0.8]), np.log([0.4, 0.6])) == pytest.approx(
        np.log(0.8 / 0.6) - np.log(0.2 / 0.4))


# ------------------------------------------------------------------ exact solvers
@given(st.integers(2, 120), st.floats(1e-3, 2.0), st.integers(0, 2**31 - 1))
def test_regularized_nash_is_the_fixed_point(n, beta, seed):
    g = random_preference_game(n, beta, seed=seed, mu="random")
    sol = regularized_nash(g)
    assert np.all(np.isfinite(sol.log_policy))
    assert sol.exploitability < 1e-12
    assert fixed_point_residual(g, sol.log_policy) == sol.residual
    assert sol.residual < 1e-9
    # no unilateral deviation (checked against random policies) beats 1/2 in J_beta
    rng = np.random.default_rng(seed)
    for _ in range(5):
        dev = random_policy(rng, n, 3.0)
        j = dev @ g.P @ sol.policy - beta * kl(dev, g.mu) + beta * kl(sol.policy, g.mu)
        assert j <= 0.5 + 1e-12


@pytest.mark.parametrize("beta", [1e-2, 1e-3, 1e-4])
def test_regularized_nash_small_beta_is_finite(beta):
    g = random_preference_game(200, beta, seed=11, mu="random")
    sol = regularized_nash(g)
    assert np.all(np.isfinite(sol.log_policy)) and np.all(np.isfinite(sol.policy))
    assert sol.exploitability < 1e-12
    # residual near the conditioning floor eps / beta^2 of the logit parametrisation
    assert sol.residual <= 1e3 * np.finfo(float).eps / beta**2
    # log-probabilities span up to 1/beta, so probabilities underflow but logs do not
    assert np.ptp(sol.log_policy) <= 1.0 / beta + np.ptp(g.log_mu) + 1e-6


def test_regularized_nash_known_fixtures():
    # symmetric 3-cycle with uniform reference: equilibrium uniform for every beta
    for beta in (1.0, 0.1, 1e-3):
        for g in (nontransitive_dice_game(beta), cyclic_game(3, beta)):
            assert np.allclose(regularized_nash(g).policy, 1 / 3, atol=1e-14)
    # transitive game, large beta -> pi* -> mu
    g = bradley_terry_game(5, 1e6, seed=0, mu="random")
    assert np.allclose(regularized_nash(g).policy, g.mu, atol=1e-6)


def test_regularized_nash_rejects_beta_zero():
    with pytest.raises(ValueError, match="unregularized_nash"):
        regularized_nash(cyclic_game(3, 0.0))


def test_small_beta_limit_approaches_an_unregularized_equilibrium():
    g = random_preference_game(15, 1e-4, seed=2)
    sol = regularized_nash(g)
    assert exploitability(g, sol.policy, regularized=False) < 1e-3


@given(st.integers(1, 60), st.integers(0, 2**31 - 1))
def test_unregularized_nash_certificate(n, seed):
    g = random_preference_game(n, 0.0, seed=seed)
    sol = unregularized_nash(g)
    assert sol.exploitability <= 1e-9
    assert duality_gap(g, sol.policy) <= 2e-9
    assert np.all(g.P.T @ sol.policy >= 0.5 - 1e-9)


def test_three_cycle_equilibrium_proportional_to_margins():
    """NLHF rater-style 3-cycle: margins a (y2 over y1), b (y1 over y3), c (y3 over y2) -> NE ∝ (c, b, a)."""
    a, b, c = 0.2, 0.1, 0.3
    P = np.full((3, 3), 0.5)
    P[1, 0], P[0, 1] = 0.5 + a, 0.5 - a
    P[0, 2], P[2, 0] = 0.5 + b, 0.5 - b
    P[2, 1], P[1, 2] = 0.5 + c, 0.5 - c
    g = PreferenceGame(P, np.full(3, 1 / 3), 0.0)
    assert np.allclose(unregularized_nash(g).policy, np.array([c, b, a]) / (a + b + c), atol=1e-9)


def test_best_response_closed_form():
    g = random_preference_game(6, 0.2, seed=4, mu="random")
    pi = random_policy(np.random.default_rng(1), 6)
    br = g.mu * np.exp(g.P @ pi / 0.2)
    assert np.allclose(best_response(g, pi), br / br.sum(), rtol=1e-13)


@pytest.mark.full
def test_regularized_nash_n1000_beta_1e4():
    g = random_preference_game(1000, 1e-4, seed=0, mu="random")
    sol = regularized_nash(g)
    assert np.all(np.isfinite(sol.log_policy)) and sol.exploitability < 1e-12
