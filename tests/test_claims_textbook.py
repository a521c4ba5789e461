"""Textbook claims: observables are exact and reproducible; quick budget passes, every mutant caught."""
import numpy as np
import pytest

from mdpkit.solvers.discounted import policy_iteration
from proofs_check import ResultStore, derive_seed, load_claims, run_claims
from proofs_check.claims import textbook

#: Claim family whose quick budget conftest sweeps in the background (fixture ``quick_sweep``).
QUICK_FAMILY = "textbook"


def test_registry_holds_the_textbook_claims():
    claims = load_claims()
    for cid in ("textbook.vi_contraction", "textbook.mc_rate", "textbook.greedy_loss"):
        assert cid in claims and claims[cid].mutants


def test_vi_observable_starts_at_norm_of_v_star_and_contracts():
    params = {"S": 6, "A": 2, "gamma": 0.8}
    seed = derive_seed("textbook.vi_contraction", params, 0)
    err = textbook.observe_vi_errors(params, seed)["error"]
    P, R = textbook._discounted_instance(params, derive_seed("textbook.vi_contraction", params, 0))
    V_star = policy_iteration(P, R, 0.8).V
    assert err[0] == pytest.approx(np.max(np.abs(V_star)), rel=1e-12)   # V_0 = 0
    # Every step contracts by gamma, up to the rounding of V* (see the claim's justification).
    assert np.all(err[1:] <= 0.8 * err[:-1] + 1e-12)
    assert err[-1] < 1e-8


def test_observables_are_reproducible_from_the_seed():
    for claim, params in [(textbook.MC_RATE, {"n": 64, "S": 5, "A": 2, "H": 5}),
                          (textbook.GREEDY_LOSS, {"eps": 0.1, "H": 5, "S": 10, "A": 4})]:
        for _, observe in claim.variants():
            a = observe(params, derive_seed(claim.id, params, 3))
            b = observe(params, derive_seed(claim.id, params, 3))
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_greedy_loss_is_nonnegative_and_zero_without_perturbation():
    params = {"eps": 0.0, "H": 4, "S": 6, "A": 3}
    loss = textbook.observe_greedy_loss(params, derive_seed("t.t", params, 0))["loss"]
    np.testing.assert_allclose(loss, 0.0, atol=1e-12)   # greedy on Q* is optimal
    params["eps"] = 0.2
    loss = textbook.observe_greedy_loss(params, derive_seed("t.t", params, 1))["loss"]
    assert loss.shape == (6,) and np.all(loss >= -1e-12) and np.all(loss <= 2 * 0.2 * 4)


def test_mc_mutant_one_trajectory_error_does_not_depend_on_n():
    errs = {n: textbook.observe_mc_error_one_trajectory({"n": n, "S": 5, "A": 2, "H": 5},
                                                        derive_seed("x.y", {}, 0))["error"]
            for n in (16, 4096)}
    assert errs[16] == pytest.approx(errs[4096], rel=1e-12)


def test_quick_budget_passes_and_catches_every_mutant(quick_sweep):
    report = quick_sweep(textbook.CLAIMS)
    for res in report.results:
        v = res.verdict
        assert v.passed, (v.claim_id, v.summary)
        for m in v.mutants:
            assert m.caught, (v.claim_id, m.name, m.summary)
    mc = report.results[1].verdict.numbers["groups"][0]
    assert -0.6 <= mc["ci"][0] <= -0.5 <= mc["ci"][1] <= -0.4


@pytest.mark.full
def test_full_budget_passes_and_catches_every_mutant(tmp_path):
    with ResultStore(tmp_path) as store:
        report = run_claims(textbook.CLAIMS, store=store, budget="full")
    assert report.ok, [(r.verdict.claim_id, r.verdict.summary) for r in report.results]
