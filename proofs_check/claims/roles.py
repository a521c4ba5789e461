"""Which built-in claims carry each kind of evidence, per algorithm family (issue 12).

A theorem-level rate with a large constant fails only on bugs that make learning fail. What makes a
family's verdict strong is the other kinds of claim, listed here and checked by
``tests/test_claim_roles.py`` (every family has each role; every id exists and has mutants):

``lemma``
    An intermediate fact the analysis rests on (optimism, coverage, a one-step identity, a
    per-episode constraint), checked exactly at every episode of every run.
``information_flow``
    The learner sees only what its setting gives it: runs on models that differ only in what it
    must not read are bit-identical, and a peeking mutant is caught.
``independent_oracle``
    Audited by code that shares nothing with the code under test (a plain-numpy replay or
    reference solver, an independent equilibrium solver, Monte Carlo against exact values).
``defaults``
    Calls the public entry point with default hyper-parameters, as a user would.
``regression``
    A regression envelope fitted from the correct implementation's full-budget runs (not a
    paper claim).

The page ``docs/verdict_strength.md`` shows the same table with the mutation scores.
"""

from __future__ import annotations

#: ``{family: {role: (claim ids...)}}``.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "stepmix": {
        "lemma": ("stepmix.optimism", "stepmix.pessimism_valid", "stepmix.reference_replay",
                  "stepmix.offline_replay", "stepmix.no_violation"),
        "information_flow": ("stepmix.information_flow",),
        "independent_oracle": ("stepmix.reference_replay", "stepmix.offline_replay"),
        "defaults": ("stepmix.no_violation", "stepmix.optimism", "stepmix.pessimism_valid",
                     "stepmix.information_flow"),
        "regression": ("stepmix.regret_envelope",),
    },
    "nash": {
        "lemma": ("nash.one_step_identity", "nash.one_step_lyapunov", "nash.oracle_use", "nash.approx_inner_unbiased"),
        "information_flow": ("nash.information_flow", "nash.oracle_use"),
        "independent_oracle": ("nash.defaults_independent_audit", "nash.approx_inner_unbiased",
                               "nash.one_step_identity"),
        "defaults": ("nash.oracle_use", "nash.defaults_independent_audit", "nash.approx_floor_envelope"),
        "regression": ("nash.approx_floor_envelope",),
    },
    "hf_rfe": {
        "lemma": ("hf_rfe.one_step_identities", "hf_rfe.coverage", "hf_rfe.certificate"),
        "information_flow": ("hf_rfe.information_flow",),
        "independent_oracle": ("hf_rfe.defaults", "hf_rfe.one_step_identities"),
        "defaults": ("hf_rfe.defaults", "hf_rfe.one_step_identities"),
        "regression": (),
    },
    "contrastive_ucb": {
        "lemma": ("contrastive_ucb.planning_identity", "contrastive_ucb.fit_certificate", "contrastive_ucb.optimism",
                  "contrastive_ucb.game_stage_equilibrium", "contrastive_ucb.data_distribution"),
        "information_flow": ("contrastive_ucb.information_flow",),
        "independent_oracle": ("contrastive_ucb.data_distribution", "contrastive_ucb.planning_identity",
                               "contrastive_ucb.fit_certificate"),
        "defaults": ("contrastive_ucb.optimism", "contrastive_ucb.fit_certificate", "contrastive_ucb.information_flow",
                     "contrastive_ucb.generic_span_vs_random"),
        "regression": (),
    },
}

#: Roles every algorithm family must fill (issue 12's acceptance); ``regression`` is added where a
#: statistic is precise enough for a band that catches a x1.3 bug at an affordable seed count.
REQUIRED = {"lemma": 2, "information_flow": 1, "independent_oracle": 1, "defaults": 1}
