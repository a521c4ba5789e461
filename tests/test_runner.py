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
