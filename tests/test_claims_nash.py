"""Nash-MP claims: observables are exact and reproducible; quick budget verdicts, every mutant caught.

One quick-budget sweep of all nash claims (conftest's session-wide ``quick_sweep``) is shared by
the verdict tests.
``nash.mp_fewer_queries_than_md`` is a documented finding (``Claim.finding``): it is refuted by
instances where Nash-MD's first step (a full regularised best response to mu) already lands
within 1e-6 of pi*, and the test below pins down that this is the only way it fails.
"""
import numpy as np
import pytest

from mdpkit.algorithms import nash_mp, nash_mp_approx
from mdpkit.envs.preference import random_preference_game
from mdpkit.games import PreferenceGame, kl_log, log_ratio_span, regularized_nash, exploitability
from proofs_check import derive_seed, load_claims
from proofs_check.claims import nash

KNOWN_FAILURES = {claim.id for claim in nash.CLAIMS if claim.finding}
#: Claim family whose quick budget conftest sweeps in the background (fixture ``quick_sweep``).
QUICK_FAMILY = "nash"


def test_registry_holds_the_nash_claims():
    claims = load_claims()
    for claim in nash.CLAIMS:
        assert claims[claim.id] is claim and claim.mutants


def test_observables_are_reproducible_from_the_seed():
    cases = [(nash.MP_KL_BOUND, {"beta_lo": 0.01, "family": "cyclic"}),
             (nash.MP_KL_CONTRACTION, {"beta": 0.1, "family": "random"}),
             (nash.MD_KL_BOUND, {"beta": 0.1, "T": 50}),
             (nash.MP_APPROX_FLOOR, {"T_in": 4}),
             (nash.MWU_AVERAGE_RATE, {"T": 100, "family": "dice"})]
    for claim, params in cases:
        for _, observe in claim.variants():
            a = observe(params, derive_seed(claim.id, params, 2))
            b = observe(params, derive_seed(claim.id, params, 2))
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_mp_series_match_the_library_metrics():
    """The claim's loops equal mdpkit.games' validated metrics on the same iterates."""
    params = {"beta": 0.1, "family": "random"}
    seed = derive_seed("nash.mp_kl_contraction", params, 0)
    out = nash.observe_mp_series(params, seed)
    rng = np.random.default_rng(derive_seed("nash.mp_kl_contraction", params, 0))
    game = nash.draw_game("random", 0.1, rng)
    log_init = nash._softmax_logs(rng, game.n, rng.uniform(0.0, 3.0))
    star = regularized_nash(game)
    res = nash_mp.run(game, iters=nash._iterations(0.1), init=np.exp(log_init))
    for k in (0, 1, 10, 40):
        assert out["kl"][k] == kl_log(star.log_policy, res.log_policies[k])
        assert out["span"][k] == pytest.approx(log_ratio_span(res.log_policies[k], star.log_policy),
                                               rel=1e-12, abs=1e-14)
        assert out["exploitability"][k] == pytest.approx(exploitability(game, res.policies[k]),
                                                         rel=1e-9, abs=1e-16)
    # The run goes far enough for the claimed bound to fall by BOUND_DECAY.
    assert (1 + 2 * 0.1) ** -(len(out["kl"]) - 1) <= 1 / nash.BOUND_DECAY


def test_kl_ratio_observable_is_the_normalised_kl():
    params = {"beta_lo": 0.1, "family": "random"}
    ratio = nash.observe_mp_kl_bound(params, derive_seed("x.y", params, 0))["kl_ratio"]
    assert ratio.ndim == 1 and ratio.size >= 5
    assert np.all(ratio > 0) and np.all(ratio <= 1.0)


def test_no_extrapolation_mutant_spends_the_same_queries():
    game = random_preference_game(6, 0.05, seed=0, mu="random")
    logs = nash._no_extrapolation_logs(game, game.log_mu.copy(), 5, 0.1)
    assert logs.shape == (6, 6)     # index k = after 2k single-query steps


def test_query_ratio_counts_queries_exactly():
    params = {"beta": 0.1}
    out = nash.observe_query_ratio(params, derive_seed("nash.mp_fewer_queries_than_md", params, 0))
    assert out["queries_mp"] % 2 == 0 and out["queries_mp"] > 0
    assert out["query_ratio"] == out["queries_mp"] / out["queries_md"]


def test_n2_games_are_solved_by_nash_md_in_one_query():
    """Why the query comparison fails: with n = 2, P(0 > pi) - P(1 > pi) = P[0, 1] - 1/2 for every pi,
    so the regularised best response to mu is pi*, and Nash-MD's first step (eta_0 beta = 1) is it."""
    game = random_preference_game(2, 0.1, seed=3, mu="random")
    star = regularized_nash(game).log_policy
    from mdpkit.algorithms import nash_md
    first = nash_md.run(game, iters=1).log_policies[1]
    assert kl_log(star, first) < 1e-20


@pytest.fixture(scope="module")
def quick_report(quick_sweep):
    return quick_sweep(nash.CLAIMS)


def test_quick_budget_passes_and_catches_every_mutant(quick_report):
    for res in quick_report.results:
        v = res.verdict
        for m in v.mutants:
            assert m.caught, (v.claim_id, m.name, m.summary)
        assert v.ok, (v.claim_id, v.label, v.summary)
        assert v.passed == (v.claim_id not in KNOWN_FAILURES)


def test_query_comparison_is_refuted_only_where_nash_md_is_near_exact_after_few_queries(quick_report):
    res = next(r for r in quick_report.results if r.claim.id == "nash.mp_fewer_queries_than_md")
    assert not res.verdict.passed
    losers = [r for r in res.runs["claim"] if r.observed["query_ratio"] > 1]
    assert losers
    # Each counterexample: Nash-MD needs only a handful of queries (its first best-response steps).
    assert all(r.observed["queries_md"] <= 10 for r in losers)


def test_query_comparison_mutant_is_caught_where_the_claim_holds(quick_report):
    """The mutant's catch must not rest on the claim's own counterexamples (all at beta = 1)."""
    res = next(r for r in quick_report.results if r.claim.id == "nash.mp_fewer_queries_than_md")
    claim = [r for r in res.runs["claim"] if r.params["beta"] == 0.1]
    mutant = [r for r in res.runs["uniform_magnet"] if r.params["beta"] == 0.1]
    assert claim and len(claim) == len(mutant)
    assert all(r.observed["query_ratio"] <= 1 for r in claim)
    assert all(r.observed["query_ratio"] > 1 for r in mutant)


# ------------------------------------------------------------------ lemma-level claims (issue #12)
def test_loading_the_claims_imports_no_algorithm_numba_or_scipy():
    import subprocess
    import sys
    code = ("import sys, proofs_check.claims.nash as n; "
            "print(sorted(m for m in sys.modules if m.startswith(('mdpkit.algorithms', 'mdpkit.envs', "
            "'mdpkit.games', 'numba', 'scipy.optimize', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_outcome_compatible_twin_keeps_every_outcome_and_moves_p():
    game = random_preference_game(6, 0.1, seed=7, mu="random")
    rec = nash_mp_approx.run(game, iters=3, inner_steps=4, batch_size=5, seed=8, record=True)
    compared = rec.diagnostics["compared"]
    twin_P = nash._outcome_compatible_twin(np.asarray(game.P), compared)
    y, y_opp, u = compared[:, 0].astype(int), compared[:, 1].astype(int), compared[:, 2]
    assert np.array_equal(u < game.P[y, y_opp], u < twin_P[y, y_opp])
    twin = PreferenceGame(twin_P, game.mu, game.beta)          # a valid game
    assert np.max(np.abs(twin.P - game.P)) > 0.05
    a = nash_mp_approx.run(game, iters=3, inner_steps=4, batch_size=5, seed=8).log_policies
    b = nash_mp_approx.run(twin, iters=3, inner_steps=4, batch_size=5, seed=8).log_policies
    assert np.array_equal(a, b)


def test_independent_equilibrium_agrees_with_the_library_solver():
    for seed, beta in [(0, 0.01), (1, 0.1), (2, 1.0)]:
        game = random_preference_game(30, beta, seed=seed, mu="random")
        ours = nash.independent_equilibrium(np.asarray(game.P), np.asarray(game.log_mu), beta)
        np.testing.assert_allclose(ours, regularized_nash(game).log_policy, rtol=0, atol=1e-9)


def test_identity_recomputation_sees_a_1e9_perturbation_but_not_rounding():
    """The plain-numpy recomputation agrees with the library to ~1e-15 and sees a 1e-9 perturbation."""
    game = random_preference_game(8, 0.02, seed=3, mu="random")
    res = nash_mp.run(game, iters=10, record=True)
    assert nash._identity_errors("nash_mp", game, res.log_policies, res.diagnostics) < 1e-13
    logs = res.log_policies.copy()
    logs[5, 2] += 1e-9
    assert nash._identity_errors("nash_mp", game, logs, res.diagnostics) > 1e-10


def test_uniform_magnet_mutant_reports_a_censored_ratio_above_one():
    params = {"beta": 0.1}
    seed = derive_seed("nash.mp_fewer_queries_than_md", params, 0)
    claim = nash.observe_query_ratio(params, seed)
    mutant = nash.observe_query_ratio_uniform_magnet(params, seed)
    assert mutant["queries_md"] == claim["queries_md"]        # the same Nash-MD count, early-stopped
    assert mutant["query_ratio"] > 1 and mutant["query_ratio:censored"] == 1


def test_expected_inner_iterate_matches_a_long_simulation():
    """The exact mean used by nash.approx_inner_unbiased, against 20000 replications (z < 4.5)."""
    rng = np.random.default_rng(11)
    game = random_preference_game(3, 0.5, seed=rng, mu="random")
    center = np.log(np.array([0.2, 0.3, 0.5]))
    opponent = np.array([0.5, 0.25, 0.25])
    step_rng = np.random.default_rng(12)
    samples = np.array([nash_mp_approx.approx_prox_step(game, center, opponent, 1.0, 2, 5, step_rng)
                        for _ in range(20000)])
    samples -= samples.mean(axis=1, keepdims=True)
    expected = nash._expected_inner_iterate(game, center, opponent, 1.0, 2)
    z = np.abs(samples.mean(axis=0) - expected) / (samples.std(axis=0, ddof=1) / np.sqrt(len(samples)))
    assert np.all(z < 4.5)


def test_written_out_binomial_pins_equal_pin_binomial():
    from proofs_check.claim import Pin
    finding = nash.MP_FEWER_QUERIES.finding
    assert finding.pins["quick"] == Pin.binomial(3, 12, "runs with N_MP > N_MD, 3 of 12 (2 beta x 6 seeds, "
                                                        "independent games)")
    assert finding.pins["full"] == Pin.binomial(10, 90, "runs with N_MP > N_MD, 10 of 90 (paper_figs/nash; "
                                                        "3 beta x 30 seeds)")
