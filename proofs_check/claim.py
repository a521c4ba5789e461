"""The claim model: a theorem turned into a falsifiable, executable object.

A :class:`Claim` bundles what a paper says (statement, provenance), what we measure (an
``observe`` function run over a sweep of parameters and seeds), the bound, the statistical
acceptance rule, and one or more :class:`Mutant` s -- deliberately broken variants on which the
same rule must return FAIL. A verdict is only worth something if it could have gone the other way.

Adding a claim is adding one declaration to a file under ``proofs_check/claims/``::

    Claim(
        id="textbook.mc_rate",
        paper=Paper("Reinforcement Learning: An Introduction", arxiv=None, where="Sec. 5.1"),
        statement="The Monte Carlo estimate of V^pi has error of order n^(-1/2).",
        provenance=Provenance("paper", "Central limit theorem applied to i.i.d. episode returns."),
        observe=observe_mc_error,          # top-level: (params, seed) -> {"error": array}
        sweep=Sweep(quick=Grid(n=[16, 64, 256]), full=Grid(n=[16, 64, 256, 1024, 4096]),
                    seeds_quick=20, seeds_full=100),
        rule=Rate("error", param="n", exponent=-0.5, tolerance=0.1, justification="..."),
        bound=lambda p: p["n"] ** -0.5,
        mutants=[Mutant("reused_trajectory", observe=observe_mc_reused, why="...")],
    )
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mdpkit._validation import check_positive_int

#: Claim ids are ``family.short_name``: lower-case letters, digits and underscores.
CLAIM_ID_PATTERN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
PROVENANCE_KINDS = ("paper", "reconstructed")
BUDGETS = ("quick", "full")
#: Rule attributes that name a grid axis (``BoundHolds.x``, ``HighProbability.x``, ``Rate.param``);
#: a :class:`Claim` checks each against both grids.
_RULE_AXIS_FIELDS = ("x", "param")

#: Signature of an observe function: ``(params, seed) -> {name: float array}``.
ObserveFn = Callable[[dict, np.random.SeedSequence], Mapping[str, Any]]


@dataclass(frozen=True)
class Paper:
    """Where a claim comes from.

    Attributes
    ----------
    title : str
        Title of the paper or book.
    arxiv : str or None
        arXiv identifier (e.g. ``"2002.04017"``); ``None`` for books and non-arXiv sources.
    where : str
        Theorem, lemma or section (e.g. ``"Theorem 1"``).
    """

    title: str
    arxiv: str | None = None
    where: str = ""

    def __post_init__(self):
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError(f"Paper.title must be a non-empty string, got {self.title!r}")

    def cite(self) -> str:
        """One-line citation: ``title (arXiv:id), where``."""
        out = self.title
        if self.arxiv:
            out += f" (arXiv:{self.arxiv})"
        if self.where:
            out += f", {self.where}"
        return out


@dataclass(frozen=True)
class Provenance:
    """Whether the checked statement is the paper's, or reconstructed, and what was reconstructed.

    Attributes
    ----------
    kind : {"paper", "reconstructed"}
    note : str
        One sentence: the source of the statement, or what was reconstructed and why.
    """

    kind: str
    note: str

    def __post_init__(self):
        if self.kind not in PROVENANCE_KINDS:
            raise ValueError(f"Provenance.kind must be one of {PROVENANCE_KINDS}, got {self.kind!r}")
        if not isinstance(self.note, str) or not self.note.strip():
            raise ValueError("Provenance.note must be a non-empty sentence saying what the source or "
                             "the reconstruction is")


class Grid:
    """Cartesian grid of sweep parameters, iterated in declaration order.

    Parameters
    ----------
    **axes : sequence
        Parameter name -> values (ints, floats or strings). ``Grid(n=[16, 64], S=[5])`` has two
        points: ``{"n": 16, "S": 5}`` and ``{"n": 64, "S": 5}``.
    """

    def __init__(self, **axes: Sequence):
        if not axes:
            raise ValueError("Grid needs at least one parameter axis")
        clean = {}
        for name, values in axes.items():
            if isinstance(values, (str, bytes)):
                values = (values,)
            else:
                try:
                    values = tuple(values)
                except TypeError:
                    raise ValueError(f"Grid axis {name!r} must be a sequence of values, got {values!r} "
                                     f"(write {name}=[{values!r}] for a single value)") from None
            if len(values) == 0:
                raise ValueError(f"Grid axis {name!r} has no values")
            for i, v in enumerate(values):
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, str, np.integer,
                                                                        np.floating)):
                    raise ValueError(f"Grid axis {name!r}[{i}] = {v!r} is not an int, float or str")
                if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                    raise ValueError(f"Grid axis {name!r}[{i}] = {v!r} is not finite")
            # Plain Python scalars so parameters serialise to the same JSON everywhere.
            clean[name] = tuple(v.item() if isinstance(v, np.generic) else v for v in values)
        self.axes: dict[str, tuple] = clean

    def points(self) -> list[dict]:
        """All parameter points, as dicts, in declaration order."""
        names = list(self.axes)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.axes.values())]

    def __len__(self) -> int:
        return int(np.prod([len(v) for v in self.axes.values()]))

    def __repr__(self) -> str:
        return "Grid(" + ", ".join(f"{k}={list(v)}" for k, v in self.axes.items()) + ")"

    def __eq__(self, other) -> bool:
        return isinstance(other, Grid) and self.axes == other.axes

    def __hash__(self) -> int:
        return hash(tuple(self.axes.items()))


@dataclass(frozen=True)
class Sweep:
    """The quick and full budgets of a claim: a parameter grid times a number of seeds.

    Attributes
    ----------
    quick, full : Grid
    seeds_quick, seeds_full : int
    common_seeds_over : tuple of str
        Grid axes the run's seed does NOT depend on (common random numbers). With
        ``common_seeds_over=("K",)`` the runs at every ``K`` of one seed index share their seed, so
        for an algorithm whose first ``K`` episodes do not depend on the budget the run at ``K`` is
        the prefix of the run at the largest ``K``: each seed index contributes a whole curve, and a
        rate fitted across ``K`` is not swamped by run-to-run spread. Default: every axis counts.
    """

    quick: Grid
    full: Grid
    seeds_quick: int
    seeds_full: int
    common_seeds_over: tuple = ()

    def __post_init__(self):
        for name in ("quick", "full"):
            if not isinstance(getattr(self, name), Grid):
                raise ValueError(f"Sweep.{name} must be a Grid, got {type(getattr(self, name)).__name__}")
        check_positive_int("seeds_quick", self.seeds_quick)
        check_positive_int("seeds_full", self.seeds_full)
        if isinstance(self.common_seeds_over, str) or not all(isinstance(a, str) for a in self.common_seeds_over):
            raise ValueError(f"Sweep.common_seeds_over must be a tuple of axis names, got {self.common_seeds_over!r}")
        object.__setattr__(self, "common_seeds_over", tuple(self.common_seeds_over))
        for name in ("quick", "full"):
            axes = getattr(self, name).axes
            missing = [a for a in self.common_seeds_over if a not in axes]
            if missing:
                raise ValueError(f"Sweep.common_seeds_over names {missing[0]!r}, not an axis of the {name} grid "
                                 f"(axes: {sorted(axes)})")

    def seed_params(self, params: dict) -> dict:
        """The part of a parameter point the run's seed is derived from (``common_seeds_over`` removed)."""
        return {k: v for k, v in params.items() if k not in self.common_seeds_over}

    def grid(self, budget: str) -> Grid:
        _check_budget(budget)
        return self.quick if budget == "quick" else self.full

    def n_seeds(self, budget: str) -> int:
        _check_budget(budget)
        return self.seeds_quick if budget == "quick" else self.seeds_full


@dataclass(frozen=True)
class Mutant:
    """A deliberately broken variant of the observed experiment.

    Either it runs its own experiment (``observe``), or -- when the bug only misreports what the
    claim's experiment computed -- it is *derived* from the claim's runs (``derive``) and costs
    nothing: ``Mutant("swapped", derive=swap_outputs, why="...")``.

    Attributes
    ----------
    name : str
        Short identifier (``[a-z0-9_]+``).
    observe : callable or None
        Same signature as :attr:`Claim.observe`; top-level so it pickles to worker processes.
        Must not be the claim's own observe (its runs would be the claim's: it could never be
        caught).
    why : str
        The bug it contains and why the claim's rule must reject it.
    derive : callable or None
        Pure function ``observed -> observed`` (dict of float64 arrays to dict of float arrays)
        applied to each of the claim's runs, in the calling process; it gets a copy. Its runs are
        not stored: they are re-derived from the stored claim runs whenever a verdict is computed.
        Exactly one of ``observe`` and ``derive`` is given.
    """

    name: str
    observe: ObserveFn | None = None
    why: str = ""
    derive: Callable[[dict], Mapping[str, Any]] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z0-9_]+", self.name):
            raise ValueError(f"Mutant.name must match [a-z0-9_]+, got {self.name!r}")
        if self.name == "claim":
            raise ValueError("Mutant.name 'claim' is reserved for the claim itself")
        if (self.observe is None) == (self.derive is None):
            raise ValueError(f"Mutant {self.name!r}: give exactly one of observe (its own experiment) and "
                             "derive (a function of the claim's observations)")
        if self.observe is not None and not callable(self.observe):
            raise ValueError(f"Mutant {self.name!r}: observe must be callable")
        if self.derive is not None and not callable(self.derive):
            raise ValueError(f"Mutant {self.name!r}: derive must be callable")
        if not isinstance(self.why, str) or not self.why.strip():
            raise ValueError(f"Mutant {self.name!r}: why must say what the bug is")


class Derived:
    """``observe`` followed by ``derive``: a derived mutant's observations computed from scratch.

    What :meth:`Claim.variants` returns for a derived mutant, so every variant can be called as
    ``fn(params, seed)`` (the runner does not: it applies ``derive`` to the claim's runs).
    """

    def __init__(self, observe: ObserveFn, derive: Callable[[dict], Mapping[str, Any]]):
        self.observe, self.derive = observe, derive
        self.__qualname__ = f"{getattr(derive, '__qualname__', derive)} of {getattr(observe, '__qualname__', observe)}"

    def __call__(self, params: dict, seed) -> Mapping[str, Any]:
        observed = {str(k): np.asarray(v, dtype=np.float64) for k, v in self.observe(params, seed).items()}
        return self.derive(observed)

    def __repr__(self) -> str:
        return f"Derived({self.__qualname__})"


#: What a documented finding expects of the rule: the claim fails, or a mutant is not caught.
FINDING_EXPECTS = ("FAIL", "MUTANT NOT CAUGHT")


@dataclass(frozen=True)
class Pin:
    """The value a finding's statistic was recorded at for one budget, and the band it must stay in.

    Attributes
    ----------
    recorded : float
        The statistic as measured when the finding was written.
    band : tuple of float
        ``(lo, hi)``, ``lo <= recorded <= hi``: the values seed-to-seed variability can produce.
        A value outside it is ``FINDING CHANGED``.
    why : str
        One line: how the band was obtained (e.g. "bootstrap over seeds, 99.9% range, widened 25%").
    """

    recorded: float
    band: tuple
    why: str

    def __post_init__(self):
        band = tuple(self.band)
        if len(band) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band):
            raise ValueError(f"Pin.band must be (lo, hi) numbers, got {self.band!r}")
        if not (np.isfinite(self.recorded) and band[0] <= self.recorded <= band[1]):
            raise ValueError(f"Pin.recorded = {self.recorded!r} must be finite and inside its band {band}")
        if not isinstance(self.why, str) or not self.why.strip():
            raise ValueError("Pin.why must justify the band in one line")
        object.__setattr__(self, "band", (float(band[0]), float(band[1])))

    @classmethod
    def binomial(cls, count: int, n: int, why: str, *, confidence: float = 0.999) -> "Pin":
        """Pin of a count of ``n`` independent runs: the central ``confidence`` binomial range at the
        recorded rate ``count / n`` (exact quantiles of ``scipy.stats.binom``)."""
        from scipy import stats

        check_positive_int("n", n)
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 <= count <= n:
            raise ValueError(f"Pin.binomial: count must be an integer in [0, n = {n}], got {count!r}")
        tail = (1 - confidence) / 2
        dist = stats.binom(n, count / n)
        return cls(float(count), (float(dist.ppf(tail)), float(dist.isf(tail))),
                   f"{why} (binomial {confidence:.1%} range at rate {count}/{n})")


class Finding(str):
    """A documented finding: its text (a ``Finding`` *is* that ``str``) plus the statistic it pins.

    A finding reproduces only if the rule's verdict is still of the ``expect`` kind AND the pinned
    ``statistic`` lies in the band recorded for the budget. Otherwise the verdict is
    ``FINDING CHANGED``: a bug that makes the claim fail worse, or differently, is not hidden
    behind "the claim still fails".

    Parameters
    ----------
    text : str
        The finding with its evidence.
    statistic : str
        Dotted path into the verdict's numbers: ``claim.<key>...`` (the rule's numbers on the claim's
        runs) or ``mutant.<name>.<key>...`` (on a mutant's); integers index lists, e.g.
        ``claim.groups.0.ci.1`` (upper end of the first group's slope CI), and ``axis=value``
        selects the group of a per-group list at that parameter value (``claim.groups.instance=2.slope``).
    expect : {"FAIL", "MUTANT NOT CAUGHT"}
        What the finding says the check gives.
    quick, full : Pin
        Recorded value and band per budget.
    """

    statistic: str
    expect: str
    pins: dict

    def __new__(cls, text: str, *, statistic: str, expect: str, quick: Pin, full: Pin):
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Finding.text must be a non-empty string (the finding and its evidence)")
        self = super().__new__(cls, text)
        if not isinstance(statistic, str) or not re.fullmatch(r"(claim|mutant\.[a-z0-9_]+)(\.[A-Za-z0-9_]+(=[A-Za-z0-9_+-]+)?)+",
                                                               statistic):
            raise ValueError(f"Finding.statistic must be a dotted path 'claim.<key>...' or "
                             f"'mutant.<name>.<key>...', got {statistic!r}")
        if expect not in FINDING_EXPECTS:
            raise ValueError(f"Finding.expect must be one of {FINDING_EXPECTS}, got {expect!r}")
        for name, pin in (("quick", quick), ("full", full)):
            if not isinstance(pin, Pin):
                raise ValueError(f"Finding.{name} must be a Pin (recorded value and band), got {pin!r}")
        self.statistic, self.expect, self.pins = statistic, expect, {"quick": quick, "full": full}
        return self

    def __reduce__(self):
        return (_make_finding, (str(self), self.statistic, self.expect, self.pins["quick"], self.pins["full"]))

    def lookup(self, numbers: Mapping) -> float:
        """The pinned statistic in ``numbers = {"claim": {...}, "mutant": {name: {...}}}``; NaN if absent."""
        node: Any = numbers
        for part in self.statistic.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, (list, tuple)) and "=" in part:
                node = _select_group(node, *part.split("=", 1))
                if node is None:
                    return float("nan")
            else:
                return float("nan")
        try:
            return float(node)
        except (TypeError, ValueError):
            return float("nan")


def _select_group(entries: Sequence, axis: str, value: str):
    """The entry of a rule's per-group list whose ``group`` (a parameter point's JSON) has ``axis == value``."""
    for entry in entries:
        try:
            params = json.loads(entry["group"])
        except (TypeError, KeyError, ValueError):
            continue
        if isinstance(params, dict) and axis in params and str(params[axis]) == value:
            return entry
    return None


def _make_finding(text, statistic, expect, quick, full):
    return Finding(text, statistic=statistic, expect=expect, quick=quick, full=full)


@dataclass(frozen=True)
class Claim:
    """A paper's claim as an executable, falsifiable check.

    Attributes
    ----------
    id : str
        ``family.short_name``, e.g. ``"textbook.vi_contraction"``.
    paper : Paper
    statement : str
        The claim in words.
    provenance : Provenance
    observe : callable
        Top-level function ``(params: dict, seed: numpy.random.SeedSequence) -> dict`` of float
        arrays. It must draw every random number from ``seed`` so a run is reproducible.
    sweep : Sweep
    rule : proofs_check.rules.Rule
        The acceptance rule (:class:`~proofs_check.rules.BoundHolds`, ``Rate``, ``Contraction``,
        ``HighProbability``). The grid axes it names (``x``, ``param``) must be axes of both grids.
    bound : callable
        ``params -> float`` (or array broadcastable against the observed array). Its meaning is
        the rule's: the upper bound (``BoundHolds``, ``HighProbability``), the claimed factor
        (``Contraction``), or the reference rate curve drawn in figures (``Rate``).
    mutants : sequence of Mutant
        At least one; each must be caught (rule verdict FAIL).
    observed : str
        Human-readable name of the observed quantity (axis label in figures).
    finding : Finding or str
        Empty for a claim expected to hold. Otherwise a documented *finding*, with the evidence:
        the claim as stated does not hold for our implementation or instances (verdict FAIL), or
        its check cannot fail at any feasible budget (MUTANT NOT CAUGHT, e.g. a bound larger than
        any possible regret). A :class:`Finding` pins the statistic it argues from: it reproduces
        only while the verdict is of the expected kind and the statistic stays in its band
        (otherwise ``FINDING CHANGED``). A plain string is an *unpinned* finding (allowed for your
        own claims, never for the built-in ones): it reproduces whenever the check does not pass
        cleanly, and the verdict carries a note saying it is unpinned.
    """

    id: str
    paper: Paper
    statement: str
    provenance: Provenance
    observe: ObserveFn
    sweep: Sweep
    rule: Any
    bound: Callable[[dict], Any]
    mutants: tuple = ()
    observed: str = ""
    finding: str = ""

    def __post_init__(self):
        if not isinstance(self.finding, str):
            raise ValueError(f"Claim {self.id}: finding must be a Finding (pinned) or a string (unpinned; empty "
                             "if the claim is expected to hold)")
        if not isinstance(self.id, str) or not CLAIM_ID_PATTERN.match(self.id):
            raise ValueError(f"Claim.id must look like 'family.short_name' ([a-z0-9_]+ on both sides), "
                             f"got {self.id!r}")
        if not isinstance(self.paper, Paper):
            raise ValueError(f"Claim {self.id}: paper must be a Paper")
        if not isinstance(self.provenance, Provenance):
            raise ValueError(f"Claim {self.id}: provenance must be a Provenance")
        if not isinstance(self.statement, str) or not self.statement.strip():
            raise ValueError(f"Claim {self.id}: statement must be a non-empty string")
        if not callable(self.observe):
            raise ValueError(f"Claim {self.id}: observe must be callable")
        if not isinstance(self.sweep, Sweep):
            raise ValueError(f"Claim {self.id}: sweep must be a Sweep")
        if not hasattr(self.rule, "evaluate"):
            raise ValueError(f"Claim {self.id}: rule must be a proofs_check.rules.Rule, got {self.rule!r}")
        for attr in _RULE_AXIS_FIELDS:
            axis = getattr(self.rule, attr, None)
            if axis is None:
                continue
            for budget in BUDGETS:
                axes = self.sweep.grid(budget).axes
                if axis not in axes:
                    raise ValueError(f"Claim {self.id}: {type(self.rule).__name__}.{attr} names {axis!r}, "
                                     f"not an axis of the {budget} grid (axes: {sorted(axes)})")
        if not callable(self.bound):
            raise ValueError(f"Claim {self.id}: bound must be callable (params -> float)")
        mutants = tuple(self.mutants)
        if len(mutants) == 0:
            raise ValueError(f"Claim {self.id}: needs at least one mutant (a check that cannot fail "
                             "proves nothing)")
        for i, m in enumerate(mutants):
            if not isinstance(m, Mutant):
                raise ValueError(f"Claim {self.id}: mutants[{i}] = {m!r} is not a Mutant")
        for m in mutants:
            if m.observe is not None and m.observe is self.observe:
                raise ValueError(f"Claim {self.id}: mutant {m.name!r} has the claim's own observe; its runs "
                                 "would be the claim's and it could never be caught (to misreport the claim's "
                                 "outputs, derive it: Mutant(name, derive=fn, why=...))")
        names = [m.name for m in mutants]
        if len(set(names)) != len(names):
            raise ValueError(f"Claim {self.id}: duplicate mutant names {names}")
        if isinstance(self.finding, Finding) and self.finding.statistic.startswith("mutant."):
            which = self.finding.statistic.split(".")[1]
            if which not in names:
                raise ValueError(f"Claim {self.id}: Finding.statistic {self.finding.statistic!r} names mutant "
                                 f"{which!r}, not one of {names}")
        object.__setattr__(self, "mutants", mutants)
        if not self.observed:
            object.__setattr__(self, "observed", getattr(self.rule, "observed", "observed"))

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def variants(self) -> list[tuple[str, ObserveFn]]:
        """``[("claim", observe), (mutant name, mutant observe), ...]``; a derived mutant's is
        :class:`Derived` (the claim's observe followed by its ``derive``)."""
        return [("claim", self.observe)] + [
            (m.name, m.observe if m.derive is None else Derived(self.observe, m.derive)) for m in self.mutants]

    def computed_variants(self) -> list[tuple[str, ObserveFn]]:
        """The variants whose runs are computed and stored: the claim and its non-derived mutants."""
        return [("claim", self.observe)] + [(m.name, m.observe) for m in self.mutants if m.derive is None]


@dataclass(frozen=True)
class Run:
    """One finished run: a variant at one parameter point and seed index.

    Attributes
    ----------
    variant : str
        ``"claim"`` or a mutant name.
    params : dict
    seed_index : int
    observed : dict of str -> ndarray (float64)
    seconds : float
        Wall time of the observe call (kept apart from ``observed`` so results can be compared
        "apart from timings").
    """

    variant: str
    params: dict
    seed_index: int
    observed: dict
    seconds: float = 0.0


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule concludes on one variant's runs.

    ``passed`` is ``True`` (PASS), ``False`` (FAIL) or ``None``: UNDECIDED -- the runs cannot
    decide (non-finite or censored observations, too few points, a degenerate statistic, a
    quantity that does not move); ``summary`` then starts with ``"UNDECIDED: "`` and the reason.
    """

    passed: bool | None
    summary: str
    numbers: dict = field(default_factory=dict)

    @classmethod
    def undecided(cls, reason: str, numbers: dict | None = None) -> "RuleOutcome":
        """An UNDECIDED outcome with its reason."""
        return cls(None, f"UNDECIDED: {reason}", dict(numbers or {}))

    @property
    def decided(self) -> bool:
        return self.passed is not None


@dataclass(frozen=True)
class MutantVerdict:
    """The rule's outcome on one mutant; ``caught`` iff the rule FAILS on it (an UNDECIDED outcome
    is not a catch: ``undecided`` is then True and the summary gives the reason)."""

    name: str
    caught: bool
    summary: str
    why: str
    numbers: dict = field(default_factory=dict)
    undecided: bool = False


@dataclass(frozen=True)
class Verdict:
    """The verdict on one claim.

    Attributes
    ----------
    claim_id : str
    passed : bool or None
        The rule's outcome on the claim's own runs; ``None`` if UNDECIDED.
    summary : str
        The rule's one-line summary, e.g. ``"slope CI [-0.53, -0.47] within -0.5 ± 0.1"``.
    numbers : dict
        The statistics behind the summary.
    n_runs : int
        Runs of the claim itself (mutant runs not counted).
    seeds : int
        Seeds per parameter point.
    budget : {"quick", "full"}
    mutants : tuple of MutantVerdict
    notes : tuple of str
    finding : str
        The claim's documented finding (see :attr:`Claim.finding`); empty if it is expected to hold.
    finding_check : dict
        For a pinned finding (:class:`Finding`): ``statistic``, ``value`` (as measured now),
        ``recorded``, ``band``, ``expect``, ``inside`` (value in band), ``kind`` (FAIL or MUTANT
        NOT CAUGHT, as observed now) and ``reproduces``. Empty for an unpinned finding or none.
    power : dict
        How likely each outcome is to come out as it did, by a bootstrap over seeds
        (:mod:`proofs_check.power`): ``{"claim": {...}, "mutants": {name: {...}}, "weak_mutants":
        [...]}``; each entry has the fractions ``pass``, ``fail``, ``undecided`` of resamples,
        ``p_as_observed`` (and for a mutant ``p_caught``, ``weak``: caught, but in fewer than 95%
        of resamples), ``resamples`` and ``method``. Never changes the verdict. Empty when not
        estimated.

    Verdict kinds (:attr:`label`): ``PASS``; ``FAIL``; ``MUTANT NOT CAUGHT``; ``UNDECIDED`` (the
    runs cannot decide: the claim's outcome, or -- when the claim passes -- a mutant's, is
    undecided); for a documented finding, ``FAIL (documented)`` / ``MUTANT NOT CAUGHT
    (documented)`` while it reproduces, ``FINDING CHANGED`` when its pinned statistic leaves its
    band or the verdict is of another kind, ``PASS (finding gone?)`` when it passes cleanly.
    Only ``PASS`` and a reproducing finding are :attr:`ok`.
    """

    claim_id: str
    passed: bool | None
    summary: str
    numbers: dict
    n_runs: int
    seeds: int
    budget: str
    mutants: tuple = ()
    notes: tuple = ()
    finding: str = ""
    finding_check: dict = field(default_factory=dict)
    power: dict = field(default_factory=dict)

    @property
    def all_mutants_caught(self) -> bool:
        return all(m.caught for m in self.mutants)

    @property
    def undecided(self) -> bool:
        """The claim's outcome is undecided, or it passes and a mutant's outcome is undecided."""
        return self.passed is None or (self.passed and any(m.undecided for m in self.mutants))

    @property
    def clean_pass(self) -> bool:
        """The claim passes and every mutant is caught."""
        return self.passed is True and self.all_mutants_caught

    @property
    def finding_changed(self) -> bool:
        """A pinned finding whose statistic left its band or whose verdict changed kind (other than
        to a clean pass, labelled ``PASS (finding gone?)``)."""
        return (bool(self.finding_check) and not self.undecided and not self.clean_pass
                and not self.finding_check["reproduces"])

    @property
    def ok(self) -> bool:
        """As expected: a clean pass, or -- for a documented finding -- the finding reproduces.
        Never for UNDECIDED or FINDING CHANGED."""
        if self.undecided:
            return False
        if self.finding_check:
            return bool(self.finding_check["reproduces"])
        return not self.clean_pass if self.finding else self.clean_pass

    @property
    def label(self) -> str:
        if self.undecided:
            return "UNDECIDED"
        if self.clean_pass:
            return "PASS (finding gone?)" if self.finding else "PASS"
        if self.finding_changed:
            return "FINDING CHANGED"
        base = "FAIL" if not self.passed else "MUTANT NOT CAUGHT"
        return f"{base} (documented)" if self.finding else base

    def to_json(self) -> str:
        return json.dumps({
            "claim_id": self.claim_id, "passed": self.passed, "summary": self.summary,
            "numbers": self.numbers, "n_runs": self.n_runs, "seeds": self.seeds, "budget": self.budget,
            "mutants": [m.__dict__ for m in self.mutants], "notes": list(self.notes),
            "finding": str(self.finding), "finding_check": self.finding_check, "power": self.power},
            sort_keys=True, default=float)

    @classmethod
    def from_json(cls, text: str) -> "Verdict":
        d = json.loads(text)
        d["mutants"] = tuple(MutantVerdict(**m) for m in d["mutants"])
        d["notes"] = tuple(d["notes"])
        return cls(**d)


def _check_budget(budget: str) -> None:
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")


def params_key(params: Mapping) -> str:
    """Canonical JSON of a parameter point (sorted keys), used in store keys and seeds."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))
