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


# ----------------------------------------------------------------------------- log-probability inputs
def test_metrics_from_log_probabilities_equal_those_from_probabilities():
    rng = np.random.default_rng(5)
    game = random_preference_game(7, 0.3, seed=5)
    p, q = random_policy(rng, 7), random_policy(rng, 7)
    assert kl(np.log(p), np.log(q), log=True) == pytest.approx(kl(p, q), rel=1e-13, abs=1e-16)
    for regularized in (True, False):
        assert exploitability(game, np.log(p), log=True, regularized=regularized) == pytest.approx(
            exploitability(game, p, regularized=regularized), rel=1e-13, abs=1e-16)
        assert duality_gap(game, np.log(p), np.log(q), log=True, regularized=regularized) == pytest.approx(
            duality_gap(game, p, q, regularized=regularized), rel=1e-12, abs=1e-15)


def test_metrics_from_log_probabilities_stay_exact_where_probabilities_underflow():
    # q puts mass exp(-1e4) on y = 1: an exact zero in float64, so the KL from probabilities is
    # inf; from log-probabilities it is the exact 0.5 * 1e4 + 0.5 log(0.5) + 0.5 log(0.5).
    log_p = np.log([0.5, 0.5])
    log_q = np.array([0.0, -1e4])
    log_q -= logsumexp(log_q)
    assert np.exp(log_q)[1] == 0.0
    assert kl(np.exp(log_p), np.exp(log_q)) == np.inf
    assert kl(log_p, log_q, log=True) == pytest.approx(0.5e4 + np.log(0.5), rel=1e-15)
    # exploitability of a policy with an underflowed entry: finite and equal to the prob-space
    # formula evaluated on the logits (the P @ pi term is unaffected by a 1e-4343 mass).
    game = cyclic_game(3, 1e-3)
    log_pi = np.array([0.0, -1e4, -1e4 - 1.0])
    log_pi -= logsumexp(log_pi)
    e = exploitability(game, log_pi, log=True)
    lbr = best_response(game, np.exp(log_pi), log=True)
    assert e == game.beta * kl_log(log_pi, lbr) and np.isfinite(e)


@pytest.mark.parametrize("log_pi, pattern", [
    ([np.nan, 0.0], r"^p\[y=0\] = nan is not a log-probability"),
    ([np.inf, 0.0], r"^p\[y=0\] = inf is not a log-probability"),
    ([0.0, 0.0], r"^exp\(p\) sums to 2\.0"),
    ([1e308, 0.0], r"^exp\(p\) sums to inf \(logsumexp 1e\+308\)"),
    ([-np.inf, -np.inf], r"^p is -inf everywhere"),
    ([[0.0]], r"^p must have shape"),
    (["x", 0.0], r"^p must be a numeric array"),
    ([0j, 0.0], r"^p must be real"),
])
def test_log_probability_arguments_are_validated(log_pi, pattern):
    with pytest.raises(ValueError, match=pattern):
        kl(log_pi, [0.0, -np.inf], log=True)


def test_game_arguments_of_the_wrong_type_raise_type_error_naming_game():
    game = cyclic_game(3, 0.1)
    calls = [lambda g: regularized_nash(g), lambda g: unregularized_nash(g),
             lambda g: exploitability(g, game.mu), lambda g: duality_gap(g, game.mu),
             lambda g: best_response(g, game.mu), lambda g: fixed_point_residual(g, game.log_mu)]
    for call in calls:
        for wrong in (game.P, None, game.mu.tolist()):
            with pytest.raises(TypeError, match=r"^game must be a mdpkit\.games\.PreferenceGame, got "):
                call(wrong)
            with pytest.raises(ValueError):  # the same error is a ValueError too (older callers)
                call(wrong)


def test_regularized_nash_failure_reports_the_failing_stage_and_its_own_acceptance():
    game = random_preference_game(5, 1e-12, seed=0)
    with pytest.raises(RuntimeError) as err:
        regularized_nash(game)
    message = str(err.value)
    assert "at the continuation stage beta=" in message
    residual, acceptance = (float(x) for x in
                            __import__("re").search(r"residual (\S+) > that stage's acceptance (\S+) ", message).groups())
    assert residual > acceptance  # the comparison printed is the one that failed
