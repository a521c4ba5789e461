"""Contrastive UCB claims: observables are exact and reproducible; the quick budget gives the expected
verdicts (recovery claims PASS; the two policy-level rate claims are documented as inconclusive) and
catches every mutant."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from mdpkit.algorithms import contrastive_ucb
from mdpkit.algorithms.contrastive import ContrastiveLearner, feature_angle
from mdpkit.envs.lowrank import random_lowrank_mdp
from mdpkit.markov_game import coarse_correlated_equilibrium
from proofs_check import ResultStore, derive_seed, run_claims
from proofs_check.claims import contrastive_ucb as claims
from proofs_check.runner import make_executor

RECOVERY = {"S": 10, "A": 2, "d": 2, "n": 400}
MDP = {"instance": 0, "S": 5, "A": 2, "H": 2, "d": 2, "bonus_scale": 0.1, "K": 4}
GAME = {"instance": 0, "S": 3, "A": 2, "B": 2, "H": 2, "d": 2, "bonus_scale": 0.1, "K": 3}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # L-BFGS-B on these tiny problems is 15-70x slower with multi-threaded BLAS on a loaded
    # 2-core machine; the proofs-check workers set the same limit.
    with threadpool_limits(limits=1):
        yield


def test_claims_are_well_formed():
    ids = [c.id for c in claims.CLAIMS]
    assert len(set(ids)) == len(ids) == 4
    for c in claims.CLAIMS:
        assert c.family == "contrastive_ucb" and c.mutants and c.provenance.kind == "reconstructed"
        assert c.rule.justification.strip()


def test_observables_are_reproducible_from_the_seed():
    cases = [(claims.KERNEL_RECOVERY, RECOVERY), (claims.SPAN_RECOVERY, RECOVERY),
             (claims.SUBOPTIMALITY_RATE, MDP), (claims.NASH_GAP_RATE, GAME)]
    for claim, params in cases:
        for name, observe in claim.variants():
            a = observe(params, derive_seed(claim.id, params, 3))
            b = observe(params, derive_seed(claim.id, params, 3))
            assert a.keys() == b.keys(), name
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{claim.id} {name} {key}")
            c = observe(params, derive_seed(claim.id, params, 4))
            assert any(not np.array_equal(a[k], c[k]) for k in a), f"{claim.id} {name}: seed ignored"


def test_recovery_observable_matches_a_direct_fit():
    """tv_error and feature_angle are recomputed from the same draws outside the observe function."""
    seed = derive_seed(claims.KERNEL_RECOVERY.id, RECOVERY, 0)
    got = claims.observe_recovery(RECOVERY, seed)
    instance_seed, data_seed, init_seed = derive_seed(claims.KERNEL_RECOVERY.id, RECOVERY, 0).spawn(3)
    S, A, d, n = RECOVERY["S"], RECOVERY["A"], RECOVERY["d"], RECOVERY["n"]
    mdp = random_lowrank_mdp(S, A, 1, d, seed=instance_seed)
    P = mdp.P.reshape(S * A, S)
    rng = np.random.default_rng(data_seed)
    anchors = rng.integers(S * A, size=n)
    positives = claims._draw(rng, P[anchors])
    negatives = claims._draw(rng, np.full((n, S), 1.0 / S))
    learner = ContrastiveLearner(1, S * A, S, d, np.full(S, 1.0 / S), max_iter=500, seed=init_seed)
    learner.add(0, anchors, positives, 1)
    learner.add(0, anchors, negatives, 0)
    fit = learner.fit()
    tv = 0.5 * np.abs(fit.transition_estimate()[0] - P).sum(axis=1).mean()
    assert got["tv_error"] == pytest.approx(tv, rel=1e-12)
    assert got["feature_angle"] == pytest.approx(feature_angle(fit.phi, mdp.phi.reshape(1, S * A, d)), rel=1e-12)
    assert 0.0 <= got["feature_angle"] <= np.pi / 2 + 1e-12


@settings(max_examples=20, deadline=None)
@given(S=st.integers(1, 6), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
def test_draw_is_an_inverse_cdf_sampler(S, n, seed):
    rng = np.random.default_rng(seed)
    rows = rng.dirichlet(np.ones(S), size=n)
    draws = claims._draw(np.random.default_rng(seed + 1), rows)
    u = np.random.default_rng(seed + 1).random(n)
    expected = np.array([min(int(np.searchsorted(np.cumsum(r), x, side="right")), S - 1) for r, x in zip(rows, u)])
    np.testing.assert_array_equal(draws, expected)
    assert np.all(rows[np.arange(n), draws] > 0)  # never an impossible state


def test_wrong_negatives_mutant_learns_the_ratio_to_the_skewed_sampler():
    """The mutant's bias is the predicted one: with plenty of data P_hat -> P * uniform / Q, not P."""
    params = dict(RECOVERY, n=20000)
    seed = derive_seed("x.y", params, 0)
    honest = claims.observe_recovery(params, seed)
    wrong = claims.observe_recovery_wrong_negatives(params, derive_seed("x.y", params, 0))
    q = np.linspace(1.0, claims._SKEW, params["S"])
    q /= q.sum()
    mdp = random_lowrank_mdp(params["S"], params["A"], 1, params["d"], seed=derive_seed("x.y", params, 0).spawn(3)[0])
    P = mdp.P.reshape(-1, params["S"])
    predicted_bias = 0.5 * np.abs(P * (1.0 / params["S"]) / q - P).sum(axis=1).mean()
    assert honest["tv_error"] < 0.05
    assert wrong["tv_error"] == pytest.approx(predicted_bias, abs=0.03)


def test_cooperative_mutant_restores_the_cce_solver():
    claims.observe_nash_gap_cooperative(GAME, derive_seed(claims.NASH_GAP_RATE.id, GAME, 0))
    assert contrastive_ucb.coarse_correlated_equilibrium is coarse_correlated_equilibrium
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])  # matching pennies: the mutant's pure "equilibrium" is exploitable
    joint = claims._cooperative_joint(Q, Q)
    assert joint.sum() == 1.0 and joint[0, 0] == 1.0


def test_policy_observables_match_direct_runs():
    seed = derive_seed(claims.SUBOPTIMALITY_RATE.id, MDP, 1)
    got = claims.observe_suboptimality(MDP, seed)
    mdp = random_lowrank_mdp(MDP["S"], MDP["A"], MDP["H"], MDP["d"], seed=MDP["instance"])
    res = contrastive_ucb.run(mdp, K=MDP["K"], seed=derive_seed(claims.SUBOPTIMALITY_RATE.id, MDP, 1),
                              bonus_scale=MDP["bonus_scale"])
    assert got["avg_suboptimality"] == pytest.approx(res.optimal_value - res.values.mean(), abs=1e-12)
    assert got["avg_suboptimality"] >= -1e-12


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    with threadpool_limits(limits=1), ResultStore(tmp_path_factory.mktemp("contrastive_quick")) as store, \
            make_executor(2, None) as executor:
        return run_claims(claims.CLAIMS, store=store, budget="quick", executor=executor)


def test_quick_budget_gives_the_expected_verdicts_and_catches_every_mutant(quick_report):
    by_id = {r.claim.id: r.verdict for r in quick_report.results}
    for claim_id in ("contrastive_ucb.kernel_recovery", "contrastive_ucb.span_recovery"):
        assert by_id[claim_id].clean_pass, (claim_id, by_id[claim_id].summary)
    for claim_id in ("contrastive_ucb.suboptimality_rate", "contrastive_ucb.nash_gap_rate"):
        assert not by_id[claim_id].passed and by_id[claim_id].ok, (claim_id, by_id[claim_id].summary)
    for v in by_id.values():
        for m in v.mutants:
            assert m.caught, (v.claim_id, m.name, m.summary)
