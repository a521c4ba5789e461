"""HF-UCRL-RFE++ claims: observables are exact and reproducible; quick budget verdicts, every mutant caught.

One quick-budget run of all hf_rfe claims (2 worker processes) is shared by the verdict tests.
``hf_rfe.gap_rate`` and ``hf_rfe.d_scaling`` are documented findings (``Claim.finding``); the
tests below pin down their mechanism: while ``beta ||psi|| >= 1`` for every action, the relaxed
oracle's truncated objective is flat and it plays a single sign action.
"""
import numpy as np
import pytest

from mdpkit import audit
from mdpkit.algorithms import hf_rfe as hf_algorithm
from proofs_check import ResultStore, derive_seed, load_claims, run_claims
from proofs_check.claims import hf_rfe
from proofs_check.runner import make_executor

KNOWN_FAILURES = {claim.id for claim in hf_rfe.CLAIMS if claim.finding}

SMALL_PARAMS = {
    "hf_rfe.certificate": {"H": 5, "K": 20, "beta_scale": 0.01},
    "hf_rfe.horizon_free": {"H": 10, "d": 3, "eps": 0.01, "k_max": 50},
    "hf_rfe.gap_rate": {"K": 50, "d": 3, "H": 3, "beta_scale": 0.01, "scan_from": 50, "scan_to": 100,
                        "scan_factor": 2},
    "hf_rfe.d_scaling": {"d": 3, "eps": 0.04, "H": 3, "beta_scale": 0.01, "k_max": 100},
}


def test_registry_holds_the_hf_rfe_claims():
    claims = load_claims()
    assert {c.id for c in hf_rfe.CLAIMS} == set(SMALL_PARAMS)
    for claim in hf_rfe.CLAIMS:
        assert claims[claim.id] is claim and claim.mutants
        assert claim.provenance.kind == "reconstructed"


def test_observables_are_reproducible_from_the_seed():
    for claim in hf_rfe.CLAIMS:
        params = SMALL_PARAMS[claim.id]
        for name, observe in claim.variants():
            a = observe(params, derive_seed(claim.id, params, 1))
            b = observe(params, derive_seed(claim.id, params, 1))
            assert a.keys() == b.keys(), (claim.id, name)
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_doubling_checkpoints():
    assert hf_rfe.doubling_checkpoints(25) == (25,)
    assert hf_rfe.doubling_checkpoints(400) == (25, 50, 100, 200, 400)
    with pytest.raises(ValueError, match="k_max"):
        hf_rfe.doubling_checkpoints(300)
    with pytest.raises(ValueError, match="k_max"):
        hf_rfe.doubling_checkpoints(10)


def test_scanned_budgets():
    assert hf_rfe.scanned_budgets({"scan_from": 100, "scan_to": 1600, "scan_factor": 4}) == (100, 400, 1600)
    assert hf_rfe.scanned_budgets({"scan_from": 100, "scan_to": 100, "scan_factor": 2}) == (100,)
    with pytest.raises(ValueError, match="scan_to"):
        hf_rfe.scanned_budgets({"scan_from": 100, "scan_to": 1000, "scan_factor": 4})


def test_hard_instance_for_budget_ties_delta_to_k():
    for K in (100, 3200):
        inst = hf_rfe.hard_instance_for_budget(4, 3, K, seed=0)
        np.testing.assert_allclose(np.abs(inst.mu), (192.0 * K) ** -0.5, rtol=1e-15)


def test_gap_rate_observable_is_the_direct_audit():
    """Entry j of worst_gap_per_instance is explore + battery + exact gaps on instance j, recomputed here."""
    params = SMALL_PARAMS["hf_rfe.gap_rate"]
    seed = derive_seed("hf_rfe.gap_rate", params, 0)
    out = hf_rfe.observe_gap_rate(params, seed)
    budgets = hf_rfe.scanned_budgets(params)
    assert out["worst_gap_per_instance"].shape == (len(budgets),)
    for j, child in enumerate(derive_seed("hf_rfe.gap_rate", params, 0).spawn(len(budgets))):
        inst = hf_rfe.hard_instance_for_budget(params["d"], params["H"], budgets[j], child)
        run = hf_algorithm.explore(inst.lmdp, K=params["K"], seed=derive_seed("hf_rfe.gap_rate", params, 0),
                                   beta_scale=params["beta_scale"])
        battery = audit.reward_battery(inst.lmdp, seed=0, exploration=run)
        assert out["worst_gap_per_instance"][j] == audit.exact_gaps(run, battery).worst_gap
    assert out["worst_gap"] == out["worst_gap_per_instance"].max()
    # The fixed-budget mutant explores 25 episodes whatever K.
    assert hf_rfe.observe_gap_rate_fixed_budget(params, seed)["first_step_actions_tried"].max() == 1


def test_episodes_needed_are_checkpoints_or_censored():
    params = SMALL_PARAMS["hf_rfe.d_scaling"]
    for observe in (hf_rfe.observe_d_scaling, hf_rfe.observe_d_scaling_thinned):
        out = observe(params, derive_seed("hf_rfe.d_scaling", params, 0))
        allowed = set(hf_rfe.doubling_checkpoints(params["k_max"])) | {2 * params["k_max"]}
        assert set(out["episodes_needed_per_instance"].tolist()) <= allowed
        assert out["episodes_needed"] == out["episodes_needed_per_instance"].max()
        assert out["censored"] == float(out["episodes_needed"] > params["k_max"])


def test_saturated_oracle_plays_one_action():
    """The findings' mechanism: beta ||psi|| >= 1 for every pair, so u = 1 everywhere, the truncated
    objective is flat and the oracle's argmax keeps the lowest-index sign action."""
    inst = hf_rfe.hard_instance_for_budget(4, 3, 100, seed=0)
    run = hf_algorithm.explore(inst.lmdp, K=100, seed=0, beta_scale=0.01)
    assert hf_rfe.first_step_actions_tried(run) == 1
    assert np.all(run.diagnostics["actions"][:, 0] == 0)
    norms = audit._max_vertex_norm(inst.lmdp, run.inverse_grams[-1])[0]   # (A,) at the start state
    assert np.all(run.hyper["beta_used"] * norms >= 1.0)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    with ResultStore(tmp_path_factory.mktemp("hf_rfe_quick")) as store, make_executor(2) as executor:
        return run_claims(hf_rfe.CLAIMS, store=store, budget="quick", executor=executor)


def test_quick_budget_verdicts_and_every_mutant_caught(quick_report):
    assert KNOWN_FAILURES == {"hf_rfe.gap_rate", "hf_rfe.d_scaling"}
    for res in quick_report.results:
        v = res.verdict
        assert v is not None, (res.claim.id, res.errors)
        for m in v.mutants:
            assert m.caught, (v.claim_id, m.name, m.summary)
        assert v.ok, (v.claim_id, v.label, v.summary)
        assert v.passed == (v.claim_id not in KNOWN_FAILURES)


def test_horizon_free_claim_runs_are_never_censored(quick_report):
    """A censored HF-UCRL-RFE++ run would flatten the H-slope; the quick budget must not need it."""
    res = next(r for r in quick_report.results if r.claim.id == "hf_rfe.horizon_free")
    assert all(r.observed["censored"] == 0 for r in res.runs["claim"])


def test_gap_rate_finding_is_the_single_action_phase(quick_report):
    res = next(r for r in quick_report.results if r.claim.id == "hf_rfe.gap_rate")
    for run in res.runs["claim"]:
        if run.params["K"] <= 400:
            assert np.all(run.observed["first_step_actions_tried"] == 1)
