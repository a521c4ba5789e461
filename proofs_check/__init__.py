"""proofs_check: paper claims as falsifiable, executable checks.

A :class:`Claim` declares a measured quantity, the bound, a statistical acceptance rule and
mutants (broken variants the rule must reject). :func:`run_claims` sweeps claims through any
``concurrent.futures.Executor``, persisting every run in a :class:`ResultStore`; the
``proofs-check`` command line wraps it. See ``docs/tutorials/07_verify_your_own_claim.md``.

The names below are imported on first access (PEP 562), so ``proofs-check --help`` does not load
scipy.stats, the runner or the claim modules.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name -> submodule that defines it.
_LAZY_ATTRIBUTES = {
    **dict.fromkeys(("Claim", "Finding", "Grid", "Mutant", "MutantVerdict", "Paper", "Pin", "Provenance", "Run",
                     "RuleOutcome", "Sweep", "Verdict"), "claim"),
    "load_claims": "claims",
    **dict.fromkeys(("BoundHolds", "Contraction", "Envelope", "EnvelopeTable", "HighProbability", "Rate", "Rule"),
                    "rules"),
    **dict.fromkeys(("InlineExecutor", "SweepReport", "derive_seed", "make_executor", "run_claims"), "runner"),
    "ResultStore": "store",
    **dict.fromkeys(("pac_claim", "regret_bound_claim", "regret_rate_claim"), "templates"),
}

__all__ = [
    "BoundHolds", "Claim", "Contraction", "Envelope", "EnvelopeTable", "Finding", "Grid", "HighProbability",
    "InlineExecutor", "Mutant", "MutantVerdict", "Paper", "Pin", "Provenance", "Rate", "ResultStore", "Rule",
    "RuleOutcome", "Run", "Sweep",
    "SweepReport", "Verdict", "derive_seed", "load_claims", "make_executor", "pac_claim", "regret_bound_claim",
    "regret_rate_claim", "run_claims",
]


def __getattr__(name: str):
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_ATTRIBUTES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .claim import (Claim, Finding, Grid, Mutant, MutantVerdict, Paper, Pin, Provenance, Run, RuleOutcome,
                        Sweep, Verdict)
    from .claims import load_claims
    from .rules import BoundHolds, Contraction, Envelope, EnvelopeTable, HighProbability, Rate, Rule
    from .runner import InlineExecutor, SweepReport, derive_seed, make_executor, run_claims
    from .store import ResultStore
    from .templates import pac_claim, regret_bound_claim, regret_rate_claim
