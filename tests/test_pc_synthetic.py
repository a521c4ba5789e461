"""Synthetic claims with known answers, used by the runner, store and CLI tests.

This file is also a claims module (it defines ``CLAIMS``), loaded by the CLI tests with
``--claims-module tests/test_pc_synthetic.py``. Its observe functions are top-level so they
pickle to worker processes and Dask workers.
"""
import time

import numpy as np

from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Rate, Sweep
from proofs_check.rules import Envelope, EnvelopeTable

PAPER = Paper("Synthetic test claims (not from a paper)", arxiv=None, where="tests")


def observe_mean_error(params, seed):
    """|sample mean of n standard normals|: decays exactly like n^(-1/2) in expectation."""
    x = np.random.default_rng(seed).standard_normal(params["n"])
    return {"error": np.float64(abs(x.mean())), "first": np.float64(x[0])}


def observe_mean_error_reused(params, seed):
    """Mutant: the first draw reused n times, so the error does not decay with n."""
    x = np.random.default_rng(seed).standard_normal(params["n"])
    return {"error": np.float64(abs(np.full(params["n"], x[0]).mean())), "first": np.float64(x[0])}


def observe_slow_uniform(params, seed):
    """A uniform draw in [0, 1) after a short sleep (to interrupt sweeps mid-way)."""
    time.sleep(params["sleep"])
    return {"u": np.random.default_rng(seed).random(3)}


def observe_slow_uniform_shifted(params, seed):
    """Mutant: off-by-one shift pushes every draw above the bound."""
    out = observe_slow_uniform(params, seed)
    return {"u": out["u"] + 1.0}


def observe_raises(params, seed):
    raise RuntimeError("deliberate failure in observe")


MEAN_RATE = Claim(
    id="synthetic.mean_rate",
    paper=PAPER,
    statement="The error of the sample mean of n i.i.d. N(0, 1) draws decays like n^(-1/2).",
    provenance=Provenance("paper", "Central limit theorem: E|mean| = sqrt(2 / (pi n))."),
    observe=observe_mean_error,
    sweep=Sweep(quick=Grid(n=[16, 64, 256, 1024, 4096]), full=Grid(n=[16, 64, 256, 1024, 4096, 16384]),
                seeds_quick=30, seeds_full=60),
    rule=Rate("error", param="n", exponent=-0.5, tolerance=0.15,
              justification="E|mean| is exactly proportional to n^(-1/2); 0.15 covers bootstrap noise "
                            "at 30 seeds"),
    bound=lambda p: p["n"] ** -0.5,
    mutants=[Mutant("reused_sample", observe_mean_error_reused, why="one draw reused: error stays O(1)")],
)

SLOW_BOUND = Claim(
    id="synthetic.slow_bound",
    paper=PAPER,
    statement="A uniform draw never exceeds 1.",
    provenance=Provenance("reconstructed", "Trivial synthetic claim used to test interrupted sweeps."),
    observe=observe_slow_uniform,
    sweep=Sweep(quick=Grid(i=[0, 1], sleep=[0.0]), full=Grid(i=list(range(10)), sleep=[0.04]),
                seeds_quick=3, seeds_full=6),
    rule=BoundHolds("u", x="i"),
    bound=lambda p: 1.0,
    mutants=[Mutant("shifted", observe_slow_uniform_shifted, why="adds 1 to every draw")],
)

CLAIMS = [MEAN_RATE, SLOW_BOUND]

# Not registered: an observe that raises (the runner must report FAIL, not crash).
BROKEN = Claim(
    id="synthetic.broken",
    paper=PAPER,
    statement="An observe function that raises.",
    provenance=Provenance("reconstructed", "Synthetic."),
    observe=observe_raises,
    sweep=Sweep(quick=Grid(i=[0], sleep=[0.0]), full=Grid(i=[0], sleep=[0.0]), seeds_quick=2, seeds_full=2),
    rule=BoundHolds("u"),
    bound=lambda p: 1.0,
    mutants=[Mutant("shifted", observe_slow_uniform_shifted, why="adds 1")],
)


def observe_regret_like(params, seed):
    """A regret-like quantity: sqrt(K) times a log-normal factor (10% spread across seeds), as a curve
    over episodes whose last entry is the final cumulative regret."""
    factor = np.exp(0.1 * np.random.default_rng(seed).standard_normal())
    return {"regret": factor * np.sqrt(np.arange(1, params["K"] + 1, dtype=np.float64))}


def regret_times(factor):
    """A derived mutant: the regret curve scaled by ``factor`` (a constant-factor bug)."""
    def derive(observed):
        return {"regret": observed["regret"] * factor}
    derive.__qualname__ = f"regret_times_{factor:g}"
    return derive


def envelope_claim(table):
    """A regression-envelope claim on ``observe_regret_like`` with the given bands (EnvelopeTable)."""
    return Claim(
        id="synthetic.regret_envelope",
        paper=PAPER,
        statement="Regression check: the median final regret over 8 seeds stays in its fitted envelope.",
        provenance=Provenance("reconstructed", "Synthetic regression envelope used by the tests."),
        observe=observe_regret_like,
        sweep=Sweep(quick=Grid(K=[16, 64, 256]), full=Grid(K=[16, 64, 256]), seeds_quick=8, seeds_full=120),
        rule=Envelope("regret", justification="constant-factor bugs in regret must leave the band"),
        bound=table,
        mutants=[Mutant("regret_x1_3", derive=regret_times(1.3), why="regret over-reported by 30%"),
                 Mutant("regret_div1_3", derive=regret_times(1 / 1.3), why="regret under-reported by 1/1.3")],
    )


#: Not registered in CLAIMS (the CLI tests count those): the envelope claim before fitting.
ENVELOPE_UNFITTED = envelope_claim(EnvelopeTable([], why="not fitted yet"))


def test_synthetic_claims_are_valid():
    assert [c.id for c in CLAIMS] == ["synthetic.mean_rate", "synthetic.slow_bound"]
    assert len(MEAN_RATE.sweep.quick) == 5 and MEAN_RATE.sweep.quick.points()[0] == {"n": 16}
