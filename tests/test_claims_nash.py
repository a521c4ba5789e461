"""Nash-MP claims: observables are exact and reproducible; quick budget verdicts, every mutant caught.

One quick-budget sweep of all nash claims (conftest's session-wide ``quick_sweep``) is shared by
the verdict tests.
``nash.mp_fewer_queries_than_md`` is a documented finding (``Claim.finding``): it is refuted by
instances where Nash-MD's first step (a full regularised best response to mu) already lands
within 1e-6 of pi*, and the test below pins down that this is the only way it fails.
"""
import numpy as np
import pytest

from mdpkit.algorithms import nash_mp
from mdpkit.envs.preference import random_preference_game
from mdpkit.games import kl_log, log_ratio_span, regularized_nash, exploitability
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
