"""Runner: order-free seeding, executor independence (inline, processes, Dask), reuse, failures."""
import concurrent.futures as cf

import numpy as np
import pytest

from proofs_check import ResultStore, derive_seed, make_executor, run_claims
from proofs_check.runner import InlineExecutor, code_version, select_claims
from test_pc_synthetic import BROKEN, MEAN_RATE, SLOW_BOUND, observe_mean_error

CLAIMS = [MEAN_RATE, SLOW_BOUND]


def _strip(payloads):
    """Store payloads keyed without the code version (identical code in every test)."""
    return {k[:4]: v for k, v in payloads.items()}


def _sweep(tmp_path, name, executor):
    with ResultStore(tmp_path / name) as store:
        report = run_claims(CLAIMS, store=store, executor=executor)
        return report, _strip(store.payloads())


def test_derive_seed_depends_on_claim_params_and_index_only():
    a = derive_seed("x.y", {"n": 4, "S": 2}, 3)
    b = derive_seed("x.y", {"S": 2, "n": 4}, 3)   # key order irrelevant
    assert a.spawn_key == b.spawn_key and a.entropy == b.entropy
    assert np.array_equal(np.random.default_rng(a).random(5), np.random.default_rng(b).random(5))
    others = [derive_seed("x.z", {"n": 4, "S": 2}, 3), derive_seed("x.y", {"n": 5, "S": 2}, 3),
              derive_seed("x.y", {"n": 4, "S": 2}, 4)]
    assert len({s.spawn_key for s in others + [a]}) == 4


def test_inline_executor_delivers_results_and_exceptions():
    ex = InlineExecutor()
    assert ex.submit(lambda x: x + 1, 1).result() == 2
    fut = ex.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fut.result()


def test_workers_1_2_and_dask_give_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    inline_report, inline = _sweep(tmp_path, "inline", InlineExecutor())
    with make_executor(workers=2) as pool:
        assert isinstance(pool, cf.ProcessPoolExecutor)
        pool_report, pooled = _sweep(tmp_path, "pool", pool)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask_report, dasked = _sweep(tmp_path, "dask", client.get_executor(pure=False))
    expected_runs = sum((1 + len(c.mutants)) * len(c.sweep.quick) * c.sweep.seeds_quick for c in CLAIMS)
    assert len(inline) == expected_runs
    assert inline == pooled == dasked
    for a, b, c in zip(inline_report.results, pool_report.results, dask_report.results):
        assert a.verdict == b.verdict == c.verdict
        assert a.verdict.ok, a.verdict


def test_dask_scheduler_address_through_make_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with make_executor(scheduler=cluster.scheduler_address) as ex:
            assert ex.submit(observe_mean_error, {"n": 8}, derive_seed("a.b", {}, 0)).result()["error"] >= 0


def test_second_run_reuses_everything_with_identical_verdicts(tmp_path):
    with ResultStore(tmp_path) as store:
        first = run_claims(CLAIMS, store=store)
        second = run_claims(CLAIMS, store=store)
    assert first.n_reused == 0 and first.n_computed == first.n_runs
    assert second.n_reused == second.n_runs and second.n_computed == 0
    assert [r.verdict for r in first.results] == [r.verdict for r in second.results]


def test_verdicts_pass_and_mutants_are_caught(tmp_path):
    with ResultStore(tmp_path) as store:
        report = run_claims(CLAIMS, store=store)
    assert report.ok
    rate = report.results[0].verdict
    assert rate.passed and rate.n_runs == 5 * 30 and rate.seeds == 30
    assert rate.mutants[0].name == "reused_sample" and rate.mutants[0].caught
    lo, hi = rate.numbers["groups"][0]["ci"]
    assert -0.65 <= lo <= -0.5 <= hi <= -0.35


def test_observe_that_raises_is_reported_as_failure(tmp_path):
    with ResultStore(tmp_path) as store:
        report = run_claims([BROKEN], store=store)
    v = report.results[0].verdict
    assert not v.passed and "RuntimeError" in v.summary and not report.ok
    assert v.mutants[0].caught   # the mutant itself ran and exceeds the bound


def test_interrupted_sweep_keeps_finished_runs(tmp_path):
    class Interrupting(cf.Executor):
        """Completes 5 runs; the 6th delivers a KeyboardInterrupt, as Ctrl-C would."""

        def __init__(self):
            self.n = 0

        def submit(self, fn, *args):
            self.n += 1
            if self.n <= 5:
                return InlineExecutor().submit(fn, *args)
            fut = cf.Future()
            fut.set_exception(KeyboardInterrupt())
            return fut

    with ResultStore(tmp_path) as store:
        with pytest.raises(KeyboardInterrupt):
            run_claims([SLOW_BOUND], store=store, executor=Interrupting())
        stored = store.count()
        again = run_claims([SLOW_BOUND], store=store)
    assert 1 <= stored <= 5
    assert again.n_reused == stored and again.n_computed == again.n_runs - stored
    assert again.ok


def test_code_version_is_stable_and_depends_on_observe_module():
    assert code_version(MEAN_RATE) == code_version(MEAN_RATE)
    assert len(code_version(MEAN_RATE)) == 16


def test_select_claims_by_id_and_family():
    claims = {c.id: c for c in CLAIMS}
    assert select_claims(claims, []) == CLAIMS
    assert select_claims(claims, ["synthetic"]) == CLAIMS
    assert select_claims(claims, ["synthetic.slow_bound"]) == [SLOW_BOUND]
    with pytest.raises(ValueError, match="no claim matches 'nope'"):
        select_claims(claims, ["nope"])


def test_select_claims_unknown_id_suggests_and_lists_families_in_order():
    claims = {c.id: c for c in CLAIMS}
    with pytest.raises(ValueError) as err:
        select_claims(claims, ["synthetic.mean_rat"])
    assert str(err.value) == ("no claim matches 'synthetic.mean_rat'; did you mean 'synthetic.mean_rate'? "
                              "families: synthetic (`proofs-check list` shows every claim id)")


def test_grid_axis_must_be_a_sequence():
    from proofs_check import Grid

    with pytest.raises(ValueError, match=r"Grid axis 'H' must be a sequence of values, got 3 \(write H=\[3\]"):
        Grid(S=[4], H=3)


def test_claim_rejects_rule_axes_missing_from_a_grid():
    """A rule naming an axis (BoundHolds.x, HighProbability.x, Rate.param) absent from the quick or
    full grid is rejected when the claim is built, not after the sweep."""
    import dataclasses

    from proofs_check import BoundHolds, Grid, HighProbability, Rate, Sweep

    sweep = Sweep(quick=Grid(S=[4], H=[1, 3]), full=Grid(S=[4], H=[1, 3], K=[10]), seeds_quick=1, seeds_full=1)
    rate = Rate("gap", param="K", exponent=-0.5, tolerance=0.1, justification="test")
    for rule, field, budget in [(BoundHolds("gap", x="K"), "BoundHolds.x", "quick"),
                                (HighProbability("gap", delta=0.1, x="A"), "HighProbability.x", "quick"),
                                (rate, "Rate.param", "quick")]:
        with pytest.raises(ValueError, match=rf"Claim synthetic.slow_bound: {field} names '\w', not an axis of "
                                             rf"the {budget} grid \(axes: \['H', 'S'\]\)"):
            dataclasses.replace(SLOW_BOUND, sweep=sweep, rule=rule)
    only_full = Sweep(quick=Grid(S=[4], K=[10]), full=Grid(S=[4]), seeds_quick=1, seeds_full=1)
    with pytest.raises(ValueError, match=r"BoundHolds.x names 'K', not an axis of the full grid \(axes: \['S'\]\)"):
        dataclasses.replace(SLOW_BOUND, sweep=only_full, rule=BoundHolds("gap", x="K"))
    dataclasses.replace(SLOW_BOUND, sweep=sweep, rule=BoundHolds("gap", x="H"))   # a shared axis is fine


def test_missing_observed_key_names_the_claim_and_variant(tmp_path):
    import dataclasses

    from proofs_check import BoundHolds

    misspelt = dataclasses.replace(SLOW_BOUND, id="synthetic.misspelt", rule=BoundHolds("uu", x="i"))
    with ResultStore(tmp_path) as store, pytest.raises(
            ValueError, match=r"^claim synthetic.misspelt \(the claim itself\): observed quantity 'uu' "
                              r"missing from run .* has \['u'\]$"):
        run_claims([misspelt], store=store, executor=InlineExecutor())


def test_make_executor_validates_workers():
    with pytest.raises(ValueError, match="workers"):
        with make_executor(workers=0):
            pass


def test_code_version_can_be_pinned(monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "ci-abc123")
    assert code_version(MEAN_RATE) == "ci-abc123"


def test_common_seeds_over_shares_the_seed_across_an_axis(tmp_path):
    """With common_seeds_over=("i",) every i of one seed index sees the same seed (common random
    numbers); without it the seeds differ. An axis the grids lack is a clear ValueError."""
    import dataclasses

    from proofs_check import Grid, Sweep

    shared = dataclasses.replace(SLOW_BOUND, id="synthetic.shared_seed",
                                 sweep=dataclasses.replace(SLOW_BOUND.sweep, common_seeds_over=("i",)))
    draws = {}
    for claim in (SLOW_BOUND, shared):
        with ResultStore(tmp_path / claim.id) as store:
            report = run_claims([claim], store=store, executor=InlineExecutor())
        runs = report.results[0].runs["claim"]
        draws[claim.id] = {(r.params["i"], r.seed_index): tuple(np.ravel(r.observed["u"])) for r in runs}
    own, common = draws[SLOW_BOUND.id], draws["synthetic.shared_seed"]
    n_seeds = SLOW_BOUND.sweep.seeds_quick
    assert all(common[(0, s)] == common[(1, s)] for s in range(n_seeds))
    assert len({common[(0, s)] for s in range(n_seeds)}) == n_seeds   # still distinct across seed indices
    assert not any(own[(0, s)] == own[(1, s)] for s in range(n_seeds))
    with pytest.raises(ValueError, match="common_seeds_over names 'K'"):
        Sweep(quick=Grid(i=[0]), full=Grid(i=[0]), seeds_quick=1, seeds_full=1, common_seeds_over=("K",))
    with pytest.raises(ValueError, match="tuple of axis names"):
        Sweep(quick=Grid(i=[0]), full=Grid(i=[0]), seeds_quick=1, seeds_full=1, common_seeds_over="i")


# ---------------------------------------------------------------------------- one BLAS thread everywhere
def observe_blas_threads(params, seed):
    """The BLAS thread counts seen inside an observation (and the OpenBLAS environment variable)."""
    import os

    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return {"max_threads": np.float64(max(counts)), "n_libraries": np.float64(len(counts)),
            "env_is_1": np.float64(os.environ.get("OPENBLAS_NUM_THREADS") == "1")}


def test_observations_run_with_one_blas_thread_on_every_executor(tmp_path):
    from threadpoolctl import threadpool_info, threadpool_limits

    from proofs_check.runner import execute_run

    seed = derive_seed("a.b", {}, 0)
    with threadpool_limits(limits=2):   # as on a 2-core machine, whatever this one has
        before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        inline, _ = InlineExecutor().submit(execute_run, observe_blas_threads, {}, seed).result()
        after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert inline["n_libraries"] >= 1 and inline["max_threads"] == 1 and inline["env_is_1"] == 1
    assert after == before   # restored once the observation is over
    with make_executor(workers=2) as pool:
        pooled, _ = pool.submit(execute_run, observe_blas_threads, {}, seed).result()
    assert pooled["max_threads"] == 1


def test_one_blas_thread_is_restored_only_when_the_last_concurrent_observation_ends():
    """Threads of one process (a threaded Dask worker) share the BLAS: the first observation to
    enter sets the limit, the last to leave restores it -- never under a running observation."""
    import os
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    from proofs_check.runner import one_blas_thread

    def blas_threads():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    with threadpool_limits(limits=2):
        env = os.environ.get("OPENBLAS_NUM_THREADS")
        a_in, b_in, a_out, b_out = (threading.Event() for _ in range(4))
        seen = {}

        def a():
            with one_blas_thread():
                a_in.set()
                b_in.wait(10)
            a_out.set()

        def b():
            a_in.wait(10)
            with one_blas_thread():
                b_in.set()
                a_out.wait(10)
                seen["after_a_left"] = blas_threads()
            b_out.set()

        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert seen["after_a_left"] == 1
        assert blas_threads() == 2 and os.environ.get("OPENBLAS_NUM_THREADS") == env


# ---------------------------------------------------------------------------- derived mutants
def observe_two_draws(params, seed):
    rng = np.random.default_rng(seed)
    return {"small": rng.random(3) * 0.5, "large": 1.0 + rng.random(3)}


def derive_swapped(observed):
    return {"small": observed["large"], "large": observed["small"]}


def derive_in_place(observed):
    observed["small"] += 10.0   # a careless derive writing into its input
    return observed


def derive_raises(observed):
    raise KeyError("no such output")


def _two_draws_claim(*mutants):
    from proofs_check import BoundHolds, Claim, Grid, Paper, Provenance, Sweep

    return Claim(id="synthetic.two_draws", paper=Paper("t"), statement="small < 1",
                 provenance=Provenance("reconstructed", "test"), observe=observe_two_draws,
                 sweep=Sweep(Grid(i=[0, 1]), Grid(i=[0, 1]), 4, 4), rule=BoundHolds("small", x="i"),
                 bound=lambda p: 1.0, mutants=list(mutants))


def test_derived_mutant_computes_nothing_and_is_judged_like_any_mutant(tmp_path):
    from proofs_check import Mutant

    claim = _two_draws_claim(Mutant("swapped", derive=derive_swapped, why="outputs swapped"),
                             Mutant("in_place", derive=derive_in_place, why="adds 10 in place"))
    assert [name for name, _ in claim.computed_variants()] == ["claim"]
    submitted = []

    class Counting(InlineExecutor):
        def submit(self, fn, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    with ResultStore(tmp_path) as store:
        report = run_claims([claim], store=store, executor=Counting())
        stored_variants = {k[1] for k in store.payloads()}
    assert submitted == [observe_two_draws] * 8 and stored_variants == {"claim"}
    assert report.n_runs == report.n_computed == 8 and report.n_derived == 16
    res = report.results[0]
    v = res.verdict
    assert v.passed and [(m.name, m.caught) for m in v.mutants] == [("swapped", True), ("in_place", True)]
    assert v.mutants[0].summary.startswith("8 of 8 runs exceed the bound")
    # The careless in-place derive got a copy: the claim's own observations are untouched.
    assert all(np.all(r.observed["small"] < 0.5) for r in res.runs["claim"])
    # Derived runs equal the mutant's observation computed from scratch through Claim.variants().
    from_scratch = dict(claim.variants())["swapped"]
    for run in res.runs["swapped"]:
        expected = from_scratch(run.params, derive_seed(claim.id, run.params, run.seed_index))
        assert all(np.array_equal(run.observed[k], expected[k]) for k in ("small", "large"))
    # Reused claim runs: the derived mutant is judged again from the store, identically.
    with ResultStore(tmp_path) as store:
        again = run_claims([claim], store=store, executor=Counting())
    assert again.n_computed == 0 and again.results[0].verdict == v and len(submitted) == 8


def test_derive_that_raises_is_reported_not_caught(tmp_path):
    from proofs_check import Mutant

    claim = _two_draws_claim(Mutant("broken", derive=derive_raises, why="raises"))
    with ResultStore(tmp_path) as store:
        v = run_claims([claim], store=store).results[0].verdict
    assert v.passed and not v.mutants[0].caught
    assert v.mutants[0].summary == "derive raised KeyError: 'no such output'"


def test_mutant_needs_exactly_one_of_observe_and_derive_and_not_the_claims_observe():
    from proofs_check import Mutant

    with pytest.raises(ValueError, match="exactly one of observe"):
        Mutant("m", why="x")
    with pytest.raises(ValueError, match="exactly one of observe"):
        Mutant("m", observe_two_draws, why="x", derive=derive_swapped)
    with pytest.raises(ValueError, match="derive must be callable"):
        Mutant("m", derive="not callable", why="x")
    with pytest.raises(ValueError, match=r"synthetic.two_draws: mutant 'same' has the claim's own observe"):
        _two_draws_claim(Mutant("same", observe_two_draws, why="x"))


def observe_two_draws_again(params, seed):
    return observe_two_draws(params, seed)


def test_a_mutant_recomputing_the_claims_runs_is_flagged_in_the_verdict(tmp_path):
    from proofs_check import Mutant

    claim = _two_draws_claim(Mutant("copy", observe_two_draws_again, why="the same experiment"),
                             Mutant("swapped", derive=derive_swapped, why="outputs swapped"))
    with ResultStore(tmp_path) as store:
        v = run_claims([claim], store=store).results[0].verdict
    assert not v.mutants[0].caught and v.mutants[1].caught
    assert v.notes == ("mutant copy: every run is identical to the claim's (it recomputes the claim's "
                       "experiment and cannot be caught)",)


def test_no_registered_mutant_recomputes_the_claims_own_runs():
    """Registered claims: no mutant has the claim's observe (or its code); the MWU swapped mutants,
    which only misreport the claim's Hedge run, are derived."""
    from proofs_check.claims import load_claims

    claims = load_claims()
    for claim in claims.values():
        for m in claim.mutants:
            if m.derive is None:
                assert m.observe is not claim.observe and m.observe.__code__ is not claim.observe.__code__, \
                    (claim.id, m.name)
    for cid in ("nash.mwu_average_rate", "nash.mwu_last_iterate"):
        assert [name for name, _ in claims[cid].computed_variants()] == ["claim"]
        assert claims[cid].mutants[0].derive is not None


# ---------------------------------------------------------------------------------------- pinned findings
from dataclasses import replace as _replace   # noqa: E402

from proofs_check.claim import Finding, Pin, Run, Verdict  # noqa: E402
from proofs_check.rules import BoundHolds, Rate  # noqa: E402
from proofs_check.runner import judge  # noqa: E402


def _bound_runs(values_by_variant):
    return {v: [Run(v, {"i": 0}, s, {"u": np.array(x)}) for s, x in enumerate(xs)]
            for v, xs in values_by_variant.items()}


def _finding(band, statistic="claim.max_excess", expect="FAIL", full=None):
    lo, hi = band
    pin = Pin((lo + hi) / 2, band, "test band")
    return Finding("documented on purpose", statistic=statistic, expect=expect, quick=pin, full=full or pin)


def test_pinned_finding_reproduces_inside_its_band_and_changes_outside():
    runs = _bound_runs({"claim": [1.5, 1.2, 0.4], "shifted": [2.0, 2.0, 2.0]})   # max excess 0.5
    for band, label, ok in [((0.3, 0.8), "FAIL (documented)", True), ((0.0, 0.2), "FINDING CHANGED", False),
                            ((0.6, 2.0), "FINDING CHANGED", False)]:
        claim = _replace(SLOW_BOUND, finding=_finding(band))
        v = judge(claim, runs, "quick")
        assert (v.label, v.ok) == (label, ok), v.finding_check
        assert v.finding_check["value"] == pytest.approx(0.5) and v.finding_check["kind"] == "FAIL"
        assert Verdict.from_json(v.to_json()) == v   # stored and read back with its check


def test_pinned_finding_of_the_wrong_kind_is_changed_and_a_clean_pass_is_flagged():
    claim = _replace(SLOW_BOUND, finding=_finding((-1.0, 0.0), expect="MUTANT NOT CAUGHT"))
    failing = _bound_runs({"claim": [1.5, 0.2, 0.2], "shifted": [2.0, 2.0, 2.0]})
    v = judge(_replace(claim, finding=_finding((0.0, 1.0), expect="MUTANT NOT CAUGHT")), failing, "quick")
    assert v.label == "FINDING CHANGED" and not v.ok and v.finding_check["inside"]
    passing = _bound_runs({"claim": [0.5, 0.2, 0.2], "shifted": [2.0, 2.0, 2.0]})
    v = judge(claim, passing, "quick")
    assert v.label == "PASS (finding gone?)" and not v.ok and not v.finding_changed


def test_pinned_statistic_paths_reach_mutants_groups_and_select_by_axis():
    runs = _bound_runs({"claim": [0.5, 0.2, 0.2], "shifted": [0.9, 0.3, 0.3]})   # mutant not caught
    claim = _replace(SLOW_BOUND, finding=_finding((0.85, 0.95), statistic="mutant.shifted.max_ratio",
                                                  expect="MUTANT NOT CAUGHT"))
    v = judge(claim, runs, "quick")
    assert v.label == "MUTANT NOT CAUGHT (documented)" and v.ok and v.finding_check["value"] == pytest.approx(0.9)
    numbers = {"claim": {"groups": [{"group": '{"instance":0}', "slope": -0.6},
                                    {"group": '{"instance":2}', "slope": -0.3}]}}
    assert _finding((0, 1), statistic="claim.groups.instance=2.slope").lookup(numbers) == -0.3
    assert _finding((0, 1), statistic="claim.groups.1.slope").lookup(numbers) == -0.3
    assert np.isnan(_finding((0, 1), statistic="claim.groups.instance=7.slope").lookup(numbers))
    # A statistic missing from the numbers is NaN: never inside a band, so FINDING CHANGED.
    v = judge(_replace(SLOW_BOUND, finding=_finding((0, 1), statistic="claim.no_such_key")),
              _bound_runs({"claim": [1.5, 0.2, 0.2], "shifted": [2.0] * 3}), "quick")
    assert v.label == "FINDING CHANGED"


def test_finding_and_pin_validation():
    with pytest.raises(ValueError, match="inside its band"):
        Pin(3.0, (0.0, 1.0), "x")
    with pytest.raises(ValueError, match="justify"):
        Pin(0.5, (0.0, 1.0), " ")
    with pytest.raises(ValueError, match="expect"):
        _finding((0, 1), expect="PASS")
    with pytest.raises(ValueError, match="dotted path"):
        _finding((0, 1), statistic="max_excess")
    with pytest.raises(ValueError, match="names mutant 'nope'"):
        _replace(SLOW_BOUND, finding=_finding((0, 1), statistic="mutant.nope.max_ratio"))
    pin = Pin.binomial(3, 12, "count")
    assert pin.band == (0.0, 8.0) and pin.recorded == 3.0 and "binomial" in pin.why
    import pickle
    f = _finding((0.0, 1.0))
    g = pickle.loads(pickle.dumps(f))
    assert g == f and g.statistic == f.statistic and g.pins == f.pins


def test_unpinned_string_finding_still_works_and_says_so():
    runs = _bound_runs({"claim": [1.5, 0.2, 0.2], "shifted": [2.0] * 3})
    v = judge(_replace(SLOW_BOUND, finding="a plain string"), runs, "quick")
    assert v.label == "FAIL (documented)" and v.ok and not v.finding_check
    assert any("unpinned finding" in n for n in v.notes)


def test_every_builtin_finding_is_pinned_for_both_budgets():
    from proofs_check.claims import load_claims
    documented = [c for c in load_claims([]).values() if c.finding]
    assert len(documented) >= 4
    for c in documented:
        assert isinstance(c.finding, Finding), c.id
        assert set(c.finding.pins) == {"quick", "full"}


def test_undecided_claim_or_mutant_gives_an_undecided_verdict():
    nan_runs = _bound_runs({"claim": [np.nan, 0.2, 0.2], "shifted": [2.0] * 3})
    v = judge(SLOW_BOUND, nan_runs, "quick")
    assert v.passed is None and v.label == "UNDECIDED" and not v.ok and v.summary.startswith("UNDECIDED: ")
    # A pinned finding cannot reproduce on undecided runs either.
    v = judge(_replace(SLOW_BOUND, finding=_finding((-1.0, 1.0))), nan_runs, "quick")
    assert v.label == "UNDECIDED" and not v.ok and not v.finding_changed
    # The claim passes but its mutant cannot be judged: not a catch, and not a PASS.
    v = judge(SLOW_BOUND, _bound_runs({"claim": [0.5, 0.2, 0.2], "shifted": [np.nan, 0.5, 0.5]}), "quick")
    assert v.label == "UNDECIDED" and not v.ok and not v.mutants[0].caught and v.mutants[0].undecided
    assert any("mutant shifted: UNDECIDED" in n for n in v.notes)
    assert Verdict.from_json(v.to_json()) == v


# ---------------------------------------------------------------------------------------- envelopes
def test_envelope_fitted_from_the_store_passes_the_claim_and_catches_constant_factor_bugs(tmp_path, capsys):
    """The whole workflow: full-budget runs stored, `proofs-check envelope` prints the table, the claim
    with that table passes at the quick budget and its x1.3 and /1.3 mutants fail."""
    import dataclasses

    from proofs_check.cli import main
    from proofs_check.rules import EnvelopeTable
    from test_pc_synthetic import ENVELOPE_UNFITTED, envelope_claim

    module = tmp_path / "env_claims.py"
    module.write_text("from test_pc_synthetic import ENVELOPE_UNFITTED\nCLAIMS = [ENVELOPE_UNFITTED]\n")
    store_dir = tmp_path / "full"
    with ResultStore(store_dir) as store:
        unfitted = run_claims([ENVELOPE_UNFITTED], store=store, budget="full").results[0].verdict
    assert unfitted.label == "UNDECIDED" and "proofs-check envelope" in unfitted.summary
    code = main(["envelope", "synthetic.regret_envelope", "--store", str(store_dir), "--claims-module", str(module)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    scope = {"EnvelopeTable": EnvelopeTable}
    exec(printed.out, scope)
    table = scope["REGRET_ENVELOPE"]
    assert "120 full-budget runs of synthetic.regret_envelope" in table.why and "widened by 25%" in table.why
    fitted = envelope_claim(table)
    with ResultStore(tmp_path / "quick") as store:
        verdict = run_claims([fitted], store=store, budget="quick").results[0].verdict
    assert verdict.label == "PASS", verdict.summary
    assert all(m.caught for m in verdict.mutants), [m.summary for m in verdict.mutants]
    # The API gives the same table.
    from proofs_check.envelope import fit_from_store
    with ResultStore(store_dir, readonly=True) as store:
        text, fits = fit_from_store(dataclasses.replace(ENVELOPE_UNFITTED), store)
    assert text == printed.out and len(fits) == 3


def test_envelope_command_errors_are_one_line(tmp_path, capsys):
    from proofs_check.cli import main
    from test_pc_synthetic import ENVELOPE_UNFITTED

    module = tmp_path / "env_claims_errors.py"
    module.write_text("from test_pc_synthetic import ENVELOPE_UNFITTED, MEAN_RATE\n"
                      "CLAIMS = [ENVELOPE_UNFITTED, MEAN_RATE]\n")
    assert main(["envelope", "synthetic.regret_envelope", "--store", str(tmp_path / "none"),
                 "--claims-module", str(module)]) == 2
    assert "no stored results" in capsys.readouterr().err
    with ResultStore(tmp_path / "q") as store:
        run_claims([ENVELOPE_UNFITTED], store=store, budget="quick")
    assert main(["envelope", "synthetic.regret_envelope", "--store", str(tmp_path / "q"),
                 "--claims-module", str(module)]) == 2
    assert "no complete full-budget runs" in capsys.readouterr().err
    assert main(["envelope", "synthetic.mean_rate", "--store", str(tmp_path / "q"), "--claims-module", str(module)]) == 2
    assert "not an Envelope" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- power
def _one_violation_claim(threshold):
    """A claim whose derived mutant violates the bound only on runs with u[0] > threshold."""
    from proofs_check import BoundHolds, Claim, Grid, Mutant, Sweep
    from test_pc_synthetic import PAPER, observe_slow_uniform

    from proofs_check import Provenance

    def rare_shift(observed):
        return {"u": observed["u"] + (1.0 if observed["u"][0] > threshold else 0.0)}

    return Claim(id="synthetic.rare_bug", paper=PAPER, statement="A uniform draw never exceeds 1.",
                 provenance=Provenance("reconstructed", "Synthetic."), observe=observe_slow_uniform,
                 sweep=Sweep(quick=Grid(i=[0], sleep=[0.0]), full=Grid(i=[0], sleep=[0.0]), seeds_quick=40,
                             seeds_full=40),
                 rule=BoundHolds("u"), bound=lambda p: 1.0,
                 mutants=[Mutant("rare_shift", derive=rare_shift, why="adds 1 on rare runs")])


def test_power_is_stored_with_the_verdict_flags_weak_mutants_and_changes_nothing(tmp_path, capsys):
    from dataclasses import replace

    from proofs_check.runner import judge

    probe = _one_violation_claim(2.0)
    with ResultStore(tmp_path) as store:
        runs = run_claims([probe], store=store).results[0].runs
    first = sorted(float(r.observed["u"][0]) for r in runs["claim"])
    claim = _one_violation_claim((first[-1] + first[-2]) / 2)    # exactly one of 40 runs violates
    with ResultStore(tmp_path) as store:
        result = run_claims([claim], store=store).results[0]
    v = result.verdict
    assert v.label == "PASS" and v.mutants[0].caught
    mutant = v.power["mutants"]["rare_shift"]
    # A resample of 40 seeds misses the one violating seed with probability (39/40)^40 = 0.36.
    assert mutant["p_caught"] == pytest.approx(1 - (39 / 40) ** 40, abs=0.1) and mutant["weak"]
    assert v.power["weak_mutants"] == ["rare_shift"] and v.power["claim"]["p_as_observed"] == 1.0
    assert any(n.startswith("weak mutant rare_shift: caught in") and "raise seeds or sharpen the rule" in n
               for n in v.notes)
    # The verdict without power is the same verdict.
    plain = judge(claim, result.runs, "quick", power=False)
    assert plain.power == {} and replace(v, power={}, notes=plain.notes) == plain
    # Stored, shown, reported.
    from proofs_check.cli import _show_one
    from proofs_check.claim import Verdict
    with ResultStore(tmp_path, readonly=True) as store:
        stored = store.last_verdict(claim.id)
    assert stored.power == Verdict.from_json(v.to_json()).power == v.power
    _show_one(claim, stored)
    shown = " ".join(capsys.readouterr().out.split())
    assert "power: the claim passes in 100% of 200 seed resamples" in shown
    assert "WEAK MUTANT: raise seeds or sharpen the rule" in shown
    from proofs_check.report import build_report
    with ResultStore(tmp_path, readonly=True) as store:
        md, html = build_report([claim], store, tmp_path, "quick", workers=1)
    text = md.read_text()
    assert "| power |" in text and "WEAK: rare_shift" in text and "<th>power</th>" in html.read_text()


def test_power_never_changes_the_verdicts_of_the_synthetic_claims(tmp_path):
    from dataclasses import replace

    from proofs_check.runner import judge

    with ResultStore(tmp_path) as store:
        results = run_claims(CLAIMS, store=store).results
    for res in results:
        plain = judge(res.claim, res.runs, "quick", power=False)
        assert replace(res.verdict, power={}, notes=plain.notes) == plain
        assert res.verdict.power["claim"]["outcome"] == "pass"
        assert set(res.verdict.power["mutants"]) == {m.name for m in res.claim.mutants}


# ------------------------------------------------------------------- UNDECIDED and FINDING CHANGED, every rule
def _matrix_rules():
    from proofs_check import BoundHolds, Contraction, HighProbability, Rate
    from proofs_check.rules import Envelope

    just = "synthetic"
    return {
        "bound": (BoundHolds("u"), lambda p: 1.0),
        "bound_quantile": (BoundHolds("u", quantile=0.9), lambda p: 1.0),
        "rate": (Rate("u", "i", exponent=-0.5, tolerance=0.1, sided="upper", justification=just), lambda p: 1.0),
        "contraction": (Contraction("u", 0.0, just), lambda p: 0.5),
        "high_probability": (HighProbability("u", delta=0.1), lambda p: 1.0),
        "envelope": (Envelope("u", just), lambda p: (0.0, 1.0)),
    }


def _matrix_runs(rule_name, kind, variant="claim"):
    """Runs of one variant on which ``rule_name`` holds except for ``kind`` of damage:
    "nan" / "censored" (entries that could lie on either side) or "flat" (every value 2.0, or a
    constant error 1.0 for the contraction: decided, and a FAIL)."""
    xs = [16, 64, 256, 1024] if rule_name == "rate" else [1]
    n_seeds = 60 if rule_name == "high_probability" else 10
    rng = np.random.default_rng(0)
    runs = []
    for x in xs:
        for s in range(n_seeds):
            if rule_name == "contraction":
                value = (0.45 * (1 + 0.01 * rng.random())) ** np.arange(12)
            elif rule_name == "rate":
                value = np.array(x ** -0.5 * np.exp(0.1 * rng.standard_normal()))
            else:
                value = np.array([0.5])
            if kind == "flat":
                value = np.ones_like(value) * (1.0 if rule_name == "contraction" else 2.0)
            observed = {"u": value}
            damaged = s < (6 if rule_name in ("high_probability", "envelope") else 1)
            if damaged and kind == "nan":
                observed["u"] = np.full_like(value, np.nan)
            if damaged and kind == "censored":
                observed["u:censored"] = np.ones_like(value)
            runs.append(Run(variant, {"i": x, "sleep": 0.0}, s, observed))
    return runs


@pytest.mark.parametrize("rule_name", ["bound", "bound_quantile", "rate", "contraction", "high_probability",
                                       "envelope"])
def test_every_rule_nan_and_censored_inputs_are_undecided_and_never_a_documented_finding(rule_name):
    rule, bound = _matrix_rules()[rule_name]
    for kind in ("nan", "censored"):
        runs = {"claim": _matrix_runs(rule_name, kind), "shifted": _matrix_runs(rule_name, "flat", "shifted")}
        out = rule.evaluate(runs["claim"], bound)
        assert out.passed is None and out.summary.startswith("UNDECIDED: "), (kind, out.summary)
        plain = _replace(SLOW_BOUND, rule=rule, bound=bound)
        v = judge(plain, runs, "quick")
        assert v.label == "UNDECIDED" and not v.ok, (kind, v.label)
        # A documented finding cannot reproduce, nor change, on runs that cannot decide.
        documented = _replace(plain, finding=_finding((-1e9, 1e9), statistic="claim.no_such_key"))
        v = judge(documented, runs, "quick")
        assert v.label == "UNDECIDED" and not v.ok and not v.finding_changed, (kind, v.label)
        # The same damage on a mutant: not a catch; a passing claim with it is UNDECIDED, not PASS.
        good = [r for r in _matrix_runs(rule_name, "none")]
        v = judge(plain, {"claim": good, "shifted": _matrix_runs(rule_name, kind, "shifted")}, "quick")
        assert v.passed is True and v.label == "UNDECIDED" and not v.mutants[0].caught, (kind, v.label)


#: (statistic pinned, its value on flat inputs) per rule: flat inputs decide (a FAIL here).
_FLAT_STATISTIC = {"bound": ("claim.max_excess", 1.0), "bound_quantile": ("claim.max_excess", 1.0),
                   "rate": ("claim.groups.0.slope", 0.0), "contraction": ("claim.max_factor_over_claimed", 2.0),
                   "high_probability": ("claim.failures", 60.0), "envelope": ("claim.outside", 1.0)}


@pytest.mark.parametrize("rule_name", sorted(_FLAT_STATISTIC))
def test_every_rule_flat_inputs_decide_and_a_pinned_finding_changes_outside_its_band(rule_name):
    rule, bound = _matrix_rules()[rule_name]
    runs = {"claim": _matrix_runs(rule_name, "flat"), "shifted": _matrix_runs(rule_name, "flat", "shifted")}
    out = rule.evaluate(runs["claim"], bound)
    assert out.passed is False, out.summary
    statistic, value = _FLAT_STATISTIC[rule_name]
    inside = _replace(SLOW_BOUND, rule=rule, bound=bound, finding=_finding((value - 0.5, value + 0.5), statistic))
    v = judge(inside, runs, "quick")
    assert v.label == "FAIL (documented)" and v.ok and v.finding_check["value"] == pytest.approx(value)
    outside = _replace(inside, finding=_finding((value + 1.0, value + 2.0), statistic))
    v = judge(outside, runs, "quick")
    assert v.label == "FINDING CHANGED" and not v.ok and v.finding_changed
    # A finding that expects the mutant to slip through changes when the claim fails instead.
    other_kind = _replace(inside, finding=_finding((value - 0.5, value + 0.5), statistic, expect="MUTANT NOT CAUGHT"))
    assert judge(other_kind, runs, "quick").label == "FINDING CHANGED"


def test_a_flat_rate_pass_is_undecided_but_a_flat_bound_pass_is_decided():
    from proofs_check import BoundHolds, Rate

    flat = [Run("claim", {"i": x, "sleep": 0.0}, s, {"u": np.array(0.5)}) for x in (16, 64, 256) for s in range(5)]
    rate = Rate("u", "i", exponent=0.0, tolerance=0.2, justification="synthetic")
    assert rate.evaluate(flat, None).passed is None           # zero-width CI: no evidence
    assert BoundHolds("u").evaluate(flat, lambda p: 1.0).passed is True


def test_run_prints_weak_mutants(tmp_path, capsys, monkeypatch):
    from proofs_check.cli import main

    probe = _one_violation_claim(2.0)
    with ResultStore(tmp_path / "probe") as store:
        runs = run_claims([probe], store=store).results[0].runs
    first = sorted(float(r.observed["u"][0]) for r in runs["claim"])
    module = tmp_path / "weak_claims.py"
    module.write_text("import test_runner\n"
                      f"CLAIMS = [test_runner._one_violation_claim({(first[-1] + first[-2]) / 2!r})]\n")
    code = main(["run", "synthetic.rare_bug", "--claims-module", str(module), "--out", str(tmp_path / "o"),
                 "--workers", "1", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0 and "1 weak mutant(s), caught in fewer than 95% of seed resamples" in text
    assert "synthetic.rare_bug:rare_shift" in text


class _RecordingPool(cf.ProcessPoolExecutor):
    """A local process pool that records what is submitted, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = []

    def submit(self, fn, *args, **kwargs):
        observe, params, seed = args
        self.order.append((observe.__name__, params["i"], seed.spawn_key))
        return super().submit(fn, *args, **kwargs)


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_lead_runs_go_first_one_per_family_and_change_no_result(tmp_path):
    """The first run of each claim and variant (where numba compiles) starts before the claim's other runs,
    never beside another lead of its family (which shares its kernels), and the runs equal an inline sweep's."""
    import dataclasses
    import multiprocessing

    from proofs_check import Mutant

    a = _two_draws_claim(Mutant("swapped", derive=derive_swapped, why="outputs swapped"))
    b = dataclasses.replace(a, id="synthetic.two_draws_b", observe=observe_two_draws_again)
    c = dataclasses.replace(a, id="other.two_draws_c")
    with _RecordingPool(2, mp_context=multiprocessing.get_context("fork")) as pool, \
            ResultStore(tmp_path / "pool") as store:
        run_claims([a, b, c], store=store, executor=pool)
        pooled = _strip(store.payloads())
    with ResultStore(tmp_path / "inline") as store:
        run_claims([a, b, c], store=store, executor=InlineExecutor())
        inline = _strip(store.payloads())
    assert pooled.keys() == inline.keys() and all(np.array_equal(pooled[k], inline[k]) for k in inline)
    order = pool.order
    assert len(order) == len(set(order)) == 3 * 8
    lead_a, lead_c = order[0], order[1]
    assert lead_a[0] == "observe_two_draws" and lead_c == (lead_a[0], lead_a[1], derive_seed(
        c.id, {"i": 0}, 0).spawn_key)          # another family's lead starts at once
    names = [name for name, _, _ in order]
    first_b = names.index("observe_two_draws_again")
    seeds_a = {derive_seed(a.id, {"i": i}, s).spawn_key for i in (0, 1) for s in range(4)}
    followers_a = [k for k, (_, _, key) in enumerate(order) if key in seeds_a][1:]
    assert first_b < min(followers_a)        # b's lead waited for a's lead only, then went first
