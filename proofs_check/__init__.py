"""proofs_check: paper claims as falsifiable, executable checks.

A :class:`Claim` declares a measured quantity, the bound, a statistical acceptance rule and
mutants (broken variants the rule must reject). :func:`run_claims` sweeps claims through any
``concurrent.futures.Executor``, persisting every run in a :class:`ResultStore`; the
``proofs-check`` command line wraps it. See ``docs/verify_your_own_claim.md``.
"""
from .claim import Claim, Grid, Mutant, MutantVerdict, Paper, Provenance, Run, RuleOutcome, Sweep, Verdict
from .claims import load_claims
from .rules import BoundHolds, Contraction, HighProbability, Rate, Rule
from .runner import InlineExecutor, SweepReport, derive_seed, make_executor, run_claims
from .store import ResultStore

__all__ = [
    "BoundHolds", "Claim", "Contraction", "Grid", "HighProbability", "InlineExecutor", "Mutant",
    "MutantVerdict", "Paper", "Provenance", "Rate", "ResultStore", "Rule", "RuleOutcome", "Run", "Sweep",
    "SweepReport", "Verdict", "derive_seed", "load_claims", "make_executor", "run_claims",
]
