"""HF-UCRL-RFE++ claims: observables are exact and reproducible; quick budget verdicts, every mutant caught.

One quick-budget sweep of all hf_rfe claims (conftest's session-wide ``quick_sweep``, 2 worker
processes) is shared by the verdict tests.
``hf_rfe.gap_rate`` and ``hf_rfe.d_scaling`` were documented findings while the relaxed oracle broke
its (ubiquitous) ties by lowest action index; the tests below pin down that mechanism and that the
random tie-break explores every tied action. ``hf_rfe.horizon_free`` measures the episodes after
which the gap stays <= eps on a fine checkpoint grid, with a tolerance derived from the polylog
factor (issue 5); the tests check both derivations and that the quick runs resolve the episodes.
"""
import numpy as np
import pytest

from mdpkit import audit
from mdpkit.algorithms import hf_rfe as hf_algorithm
from proofs_check import derive_seed, load_claims
from proofs_check.claims import _hf_rfe_reference as reference
from proofs_check.claims import hf_rfe
from mdpkit.envs.linear import three_state_hard

KNOWN_FAILURES = {claim.id for claim in hf_rfe.CLAIMS if claim.finding}
#: Claim family whose quick budget conftest sweeps in the background (fixture ``quick_sweep``).
QUICK_FAMILY = "hf_rfe"

SMALL_PARAMS = {
    "hf_rfe.certificate": {"H": 5, "K": 20, "beta_scale": 0.01},
    "hf_rfe.horizon_free": {"H": 10, "d": 4, "eps": 0.01, "k_max": 64},
    "hf_rfe.gap_rate": {"K": 50, "d": 3, "H": 3, "beta_scale": 0.01, "scan_factor": 4, "scan_floor_K": 100},
    "hf_rfe.d_scaling": {"n_signs": 2, "eps": 0.04, "H": 3, "beta_scale": 0.01, "k_max": 100},
    "hf_rfe.one_step_identities": {"variant": "hf_practical", "K": 6},
    "hf_rfe.coverage": {"variant": "ucrl_default", "K": 10},
    "hf_rfe.information_flow": {"variant": "ucrl_default"},
    "hf_rfe.defaults": {"algorithm": "ucrl_rfe", "K": 10},
}


def test_registry_holds_the_hf_rfe_claims():
    claims = load_claims()
    assert {c.id for c in hf_rfe.CLAIMS} == set(SMALL_PARAMS)
    for claim in hf_rfe.CLAIMS:
        assert claims[claim.id] is claim and claim.mutants
        # The information-flow claim checks the setting itself (the reward-free protocol, unknown theta*).
        expected = "paper" if claim.id == "hf_rfe.information_flow" else "reconstructed"
        assert claim.provenance.kind == expected


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


def test_fine_checkpoints():
    assert hf_rfe.fine_checkpoints(8) == (8,)
    assert hf_rfe.fine_checkpoints(32) == (8, 10, 11, 13, 16, 19, 23, 27, 32)
    assert hf_rfe.fine_checkpoints(64, per_octave=1) == (8, 16, 32, 64)
    ks = np.array(hf_rfe.fine_checkpoints(2048))
    assert ks.size == 4 * 8 + 1 and np.all(np.diff(ks) > 0)  # distinct after rounding
    assert np.all(np.abs(ks - 8 * 2 ** (np.arange(ks.size) / 4)) <= 0.5)  # geometric up to rounding
    for bad in (100, 4, 24):
        with pytest.raises(ValueError, match="k_max"):
            hf_rfe.fine_checkpoints(bad)
    with pytest.raises(ValueError, match="per_octave"):
        hf_rfe.fine_checkpoints(64, per_octave=5)


def test_polylog_chord_is_the_slope_of_log_squared():
    """The horizon_free tolerance is the log-log chord of log^2(7KH) over the swept H range."""
    k, h0, h1 = 100, 10, 300
    f = lambda H: np.log(7 * k * H) ** 2  # noqa: E731
    expected = np.log(f(h1) / f(h0)) / np.log(h1 / h0)
    assert hf_rfe.polylog_chord(k, h0, h1) == pytest.approx(expected, rel=1e-12)
    assert hf_rfe.polylog_chord(k, h0, h1) == pytest.approx(np.log(1.916) / np.log(30), abs=2e-3)
    assert hf_rfe.polylog_chord(25, h0, h1) > hf_rfe.polylog_chord(400, h0, h1)  # looser at small K
    rule, sweep = hf_rfe.HORIZON_FREE.rule, hf_rfe.HORIZON_FREE.sweep
    hs = sweep.full.axes["H"]
    assert rule.tolerance == hf_rfe.polylog_chord(hf_rfe._HF_EPISODE_SCALE, min(hs), max(hs))
    assert max(sweep.quick.axes["H"]) < max(hs)  # quick fits H <= 100, whose chord is larger: stricter


def test_horizon_free_observable_is_the_settled_checkpoint():
    params = SMALL_PARAMS["hf_rfe.horizon_free"]
    ks = hf_rfe.fine_checkpoints(params["k_max"])
    for observe, budget in ((hf_rfe.observe_hf_episodes_needed, params["k_max"]),
                            (hf_rfe.observe_ucrl_episodes_needed, 16 * params["k_max"])):
        out = observe(params, derive_seed("hf_rfe.horizon_free", params, 0))
        grid = ks if budget == params["k_max"] else hf_rfe.fine_checkpoints(budget, per_octave=1)
        gaps = out["worst_gap_per_checkpoint"]
        assert gaps.shape == (len(grid),) and np.all(gaps >= -1e-12)
        assert out["episodes_needed"] == hf_rfe.settled_checkpoint(grid, gaps, params["eps"])
        assert float(out["episodes_needed"]) in set(grid) | {2 * budget}
        assert out["first_hit"] <= out["episodes_needed"]
        assert out["censored"] == float(out["episodes_needed"] > budget)


def test_scanned_deltas():
    top = (1 - 1e-3) / 6 / 3  # d = 4: just inside (d - 1) Delta <= delta0 = 1/6
    deltas = hf_rfe.scanned_deltas({"d": 4, "scan_factor": 2, "scan_floor_K": 1600})
    np.testing.assert_allclose(deltas, top / 2.0 ** np.arange(5), rtol=1e-15)
    assert deltas[-1] >= (192 * 1600) ** -0.5 > deltas[-1] / 2  # down to Thm 2.6.8's Delta at K = 1600
    assert hf_rfe.scanned_deltas({"d": 3, "scan_factor": 100, "scan_floor_K": 100}) == pytest.approx([0.999 / 12])
    with pytest.raises(ValueError, match="scan_factor"):
        hf_rfe.scanned_deltas({"d": 4, "scan_factor": 1, "scan_floor_K": 100})
    with pytest.raises(ValueError, match="scan_floor_K"):
        hf_rfe.scanned_deltas({"d": 6, "scan_factor": 2, "scan_floor_K": 0.01})


def test_settled_checkpoint():
    ks = (25, 50, 100, 200)
    assert hf_rfe.settled_checkpoint(ks, [0.1, 0.01, 0.01, 0.01], 0.04) == 50
    assert hf_rfe.settled_checkpoint(ks, [0.01, 0.1, 0.01, 0.01], 0.04) == 100  # an early lucky dip
    assert hf_rfe.settled_checkpoint(ks, [0.01, 0.01, 0.01, 0.1], 0.04) == 400  # censored: 2 x budget
    assert hf_rfe.settled_checkpoint(ks, [0.0] * 4, 0.04) == 25


def test_hard_instance_for_budget_ties_delta_to_k():
    for K in (100, 3200):
        inst = hf_rfe.hard_instance_for_budget(4, 3, K, seed=0)
        np.testing.assert_allclose(np.abs(inst.mu), (192.0 * K) ** -0.5, rtol=1e-15)


def test_gap_rate_observable_is_the_direct_audit():
    """Entry j of worst_gap_per_instance is explore + battery + exact gaps on instance j, recomputed here."""
    params = SMALL_PARAMS["hf_rfe.gap_rate"]
    seed = derive_seed("hf_rfe.gap_rate", params, 0)
    out = hf_rfe.observe_gap_rate(params, seed)
    deltas = hf_rfe.scanned_deltas(params)
    assert out["worst_gap_per_instance"].shape == (len(deltas),) == (2,)
    for j, child in enumerate(derive_seed("hf_rfe.gap_rate", params, 0).spawn(len(deltas))):
        inst = three_state_hard(params["d"], params["H"], deltas[j], seed=child)
        run = hf_algorithm.explore(inst.lmdp, K=params["K"], seed=derive_seed("hf_rfe.gap_rate", params, 0),
                                   beta_scale=params["beta_scale"], tie_break="random")
        battery = audit.reward_battery(inst.lmdp, seed=0, exploration=run)
        assert out["worst_gap_per_instance"][j] == audit.exact_gaps(run, battery).worst_gap
        assert out["first_step_actions_tried"][j] == hf_rfe.first_step_actions_tried(run)
    assert out["worst_gap"] == out["worst_gap_per_instance"].max()
    # The fixed-budget mutant explores 25 episodes whatever K.
    assert hf_rfe.observe_gap_rate_fixed_budget(params, seed)["first_step_actions_tried"].max() <= 25


def test_episodes_needed_are_checkpoints_or_censored():
    params = SMALL_PARAMS["hf_rfe.d_scaling"]
    claim_out = hf_rfe.observe_d_scaling(params, derive_seed("hf_rfe.d_scaling", params, 0))
    as_stored = {k: np.asarray(v, dtype=np.float64) for k, v in claim_out.items()}
    for out in (claim_out, hf_rfe.thinned_from_claim_run(as_stored)):
        assert out["episodes_needed_per_instance"].shape == (len(hf_rfe._DELTA_FACTORS),)
        allowed = set(hf_rfe.doubling_checkpoints(params["k_max"])) | {2 * params["k_max"]}
        assert set(out["episodes_needed_per_instance"].tolist()) <= allowed
        assert out["episodes_needed"] == out["episodes_needed_per_instance"].max()
        assert out["censored"] == float(out["episodes_needed"] > params["k_max"])


def test_thinned_mutant_reads_earlier_snapshots_of_the_same_run():
    """The derived thinned_data mutant: with one sign it is the claim itself; with more, it can only
    settle later (its answer at k is the claim's answer at an earlier checkpoint of the same run)."""
    one = {**SMALL_PARAMS["hf_rfe.d_scaling"], "n_signs": 1}
    out = hf_rfe.observe_d_scaling(one, derive_seed("hf_rfe.d_scaling", one, 0))
    np.testing.assert_array_equal(out["episodes_needed_thinned_per_instance"], out["episodes_needed_per_instance"])
    params = {**SMALL_PARAMS["hf_rfe.d_scaling"], "n_signs": 3, "k_max": 200}
    out = hf_rfe.observe_d_scaling(params, derive_seed("hf_rfe.d_scaling", params, 0))
    assert out["episodes_needed_thinned_per_instance"].max() > out["episodes_needed_per_instance"].max()
    mutant = hf_rfe.thinned_from_claim_run({k: np.asarray(v, dtype=np.float64) for k, v in out.items()})
    assert set(mutant) == {"episodes_needed", "episodes_needed_per_instance", "censored", "first_step_actions_tried"}


def test_saturated_oracle_ties_every_action():
    """The old findings' mechanism: beta ||psi|| >= 1 at every first-step action, so u = 1 there, the
    successor values are action-independent and every action is a maximiser of the relaxed oracle
    (first_step_ties = A in every episode). Lowest-index tie-breaking then plays action 0 only (the
    old behaviour); the random tie-break plays every action."""
    inst = hf_rfe.hard_instance_for_budget(4, 3, 100, seed=0)
    lowest = hf_algorithm.explore(inst.lmdp, K=100, seed=0, beta_scale=0.01, tie_break="lowest")
    assert np.all(lowest.diagnostics["first_step_ties"] == inst.lmdp.A)
    assert hf_rfe.first_step_actions_tried(lowest) == 1
    assert np.all(lowest.diagnostics["actions"][:, 0] == 0)
    norms = audit._max_vertex_norm(inst.lmdp, lowest.inverse_grams[-1])[0]   # (A,) at the start state
    assert np.all(lowest.hyper["beta_used"] * norms >= 1.0)
    rand = hf_algorithm.explore(inst.lmdp, K=100, seed=0, beta_scale=0.01, tie_break="random")
    assert np.all(rand.diagnostics["first_step_ties"] == inst.lmdp.A)
    assert hf_rfe.first_step_actions_tried(rand) == inst.lmdp.A


@pytest.fixture(scope="module")
def quick_report(quick_sweep):
    return quick_sweep(hf_rfe.CLAIMS)


def test_quick_budget_verdicts_and_every_mutant_caught(quick_report):
    assert KNOWN_FAILURES == set()
    for res in quick_report.results:
        v = res.verdict
        assert v is not None, (res.claim.id, res.errors)
        for m in v.mutants:
            assert m.caught, (v.claim_id, m.name, m.summary)
        assert v.ok, (v.claim_id, v.label, v.summary)
        assert v.passed == (v.claim_id not in KNOWN_FAILURES)


def test_horizon_free_claim_runs_are_never_censored(quick_report):
    """A censored HF-UCRL-RFE++ run would flatten the H-slope; the quick budget must not need it.
    The measurement must also resolve the episodes: most runs settle well after the first checkpoint."""
    res = next(r for r in quick_report.results if r.claim.id == "hf_rfe.horizon_free")
    assert all(r.observed["censored"] == 0 for r in res.runs["claim"])
    needed = np.array([float(r.observed["episodes_needed"]) for r in res.runs["claim"]])
    assert np.mean(needed > hf_rfe.fine_checkpoints(8)[0]) >= 0.8


def test_gap_rate_explores_every_first_step_action(quick_report):
    """With random tie-breaking every scanned instance sees all 2^(d-1) first-step actions by K = 100."""
    res = next(r for r in quick_report.results if r.claim.id == "hf_rfe.gap_rate")
    for run in res.runs["claim"]:
        assert np.all(run.observed["first_step_actions_tried"] == 2 ** (run.params["d"] - 1))


# ============================================================================ lemma-level claims
def _recorded_run(variant="hf_practical", K=8, seed=3):
    lmdp = hf_rfe.lemma_instance(seed)
    return lmdp, hf_rfe._explore(variant, lmdp, K, seed, record=True)


@pytest.mark.parametrize("variant", ["hf_default", "hf_practical", "ucrl_default", "ucrl_practical"])
def test_identities_hold_on_honest_runs(variant):
    params = {"variant": variant, "K": 8}
    out = hf_rfe.observe_identities(params, derive_seed("hf_rfe.one_step_identities", params, 0))
    assert out["discrepancy"].shape == (len(reference.HF_IDENTITIES),)
    assert np.all(out["discrepancy"] <= 1e-12)


@pytest.mark.parametrize("tamper, identity", [
    (lambda d: d["sigma2"].__setitem__((2, 1, 0, 0), d["sigma2"][2, 1, 0, 0] * 1.01), "sigma2"),
    (lambda d: d["gram_after"].__setitem__((3, 0, 0), d["gram_after"][3, 0, 0] * 1.001), "gram_update"),
    (lambda d: d["b_after"].__setitem__((3, 1, 0), d["b_after"][3, 1, 0] + 1e-3), "b_update"),
    (lambda d: d["theta_after"].__setitem__((4, 0, 0), d["theta_after"][4, 0, 0] + 1e-3), "theta_solves"),
    (lambda d: d["V_hat"].__setitem__((2, 0), d["V_hat"][2, 0] - 1e-3), "oracle_values"),
    (lambda d: d["beta_k"].__setitem__(5, d["beta_k"][5] * 1.001), "beta_k"),
    (lambda d: d["uncertainty_norms"].__setitem__((1, 0, 0), d["uncertainty_norms"][1, 0, 0] * 1.001),
     "uncertainty_norms"),
])
def test_identities_catch_a_tampered_record(tamper, identity):
    lmdp, run = _recorded_run()
    tamper(run.diagnostics)
    found = reference.audit_hf_run(lmdp, run, delta=0.05, beta_scale=0.001)
    assert found[identity] > 1e-6, found


def test_identities_catch_a_wrong_radius_and_a_wrong_policy():
    lmdp, run = _recorded_run("hf_practical")
    assert reference.audit_hf_run(lmdp, run, delta=0.1, beta_scale=0.001)["hyper"] > 1e-3
    lmdp, run = _recorded_run("ucrl_practical")
    policy = run.diagnostics["policy"]
    policy[:] = 1 - policy  # two actions: the other one everywhere
    found = reference.audit_ucrl_run(lmdp, run, delta=0.05, beta_scale=0.1)
    assert found["policy_maximal"] > 0 and found["rollout_follows_policy"] == np.inf


def test_self_normalised_radius_closed_form():
    gram = np.diag([4.0, 9.0])
    expected = 0.5 * np.sqrt(2 * (0.5 * np.log(36.0) + np.log(1 / 0.1))) + 1.0
    assert reference.self_normalised_radius(gram, 1.0, 1.0, 0.5, 0.1) == pytest.approx(expected, rel=1e-14)


def test_coverage_ratio_is_small_honestly_and_large_for_a_wrong_estimate():
    lmdp, run = _recorded_run("hf_practical", K=30)
    honest = reference.hf_coverage(lmdp, run, delta=0.05)
    assert honest["ratio_per_episode"].shape == (30,) and 0 < honest["ratio"] < 1
    run.diagnostics["theta_after"][10] += 1.0  # a wrong estimate in episode 11
    assert reference.hf_coverage(lmdp, run, delta=0.05)["ratio"] > 1


def test_shifted_simulator_is_restored():
    before = hf_algorithm.environment_tables
    with hf_rfe._shifted_simulator(1):
        assert hf_algorithm.environment_tables is not before
    assert hf_algorithm.environment_tables is before


def test_poisoned_model_hides_only_the_hidden_parts():
    from mdpkit.linear import LinearMixtureMDP

    lmdp = hf_rfe.lemma_instance(0)
    poisoned = hf_rfe.poisoned_model(lmdp, np.random.default_rng(1))
    assert not np.allclose(poisoned.theta, lmdp.theta) and not np.allclose(poisoned.P, lmdp.P)
    np.testing.assert_array_equal(LinearMixtureMDP.P.fget(poisoned), lmdp.P)
    np.testing.assert_array_equal(poisoned.phi, lmdp.phi)
    np.testing.assert_array_equal(hf_algorithm.environment_tables(poisoned)[0], hf_algorithm.environment_tables(lmdp)[0])
    # The audit-only diagnostics read the poisoned theta; nothing else differs.
    honest, lying = (hf_algorithm.explore(m, K=10, seed=4, beta_scale=0.001) for m in (lmdp, poisoned))
    assert not np.array_equal(honest.diagnostics["error_ratio"], lying.diagnostics["error_ratio"])
    assert hf_rfe.exploration_difference(honest, lying) == 0.0


def test_exploration_difference():
    lmdp = hf_rfe.lemma_instance(0)
    a = hf_algorithm.explore(lmdp, K=5, seed=1)
    assert hf_rfe.exploration_difference(a, hf_algorithm.explore(lmdp, K=5, seed=1)) == 0.0
    assert hf_rfe.exploration_difference(a, hf_algorithm.explore(lmdp, K=5, seed=2)) > 0.0
    assert hf_rfe.exploration_difference(a, hf_algorithm.explore(lmdp, K=6, seed=1)) == np.inf


def test_defaults_claim_calls_explore_with_defaults_only(monkeypatch):
    seen = []
    original = hf_algorithm.explore

    def spy(*args, **kwargs):
        seen.append(sorted(kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(hf_algorithm, "explore", spy)
    params = {"algorithm": "hf_rfe", "K": 5}
    hf_rfe.observe_defaults(params, derive_seed("hf_rfe.defaults", params, 0))
    assert seen == [["K", "seed"]]


def test_claims_module_imports_no_algorithm_or_numba():
    import subprocess
    import sys

    code = ("import sys; import proofs_check.claims.hf_rfe; "
            "bad = [m for m in ('numba', 'scipy', 'matplotlib', 'mdpkit.algorithms.hf_rfe', 'mdpkit.envs', "
            "'mdpkit.lowrank', 'mdpkit.linear') if m in sys.modules]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
