"""Claim templates for a user's own learner (proofs_check.templates), and the tutorial notebook
docs/tutorials/08_check_your_own_algorithm.md, executed cell by cell."""
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from notebook_cells import code_cells, run_cell

import mdpkit
from mdpkit import learners
from proofs_check import ResultStore, Run, make_executor, run_claims
from proofs_check.claim import Grid
from proofs_check.cli import main
from proofs_check.rules import CENSORED
from proofs_check.runner import code_version
from proofs_check.templates import (CertaintyEquivalence, LearnerExperiment, NeverUpdates, SettlesWithin,
                                    pac_claim, regret_bound_claim, regret_rate_claim)

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorials" / "08_check_your_own_algorithm.md"
RIVER = mdpkit.envs.riverswim(S=4, H=10)
QUICK = {"K": [25, 50, 100, 200]}
FULL = {"K": [100, 200, 400, 800]}


class Forgetful(learners.PSRL):
    """A broken user learner: PSRL that forgets every episode (its counts are reset in observe)."""

    name = "forgetful psrl"

    def observe(self, states, actions, rewards):
        super().observe(states, actions, rewards)
        self.transition_counts[:] = 0.0       # the bug


def river_family(params, seed):
    """Instance family: RiverSwim with params["S"] states (the seed is unused: a fixed chain)."""
    return mdpkit.envs.riverswim(S=params["S"], H=10)


def _verdicts(claims, tmp_path, workers=1):
    with make_executor(workers) as executor:
        report = run_claims(claims, store=ResultStore(tmp_path / "store"), executor=executor)
    return {r.claim.id: r for r in report.results}


def _assert_clean_pass(result):
    v = result.verdict
    assert not result.errors, result.errors
    assert v.passed is True, v.summary
    caught = {m.name: m.caught for m in v.mutants}
    assert all(caught.values()), [(m.name, m.summary) for m in v.mutants]
    return caught


# ------------------------------------------------------------------------------------- templates
def test_rate_claim_passes_for_psrl_and_ucbvi_and_catches_every_generic_mutant(tmp_path):
    psrl = regret_rate_claim("ref.psrl_rate", learners.PSRL, RIVER, exponent=0.5, quick=QUICK, full=FULL,
                             seeds=(6, 16))
    # UCBVI at a practical bonus scale (theory constants keep it exploring far beyond K = 200).
    ucbvi = regret_rate_claim("ref.ucbvi_rate", learners.UCBVI, RIVER, exponent=0.5, hyper={"bonus_scale": 0.01},
                              quick=QUICK, full=FULL, seeds=(6, 16))
    results = _verdicts([psrl, ucbvi], tmp_path, workers=2)   # worker processes: everything pickles
    for claim_id in ("ref.psrl_rate", "ref.ucbvi_rate"):
        caught = _assert_clean_pass(results[claim_id])
        assert set(caught) == {"never_updates", "uniform", "no_exploration"}
        learning = results[claim_id].verdict.numbers["learning"][0]
        assert learning["upper"] <= 0.5 and learning["K"] == 200
        for m in results[claim_id].verdict.mutants:      # each fails because it does not learn
            assert m.numbers["learned"] is False and m.numbers["learning"][0]["ratio"] == pytest.approx(1.0, abs=0.2)


def test_scaled_down_mutant_and_a_broken_user_learner(tmp_path):
    # Optimism driven only by the bonus (the tutorial's learner, a smaller river): the bonus
    # switched off is caught, and a learner that forgets its counts fails its claim.
    sys.path.insert(0, str(tmp_path))
    cells = [c for c in code_cells(NOTEBOOK.read_text()) if c.startswith("%%writefile my_algorithm.py")]
    module = tmp_path / "tutorial_learner.py"
    module.write_text(cells[0].partition("\n")[2].split("river = ")[0])
    try:
        import tutorial_learner
        optimist = regret_rate_claim("ref.optimist_rate", tutorial_learner.Optimist, RIVER, exponent=0.5,
                                     hyper={"bonus": 0.1}, scale_param="bonus", quick=QUICK, full=FULL, seeds=(6, 16))
        broken = regret_rate_claim("ref.forgetful_rate", Forgetful, RIVER, exponent=0.5, quick=QUICK, full=FULL,
                                   seeds=(6, 16))
        results = _verdicts([optimist, broken], tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tutorial_learner", None)
    caught = _assert_clean_pass(results["ref.optimist_rate"])
    assert "exploration_scaled_down" in caught
    scaled = [m for m in optimist.mutants if m.name == "exploration_scaled_down"][0]
    assert scaled.observe.scale_value == 0.0
    v = results["ref.forgetful_rate"].verdict
    assert v.passed is False and "NOT <=" in v.summary


def test_regret_bound_claim_passes_for_psrl_and_catches_every_generic_mutant(tmp_path):
    claim = regret_bound_claim("ref.psrl_bound", learners.PSRL, river_family, bound=lambda p: 60.0,
                               quick={"K": [200], "S": [4]}, full={"K": [400], "S": [4, 5]}, seeds=(6, 16))
    hp = regret_bound_claim("ref.psrl_bound_hp", learners.PSRL, river_family, bound=lambda p: 60.0, delta=0.5,
                            quick={"K": [200], "S": [4]}, full={"K": [400], "S": [4, 5]}, seeds=(6, 16))
    results = _verdicts([claim, hp], tmp_path)
    _assert_clean_pass(results["ref.psrl_bound"])
    _assert_clean_pass(results["ref.psrl_bound_hp"])
    uniform = [m for m in results["ref.psrl_bound"].verdict.mutants if m.name == "uniform"][0]
    assert uniform.numbers["violations"] == 6        # it loses about 1.5 per episode: 300 > 60 at K = 200


def test_pac_claim_passes_for_psrl_and_censored_mutants_fail(tmp_path):
    claim = pac_claim("ref.psrl_pac", learners.PSRL, RIVER, epsilon=0.1, bound=lambda p: 300.0,
                      quick={"K": [600]}, full={"K": [1200]}, seeds=(6, 16))
    result = _verdicts([claim], tmp_path)["ref.psrl_pac"]
    _assert_clean_pass(result)
    episodes = [float(r.observed["episodes"]) for r in result.runs["claim"]]
    assert max(episodes) <= 300 and all(float(r.observed["episodes" + CENSORED]) == 0 for r in result.runs["claim"])
    uniform = [m for m in result.verdict.mutants if m.name == "uniform"][0]
    assert "6 of 6 runs never settled" in uniform.summary and uniform.numbers["unsettled"] == 6


def test_settles_within_censoring_never_passes():
    rule = SettlesWithin("episodes")

    def run(episodes, censored, seed):
        return Run("claim", {"K": 100}, seed, {"episodes": np.float64(episodes), "episodes" + CENSORED:
                                               np.float64(censored), "decidable": np.float64(75)})

    settled = [run(10, 0, 0), run(20, 0, 1)]
    assert rule.evaluate(settled, lambda p: 50.0).passed is True
    unsettled = settled + [run(76, 1, 2)]                  # true count >= 76
    below = rule.evaluate(unsettled, lambda p: 50.0)       # bound 50 < 76: a violation
    assert below.passed is False and "1 of 3 runs never settled" in below.summary
    above = rule.evaluate(unsettled, lambda p: 90.0)       # bound 90 >= 76: the budget cannot tell
    assert above.passed is None and above.summary.startswith("UNDECIDED: 1 of 3 runs never settled")


def test_pac_observation_counts_episodes_until_epsilon_optimal_for_good():
    exp = LearnerExperiment("pac", learners.PSRL, RIVER, {}, "uniform", epsilon=0.1, settle=0.25)
    out = exp({"K": 40}, np.random.SeedSequence(1))
    assert out["episodes" + CENSORED] == 1.0 and out["episodes"] == 31.0 and out["decidable"] == 30.0
    assert out["mistakes"] == 40.0       # the uniform policy is never 0.1-optimal on this river


# ------------------------------------------------------------------------------------- mutant learners
def test_never_updates_deploys_its_first_policy_forever():
    result = learners.run(NeverUpdates(learners.PSRL()), RIVER, K=50, seed=3)
    assert result.extras["policy_changed"].sum() == 1
    assert np.all(result.values == result.values[0])


def test_certainty_equivalence_plans_on_counts_without_optimism():
    ce = CertaintyEquivalence()
    setting = learners.make_setting(RIVER, 10, "known")
    ce.start(setting, 0)
    first = ce.policy()
    assert np.all(first[:, 0] == 0)          # only swimming left is rewarded at first: no exploration
    result = learners.run(CertaintyEquivalence(), RIVER, K=100, seed=0)
    assert np.all(result.values == result.values[0]) and result.values[0] < result.optimal_value - 1


# ------------------------------------------------------------------------------------- validation
def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="pickle"):
        regret_rate_claim("a.b", lambda hyper: learners.PSRL(), RIVER, exponent=0.5, quick=QUICK, full=FULL)
    with pytest.raises(ValueError, match="'K' axis"):
        regret_rate_claim("a.b", learners.PSRL, RIVER, exponent=0.5, quick={"n": [1, 2]}, full=FULL)
    with pytest.raises(ValueError, match="at least 2 distinct values of K"):
        regret_rate_claim("a.b", learners.PSRL, RIVER, exponent=0.5, quick={"K": [10]}, full=FULL)
    with pytest.raises(ValueError, match="seeds\\[0\\]"):
        regret_rate_claim("a.b", learners.PSRL, RIVER, exponent=0.5, quick=QUICK, full=FULL, seeds=(1, 8))
    with pytest.raises(ValueError, match="justification"):
        regret_rate_claim("a.b", learners.PSRL, RIVER, exponent=0.5, quick=QUICK, full=FULL, tolerance=0.3)
    with pytest.raises(ValueError, match="scale_param 'bonus'"):
        regret_rate_claim("a.b", learners.PSRL, RIVER, exponent=0.5, quick=QUICK, full=FULL, scale_param="bonus")
    with pytest.raises(TypeError, match="instances"):
        regret_rate_claim("a.b", learners.PSRL, "river", exponent=0.5, quick=QUICK, full=FULL)
    with pytest.raises(TypeError, match="lacking start"):
        regret_rate_claim("a.b", dict, RIVER, exponent=0.5, quick=QUICK, full=FULL)
    with pytest.raises(ValueError, match="epsilon"):
        pac_claim("a.b", learners.PSRL, RIVER, epsilon=0.0, bound=lambda p: 1.0, quick={"K": [10]}, full={"K": [10]})
    with pytest.raises(ValueError, match="settle"):
        pac_claim("a.b", learners.PSRL, RIVER, epsilon=0.1, settle=1.0, bound=lambda p: 1.0, quick={"K": [10]},
                  full={"K": [10]})


def test_experiments_pickle_and_the_code_version_follows_the_learner_source(tmp_path, monkeypatch):
    source = "from mdpkit.learners import PSRL\n\nclass Mine(PSRL):\n    name = 'mine'\n"
    module = tmp_path / "user_learner_mod.py"
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_learner_mod

    def claim(learner, hyper=None, river=RIVER):
        return regret_rate_claim("a.b", learner, river, exponent=0.5, quick=QUICK, full=FULL, hyper=hyper)

    try:
        first = claim(user_learner_mod.Mine)
        assert pickle.loads(pickle.dumps(first.observe)).learner is user_learner_mod.Mine
        v1 = code_version(first)
        assert code_version(claim(user_learner_mod.Mine)) == v1            # deterministic
        assert code_version(claim(user_learner_mod.Mine, {"prior": 0.5})) != v1          # hyper-parameters
        assert code_version(claim(user_learner_mod.Mine, river=mdpkit.envs.riverswim(S=5, H=10))) != v1
        module.write_text(source + "    # edited\n")
        import importlib
        edited = importlib.reload(user_learner_mod)
        assert code_version(claim(edited.Mine)) != v1                       # the learner's module
    finally:
        sys.modules.pop("user_learner_mod", None)


def test_cli_runs_a_template_claim_module_with_two_workers(tmp_path, monkeypatch):
    module = tmp_path / "my_template_claims.py"
    module.write_text(
        "import mdpkit\nfrom mdpkit import learners\nfrom proofs_check.templates import regret_bound_claim\n\n"
        "CLAIMS = [regret_bound_claim('mine.psrl_bound', learners.PSRL, mdpkit.envs.riverswim(S=4, H=10),\n"
        "    bound=lambda p: 60.0, quick={'K': [100]}, full={'K': [400]}, seeds=(3, 8))]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROOFS_CHECK_OUT", raising=False)
    try:
        status = main(["run", "mine", "--claims-module", str(module), "--workers", "2", "--no-progress"])
    finally:
        sys.modules.pop("my_template_claims", None)
    assert status == 0
    assert "| mine.psrl_bound | PASS |" in (tmp_path / "proofs_check_results" / "report.md").read_text()


# ------------------------------------------------------------------------------------- the tutorial
def test_tutorial_notebook_runs_as_documented(tmp_path, monkeypatch):
    cells = code_cells(NOTEBOOK.read_text())
    learner_and_claim = cells[0].partition("\n")[2]
    assert len(learner_and_claim.strip().splitlines()) <= 40          # the user's code stays short
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("PROOFS_CHECK_OUT", raising=False)
    namespace = {"__name__": "__tutorial__"}
    try:
        for cell in cells:
            run_cell(cell, namespace, NOTEBOOK)
    finally:
        sys.modules.pop("my_algorithm", None)
    passing, failing, shown = namespace["passing"], namespace["failing"], namespace["shown"]
    assert passing.returncode == 0
    assert re.search(r"^PASS +mine.optimist_rate +4/4 caught", passing.stdout, re.M)
    assert failing.returncode == 1
    assert re.search(r"^FAIL +mine.optimist_small_bonus +4/4 caught", failing.stdout, re.M)
    assert "every run is identical to the claim's" in shown.stdout
    small = namespace["small"]                          # the small-bonus learner swims left forever
    assert small.extras["policy_changed"].sum() == 1 and np.allclose(small.values, 0.1)


def test_learning_rate_is_undecided_when_there_is_nothing_to_learn():
    from proofs_check.templates import LearningRate

    rule = LearningRate("regret", "K", exponent=0.5, tolerance=0.2, justification="test", sided="upper")

    noise = np.random.default_rng(0).uniform(0.9, 1.1, size=(3, 4))     # per (K, seed): a CI of some width

    def runs(early, late, growth):
        return [Run("claim", {"K": K}, s, {"regret": np.float64(growth(K) * noise[i, s]),
                                           "early_gap": np.float64(early), "late_gap": np.float64(late)})
                for i, K in enumerate((25, 50, 100)) for s in range(4)]

    assert rule.evaluate(runs(1.0, 0.01, lambda K: K ** 0.3), None).passed is True
    stuck = rule.evaluate(runs(1.0, 1.0, lambda K: K ** 0.3), None)        # good slope, but no learning
    assert stuck.passed is False and "NOT <= 0.5" in stuck.summary
    optimal_from_the_start = rule.evaluate(runs(0.0, 0.0, lambda K: K ** 0.3), None)
    assert optimal_from_the_start.passed is None and optimal_from_the_start.summary.startswith("UNDECIDED")
