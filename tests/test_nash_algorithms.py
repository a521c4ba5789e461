"""Tests for the preference-game algorithms: Nash-MP, Nash-MD, MMD, MWU/SPO, approximate Nash-MP.

Core correctness statement (hypothesis): Nash-MP with eta = 2 beta satisfies
KL(pi*||pi_k) <= (1 + 2 beta)^(-k) KL(pi*||pi_0) on every generated game. One-step oracles
re-derive each update with plain numpy in probability space; fixed-point tests check that
pi*_beta is left unchanged by every exact method's update.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import logsumexp

from mdpkit.algorithms import mmd, mwu, nash_md, nash_mp, nash_mp_approx
from mdpkit.algorithms._preference_common import prox_step
from mdpkit.envs.preference import (
    bradley_terry_game,
    cyclic_game,
    nontransitive_dice_game,
    random_preference_game,
)
from mdpkit import games
from mdpkit.games import exploitability, kl_log, log_ratio_span, regularized_nash

ALGORITHMS = [nash_mp, nash_md, mmd, mwu, nash_mp_approx]
# Absolute slack on KL comparisons: KL is evaluated to ~1e-16 (kl_log), pi* has residual <= 1e-9
# in logit space at beta = 1e-3 (effect on KL ~ 1e-18); 1e-14 only matters once KL is at rounding level.
KL_SLACK = 1e-14


def softmax(z):
    return np.exp(z - logsumexp(z))


def kl_curve(game, result):
    star = regularized_nash(game).log_policy
    return np.array([kl_log(star, lp) for lp in result.log_policies])


@st.composite
def games_and_inits(draw, n_max=200):
    n = draw(st.integers(2, n_max))
    log_beta = draw(st.floats(np.log(1e-3), 0.0))
    scale = draw(st.floats(0.1, 6.0))
    seed = draw(st.integers(0, 2**31 - 1))
    init_spread = draw(st.floats(0.0, 6.0))
    rng = np.random.default_rng(seed)
    game = random_preference_game(n, float(np.exp(log_beta)), scale=scale, seed=rng, mu="random")
    init = softmax(rng.normal(0.0, init_spread, n)) if draw(st.booleans()) else None
    return game, init


# ------------------------------------------------------------------ Nash-MP KL bound
@given(games_and_inits())
def test_nash_mp_kl_bound_property(game_init):
    game, init = game_init
    res = nash_mp.run(game, iters=40, init=init)
    kls = kl_curve(game, res)
    k = np.arange(41)
    bound = (1 + 2 * game.beta) ** (-k) * kls[0]
    assert np.all(kls <= bound * (1 + 1e-9) + KL_SLACK), (kls / np.maximum(bound, 1e-300)).max()


@pytest.mark.parametrize("game", [
    cyclic_game(3, 0.05, p=0.9, mu=[0.6, 0.3, 0.1]),
    cyclic_game(7, 0.01, mu="random", seed=1),
    nontransitive_dice_game(0.02, mu=[0.1, 0.2, 0.7]),
    bradley_terry_game(30, 0.1, seed=2, mu="random"),
    random_preference_game(100, 0.003, seed=3, mu="random"),
], ids=["cyclic3", "cyclic7", "dice", "bradley-terry", "random100"])
def test_nash_mp_kl_bound_named_families(game):
    res = nash_mp.run(game, iters=60)
    kls = kl_curve(game, res)
    bound = (1 + 2 * game.beta) ** (-np.arange(61)) * kls[0]
    assert kls[0] > 1e-6  # a non-trivial start, so the check can fail
    assert np.all(kls <= bound * (1 + 1e-9) + KL_SLACK)


def test_kl_bound_check_has_teeth():
    """The same check fails for the mutants eta = 8 beta and 'extrapolation removed' (see
    docs/papers/nash.md#nash-step-size: eta = 8 beta oscillates for small beta)."""
    game = random_preference_game(5, 0.01, seed=0, mu="random")
    star = regularized_nash(game).log_policy
    k0 = kl_log(star, game.log_mu)
    bound = (1 + 2 * game.beta) ** (-np.arange(41)) * k0

    def curve(update):
        lp, out = game.log_mu.copy(), [k0]
        for _ in range(40):
            lp = update(lp)
            out.append(kl_log(star, lp))
        return np.array(out)

    big_step = curve(lambda lp: nash_mp.step(game, lp, 8 * game.beta)[1])
    no_extrapolation = curve(lambda lp: prox_step(game, lp, np.exp(lp), 2 * game.beta))
    assert np.any(big_step > bound * (1 + 1e-9) + KL_SLACK)
    assert np.any(no_extrapolation > bound * (1 + 1e-9) + KL_SLACK)


def test_nash_mp_span_and_exploitability_converge_linearly():
    game = random_preference_game(40, 0.1, seed=7, mu="random")
    res = nash_mp.run(game, iters=80)
    star = regularized_nash(game).log_policy
    span = np.array([log_ratio_span(lp, star) for lp in res.log_policies])
    expl = np.array([exploitability(game, p) for p in res.policies])
    # fitted per-iteration factors over the linear phase (before rounding floors)
    f_span = np.exp(np.polyfit(np.arange(10, 40), np.log(span[10:40]), 1)[0])
    f_expl = np.exp(np.polyfit(np.arange(5, 20), np.log(expl[5:20]), 1)[0])
    assert f_span <= 1 / (1 + 2 * game.beta) + 0.02   # observed ~1/(1+2beta)
    assert f_expl <= (1 + 2 * game.beta) ** -1        # observed ~(1+2beta)^-2
    assert span[-1] < 1e-5 and expl[-1] < 1e-12


# ------------------------------------------------------------------ one-step oracles
def _game_and_policy():
    game = random_preference_game(6, 0.15, seed=21, mu="random")
    pi = softmax(np.random.default_rng(5).normal(size=6))
    return game, pi


def test_nash_mp_one_step_oracle():
    game, pi = _game_and_policy()
    beta, eta, P, mu = game.beta, 0.37, game.P, game.mu
    half = pi ** (1 / (1 + eta)) * mu ** (eta / (1 + eta)) * np.exp(eta / (beta * (1 + eta)) * P @ pi)
    half /= half.sum()
    nxt = pi ** (1 / (1 + eta)) * mu ** (eta / (1 + eta)) * np.exp(eta / (beta * (1 + eta)) * P @ half)
    nxt /= nxt.sum()
    log_half, log_next = nash_mp.step(game, np.log(pi), eta)
    assert np.allclose(np.exp(log_half), half, rtol=1e-12)
    assert np.allclose(np.exp(log_next), nxt, rtol=1e-12)
    res = nash_mp.run(game, iters=1, init=pi, eta=eta)
    assert np.allclose(res.policies[1], nxt, rtol=1e-12)


def test_nash_md_one_step_oracle():
    game, pi = _game_and_policy()
    beta, P, mu = game.beta, game.P, game.mu
    eta0 = 2 / (beta * 2)
    mix = pi ** (1 - eta0 * beta) * mu ** (eta0 * beta)
    mix /= mix.sum()
    nxt = mix * np.exp(eta0 * P @ mix)
    nxt /= nxt.sum()
    res = nash_md.run(game, iters=2, init=pi)
    assert np.allclose(res.policies[1], nxt, rtol=1e-12)
    eta1 = 2 / (beta * 3)
    mix = nxt ** (1 - eta1 * beta) * mu ** (eta1 * beta)
    mix /= mix.sum()
    nxt2 = mix * np.exp(eta1 * P @ mix)
    assert np.allclose(res.policies[2], nxt2 / nxt2.sum(), rtol=1e-12)


def test_mmd_one_step_oracle():
    game, pi = _game_and_policy()
    eta, beta = 0.8, game.beta
    nxt = (pi * game.mu ** (eta * beta) * np.exp(eta * game.P @ pi)) ** (1 / (1 + eta * beta))
    res = mmd.run(game, iters=1, init=pi, eta=eta)
    assert np.allclose(res.policies[1], nxt / nxt.sum(), rtol=1e-12)


def test_mwu_one_step_oracle_and_average():
    game, pi = _game_and_policy()
    nxt = pi * np.exp(0.5 * game.P @ pi)
    nxt /= nxt.sum()
    res = mwu.run(game, iters=3, init=pi, eta=0.5)
    assert np.allclose(res.policies[1], nxt, rtol=1e-12)
    assert np.allclose(res.average[2], res.policies[:3].mean(axis=0), rtol=1e-14)


def test_approx_prox_step_is_unbiased_estimate_of_exact_step():
    """With many comparisons the approximate prox step approaches the exact closed form."""
    game, pi = _game_and_policy()
    eta = 2 * game.beta
    exact = prox_step(game, np.log(pi), pi, eta)
    errs = []
    for inner in (10, 1000):
        rng = np.random.default_rng(0)
        errs.append(np.mean([log_ratio_span(nash_mp_approx.approx_prox_step(
            game, np.log(pi), pi, eta, inner, 10, rng), exact) for _ in range(20)]))
    assert errs[1] < errs[0] / 4  # error ~ inner_steps^(-1/2): 100x steps -> ~10x smaller


# ------------------------------------------------------------------ fixed points
@pytest.mark.parametrize("beta", [1.0, 0.1, 0.01])
def test_equilibrium_is_a_fixed_point_of_every_exact_update(beta):
    game = random_preference_game(12, beta, seed=8, mu="random")
    star = regularized_nash(game).log_policy
    tol = 1e3 * np.finfo(float).eps * max(1.0, 1 / beta)
    for eta in (0.5 * beta, 2 * beta):
        for lp in nash_mp.step(game, star, eta):
            assert log_ratio_span(lp, star) < tol
    assert log_ratio_span(mmd.step(game, star, 4 * beta), star) < tol
    # one step away from pi*, the update does move (the fixed-point test is not vacuous)
    assert log_ratio_span(nash_mp.step(game, game.log_mu, 2 * beta)[1], game.log_mu) > 1e-3


@pytest.mark.parametrize("beta", [1.0, 0.1])
def test_nash_md_moves_pi_star_only_to_second_order(beta):
    """pi*_beta is NOT an exact fixed point of Nash-MD: with pi_t = pi* the mixture pi^mu != pi*,
    and log pi_{t+1} - log pi* = eta P (pi^mu - pi*) + const with pi^mu - pi* = O(eta beta).
    So the displacement is O(eta^2): shrinking eta 10x shrinks it ~100x (hence the decaying schedule)."""
    game = random_preference_game(12, beta, seed=8, mu="random")
    star = regularized_nash(game).log_policy
    disp = [log_ratio_span(nash_md.step(game, star, eta), star) for eta in (0.01 / beta, 0.001 / beta)]
    assert disp[0] > 1e-9
    assert 50 < disp[0] / disp[1] < 200


def test_mwu_fixed_point_is_the_unregularized_equilibrium():
    game = nontransitive_dice_game(0.0)
    uniform = np.log(np.full(3, 1 / 3))
    assert log_ratio_span(mwu.step(game, uniform, 0.7), uniform) < 1e-15


# ------------------------------------------------------------------ comparator rates
@pytest.mark.parametrize("beta", [1.0, 0.1, 0.02])
def test_nash_md_theorem_bound(beta):
    game = random_preference_game(20, beta, seed=9, mu="random")
    res = nash_md.run(game, iters=300)
    kls = kl_curve(game, res)
    T = np.arange(301)
    assert np.all(kls[1:] <= 8 / (beta**2 * (T[1:] + 1)))


@pytest.mark.parametrize("beta", [0.5, 0.1])
def test_mmd_theorem_bound(beta):
    game = random_preference_game(20, beta, seed=10, mu="random")
    res = mmd.run(game, iters=200)
    kls = kl_curve(game, res)
    t = np.arange(200)
    # Sokota et al. Thm 3.4: KL(pi*||pi_{t+1}) <= (1 + eta alpha)^(-t) KL(pi*||pi_1), eta = 4 beta
    assert np.all(kls[1:] <= (1 + 4 * beta**2) ** (-t) * kls[1] * (1 + 1e-9) + KL_SLACK)


def test_mwu_average_converges_last_iterate_does_not():
    game = cyclic_game(3, 0.0, p=1.0)  # rock-paper-scissors
    init = [0.5, 0.3, 0.2]
    for T in (100, 1000):
        res = mwu.run(game, iters=T, init=init)
        avg_gap = exploitability(game, res.average[-1], regularized=False)
        # Hedge regret bound with the uniform prior replaced by init: (log(1/min init) + eta^2 T'/8)/(eta T')
        Tp, eta = T + 1, res.hyper["eta"]
        assert avg_gap <= (np.log(1 / min(init)) / eta + eta * Tp / 8) / Tp
    last = [exploitability(game, p, regularized=False) for p in res.policies[-200:]]
    assert min(last) > 0.05  # the last iterate keeps cycling


# ------------------------------------------------------------------ interface
@pytest.mark.parametrize("alg", ALGORITHMS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_result_shapes_and_queries(alg):
    game = random_preference_game(5, 0.2, seed=0)
    kwargs = {"inner_steps": 3} if alg is nash_mp_approx else {}
    res = alg.run(game, iters=4, seed=1, **kwargs)
    assert res.policies.shape == (5, 5) and res.log_policies.shape == (5, 5)
    assert res.queries.shape == (5,) and res.queries[0] == 0 and np.all(np.diff(res.queries) > 0)
    assert np.allclose(res.policies.sum(axis=1), 1.0)
    assert np.allclose(res.policies[0], game.mu)
    assert not res.policies.flags.writeable
    if alg is nash_mp:
        assert list(res.queries) == [0, 2, 4, 6, 8]
        assert res.hyper["eta"] == pytest.approx(0.4)
    if alg is mwu:
        assert res.average.shape == (5, 5)
    with pytest.raises(ValueError, match=r"^init\[y=1\] = 0\.0: the initial policy must have full support"):
        alg.run(game, iters=2, init=[0.5, 0.0, 0.5, 0.0, 0.0], **kwargs)
    with pytest.raises(ValueError, match="eta"):
        alg.run(game, iters=2, eta=-1.0, **kwargs)
    with pytest.raises(ValueError, match="iters"):
        alg.run(game, iters=-1, **kwargs)


def test_approx_is_seeded_and_floor_falls_with_inner_steps():
    game = random_preference_game(5, 0.1, seed=1, mu="random")
    a = nash_mp_approx.run(game, iters=5, seed=3, inner_steps=5)
    b = nash_mp_approx.run(game, iters=5, seed=3, inner_steps=5)
    assert np.array_equal(a.policies, b.policies)
    floors = []
    for inner in (10, 300):
        kls = [kl_curve(game, nash_mp_approx.run(game, iters=20, seed=s, inner_steps=inner))[-5:].mean()
               for s in range(4)]
        floors.append(np.median(kls))
    assert floors[1] < floors[0] / 5


def test_nash_mp_needs_fewer_queries_than_nash_md():
    game = random_preference_game(10, 0.1, seed=12, mu="random")
    star = regularized_nash(game).log_policy
    mp = nash_mp.run(game, iters=200)
    md = nash_md.run(game, iters=4000)

    def first_query(res):
        kls = np.array([kl_log(star, lp) for lp in res.log_policies])
        hit = np.nonzero(kls <= 1e-6)[0]
        return res.queries[hit[0]] if hit.size else np.inf

    assert first_query(mp) < first_query(md)


# ----------------------------------------------------------------------------- small beta: no underflow
# Whole runs re-derived in probability space (the textbook updates, normalised by a sum): where
# nothing underflows, the log-space iterates equal them to rounding.
def _reference_runs(game, iters):
    P, mu, beta = game.P, game.mu, game.beta

    def md():
        pi, out = mu.copy(), [mu]
        for t in range(iters):
            eta = 2.0 / (beta * (t + 2))
            mix = pi ** (1 - eta * beta) * mu ** (eta * beta)
            mix /= mix.sum()
            pi = mix * np.exp(eta * (P @ mix))
            pi /= pi.sum()
            out.append(pi)
        return np.array(out)

    def mp(eta=2 * beta):
        def prox(center, opp):
            x = center ** (1 / (1 + eta)) * mu ** (eta / (1 + eta)) * np.exp((eta / beta) * (P @ opp) / (1 + eta))
            return x / x.sum()
        pi, out = mu.copy(), [mu]
        for _ in range(iters):
            pi = prox(pi, prox(pi, pi))
            out.append(pi)
        return np.array(out)

    def magnetic(eta=4 * beta):
        pi, out = mu.copy(), [mu]
        for _ in range(iters):
            x = (pi * mu ** (eta * beta) * np.exp(eta * (P @ pi))) ** (1 / (1 + eta * beta))
            pi = x / x.sum()
            out.append(pi)
        return np.array(out)

    return {nash_md: md(), nash_mp: mp(), mmd: magnetic()}


@pytest.mark.parametrize("beta, seed", [(0.2, 1), (0.05, 2), (1.0, 3)])
def test_log_space_iterates_equal_probability_space_runs_to_rounding(beta, seed):
    game = random_preference_game(6, beta, seed=seed)
    for alg, reference in _reference_runs(game, 60).items():
        policies = alg.run(game, iters=60).policies
        assert (reference > 1e-300).all()  # a case without underflow
        np.testing.assert_allclose(policies, reference, rtol=1e-12, atol=0)


@pytest.mark.parametrize("alg", [nash_md, nash_mp, mmd, nash_mp_approx])
def test_small_beta_log_iterates_stay_finite_and_score_exactly(alg):
    # beta = 1e-4: log pi* spans ~1/beta, far below float64's exp range, so probabilities
    # underflow to exact zeros -- the log-policies must not.
    game = random_preference_game(30, 1e-4, seed=0)
    star = regularized_nash(game)
    kwargs = dict(seed=0, inner_steps=5, batch_size=5) if alg is nash_mp_approx else {}
    result = alg.run(game, iters=20, **kwargs)
    assert np.isfinite(result.log_policies).all()
    np.testing.assert_array_equal(result.policies, np.exp(result.log_policies))
    for log_pi in result.log_policies:
        exact = games.kl(star.log_policy, log_pi, log=True)
        assert np.isfinite(exact) and exact == kl_log(star.log_policy, log_pi)
        e = exploitability(game, log_pi, log=True)
        assert np.isfinite(e) and 0.0 <= e <= 1.0 + 1e-12
    if alg is nash_md:
        # its first step (eta_0 = 1/beta) is sharp enough that probabilities really underflow:
        # scored from probabilities the KL is inf, from log-probabilities it is the exact value.
        last = result.policies[-1]
        assert (last == 0).any()
        assert games.kl(star.policy, last) == np.inf
        assert np.isfinite(games.kl(star.log_policy, result.log_policies[-1], log=True))


def test_seed_of_deterministic_methods_is_still_validated():
    game = cyclic_game(3, 0.1)
    for alg in (nash_md, nash_mp, mmd):
        with pytest.raises(TypeError, match="^seed must be"):
            alg.run(game, iters=2, seed="0")
        with pytest.raises(ValueError, match="^seed must be"):
            alg.run(game, iters=2, seed=-1)
    with pytest.raises(TypeError, match="^seed must be"):
        nash_mp_approx.run(game, iters=2, seed=1.5)


# ------------------------------------------------------------------ the oracle and recorded diagnostics
from mdpkit.algorithms._preference_common import PreferenceOracle  # noqa: E402


def test_oracle_exposes_only_the_setting_and_counts_queries():
    game = random_preference_game(4, 0.3, seed=2, mu="random")
    oracle = PreferenceOracle(game, record=True)
    assert not hasattr(oracle, "P") and not hasattr(oracle, "_P")
    assert oracle.n == 4 and oracle.beta == 0.3 and np.array_equal(oracle.mu, game.mu)
    pi = np.full(4, 0.25)
    assert np.array_equal(oracle.win_rates(pi), game.P @ pi)
    out = oracle.compare(np.array([0, 1]), np.array([1, 0]), np.array([0.0, 0.999999]))
    assert out.tolist() == [float(0.0 < game.P[0, 1]), float(0.999999 < game.P[1, 0])]
    assert oracle.queries == 1 and oracle.comparisons == 2
    assert oracle.opponents().shape == (1, 4) and oracle.compared().shape == (2, 3)


@pytest.mark.parametrize("alg", [nash_mp, nash_md, mmd, nash_mp_approx],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_record_leaves_iterates_bit_identical_and_counts_what_was_asked(alg):
    game = random_preference_game(6, 0.05, seed=4, mu="random")
    kwargs = {"inner_steps": 3, "batch_size": 4} if alg is nash_mp_approx else {}
    plain = alg.run(game, iters=7, seed=5, **kwargs)
    rec = alg.run(game, iters=7, seed=5, record=True, **kwargs)
    assert plain.diagnostics is None
    assert np.array_equal(plain.log_policies, rec.log_policies)
    d = rec.diagnostics
    if alg is nash_mp_approx:
        assert d["oracle_comparisons"] == rec.queries[-1] == 7 * 2 * 3 * 4
        assert d["compared"].shape == (rec.queries[-1], 3)
        assert d["sampled_from"].shape == (7 * 2 * 3, 6) and d["opponents_sampled"].shape == (14, 6)
        assert np.allclose(d["sampled_from"].sum(axis=1), 1.0)
    else:
        assert d["oracle_queries"] == rec.queries[-1] == d["opponents"].shape[0]
        assert np.allclose(d["opponents"].sum(axis=1), 1.0)
    if alg is nash_mp:
        assert d["log_half_policies"].shape == (7, 6)
        np.testing.assert_array_equal(d["opponents"][1::2], np.exp(d["log_half_policies"]))
    if alg is nash_md:
        np.testing.assert_array_equal(d["opponents"], np.exp(d["log_mixtures"]))
    with pytest.raises(TypeError, match="record must be True or False"):
        alg.run(game, iters=1, record="yes", **kwargs)


def test_steps_accept_the_oracle_and_the_game_alike():
    game = random_preference_game(5, 0.2, seed=6, mu="random")
    lp = game.log_mu
    oracle = PreferenceOracle(game)
    for a, b in [(nash_mp.step(game, lp, 0.4), nash_mp.step(oracle, lp, 0.4)),
                 (nash_md.step(game, lp, 1.0), nash_md.step(oracle, lp, 1.0)),
                 (mmd.step(game, lp, 0.8), mmd.step(oracle, lp, 0.8))]:
        np.testing.assert_array_equal(a, b)
    assert oracle.queries == 2 + 1 + 1
