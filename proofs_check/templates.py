"""Claim templates for your own episodic learner: regret rate, regret bound, sample complexity (PAC).

Each template turns "my learner does X on these instances" into a :class:`~proofs_check.claim.Claim`
whose runs go through :func:`mdpkit.learners.run` (the exact audit: every deployed policy is
evaluated under the true model, regret is against the exact ``V*``; the learner never sees the
model) and whose generic mutants are built for you:

``never_updates``
    the learner's first policy forever (``observe`` is a no-op): linear regret;
``uniform``
    the uniformly random policy every episode: linear regret;
``no_exploration``
    greedy on its estimates: certainty equivalence on the empirical model of its own episodes
    (:class:`CertaintyEquivalence`: unvisited pairs promise nothing beyond their reward). The same
    for every learner: setting a learner's exploration scale to 0 need not remove its exploration
    (UCBVI's optimistic initialisation explores on its own, and on RiverSwim it is enough);
``exploration_scaled_down``
    only for a learner with an exploration-scale hyper-parameter (``scale_param``, e.g.
    ``"bonus_scale"``): that scale multiplied by ``scale_down`` (default 0: its exploration
    switched off; 0.1 asks whether a ten times smaller bonus would do as well -- on small instances
    it often does, e.g. a count bonus of 0.1 and 0.01 both learn RiverSwim(6, 20), which says more
    about the instance than about the learner).

Templates
---------
:func:`regret_rate_claim`
    ``regret(K) = O~(K^exponent)``: rule :class:`LearningRate` -- the one-sided log-log slope of
    the seed-mean regret against ``K`` (bootstrap CI upper end ``<= exponent + tolerance``) AND the
    learner learns: its per-episode regret over the last eighth of the largest budget is at most
    ``1 - min_improvement`` times that over the first eighth (bootstrap CI over seeds). A learner
    stuck on one policy has a ratio of exactly 1, whatever the claimed exponent.
:func:`regret_bound_claim`
    ``regret(K) <= bound(params)`` on every run (``BoundHolds``) or with probability ``1 - delta``
    (``HighProbability``).
:func:`pac_claim`
    The deployed policy is ``epsilon``-optimal (exactly) after at most ``bound(params)`` episodes
    and stays so: rule :class:`SettlesWithin`. A run that has not settled -- some policy among the
    last ``settle`` fraction of its ``K`` episodes is not ``epsilon``-optimal -- is *censored*: a
    violation of any bound below ``K - settle K`` (FAIL), and UNDECIDED against a larger bound
    (the budget cannot tell; raise ``K``). Censoring never passes.

Parallel runs
-------------
The claim's ``observe`` (and each mutant's) is a :class:`LearnerExperiment`: a picklable object
holding the learner factory, the instance family and the settings, sent to worker processes by
reference (a class or top-level function of an importable module; lambdas and classes defined
inside functions are rejected up front with a ``TypeError``). Its :meth:`LearnerExperiment.code_fingerprint`
(sources of the modules defining the learner and the family, the settings, a fixed instance's
arrays) enters the claim's code version, so editing your learner invalidates its stored runs.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import marshal
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .claim import Claim, Grid, Mutant, Paper, Provenance, RuleOutcome, Sweep, params_key
from .rules import CENSORED, BoundHolds, HighProbability, Rate, Rule, _group_by, _observed, log_factor_chord

__all__ = ["CertaintyEquivalence", "LearnerExperiment", "LearningRate", "NeverUpdates", "SettlesWithin",
           "UniformRandom", "pac_claim", "regret_bound_claim", "regret_rate_claim"]

#: Fraction of a run's episodes forming the "first" and "last" windows of the learning check.
LEARNING_WINDOW = 8
#: Generic mutant names, in the order they are declared.
GENERIC_MUTANTS = ("never_updates", "uniform", "no_exploration", "exploration_scaled_down")


# ============================================================================ generic mutant learners
class NeverUpdates:
    """The wrapped learner's first policy, deployed forever: it never learns from its episodes.

    Parameters
    ----------
    learner : EpisodicLearner
    """

    def __init__(self, learner):
        self.learner = learner
        self.name = f"{getattr(learner, 'name', type(learner).__name__)} (never updates)"

    def start(self, setting, seed):
        self.learner.start(setting, seed)
        self.first = None

    def policy(self):
        if self.first is None:
            self.first = np.array(self.learner.policy(), copy=True)
        return self.first

    def observe(self, states, actions, rewards):
        pass  # the bug: nothing is learned


class UniformRandom:
    """The uniformly random policy ``(H, S, A)`` every episode."""

    name = "uniform random"

    def start(self, setting, seed):
        self.pi = np.full((setting.H, setting.S, setting.A), 1.0 / setting.A)

    def policy(self):
        return self.pi

    def observe(self, states, actions, rewards):
        pass


class CertaintyEquivalence:
    """Greedy on the empirical model of its own episodes, without any exploration.

    Pseudocode::

        P_hat(. | s, a) = empirical frequencies;   unvisited (s, a): no successor (value-to-go 0)
        R_hat = the known table, or the empirical mean reward (0 if unvisited)
        pi = greedy policy of (P_hat, R_hat) by backward induction (first maximal action)

    An unvisited pair is worth only its reward estimate, so nothing pulls the learner towards
    the unknown: the generic "greedy on its estimates" mutant for learners without an exploration
    scale.
    """

    name = "certainty equivalence (no exploration)"

    def start(self, setting, seed):
        self.H, self.S, self.A = setting.H, setting.S, setting.A
        self.known_R = setting.rewards
        self.counts = np.zeros((setting.n_stored_stages, self.S, self.A, self.S))
        self.reward_sum = np.zeros((self.H, self.S, self.A))
        self.reward_n = np.zeros((self.H, self.S, self.A))

    def policy(self):
        n = self.counts.sum(axis=-1, keepdims=True)
        P_hat = self.counts / np.maximum(n, 1.0)                 # rows of unvisited pairs are 0
        R_hat = (self.known_R if self.known_R is not None
                 else self.reward_sum / np.maximum(self.reward_n, 1.0))
        V = np.zeros(self.S)
        pi = np.zeros((self.H, self.S), dtype=np.int64)
        for h in range(self.H - 1, -1, -1):
            Q = R_hat[h] + P_hat[h if P_hat.shape[0] > 1 else 0] @ V
            pi[h] = Q.argmax(axis=1)
            V = Q.max(axis=1)
        return pi

    def observe(self, states, actions, rewards):
        pooled = self.counts.shape[0] == 1
        for h in range(self.H):
            s, a = states[h], actions[h]
            self.counts[0 if pooled else h, s, a, states[h + 1]] += 1
            self.reward_sum[h, s, a] += rewards[h]
            self.reward_n[h, s, a] += 1


# ============================================================================ the experiment
def _build(factory, hyper: dict):
    """``factory(**hyper)`` for a class, ``factory(hyper)`` for any other callable."""
    return factory(**hyper) if isinstance(factory, type) else factory(dict(hyper))


def _label(obj) -> str:
    obj = obj.func if isinstance(obj, functools.partial) else obj
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _source_bytes(obj) -> bytes:
    """Source of the module defining ``obj`` (a class, function or partial), or its repr."""
    obj = obj.func if isinstance(obj, functools.partial) else obj
    module = inspect.getmodule(obj)
    try:
        path = inspect.getsourcefile(module) if module is not None else None
    except TypeError:
        path = None
    if path and Path(path).is_file():
        return Path(path).read_bytes()
    # Defined in a notebook or an interactive session: the source of the object itself, or of a
    # class's methods (IPython keeps cell sources; a class's own source needs a module file).
    parts = [obj] + ([v for v in vars(obj).values() if inspect.isfunction(v)] if isinstance(obj, type) else [])
    out = [_label(obj).encode()]
    for part in parts:
        try:
            out.append(inspect.getsource(part).encode())
        except (OSError, TypeError):   # no source anywhere: the compiled code (no memory addresses)
            code = getattr(part, "__code__", None)
            out.append(marshal.dumps(code) if code is not None else _label(part).encode())
    return b"\n".join(out)


class LearnerExperiment:
    """``observe(params, seed)`` of a template claim or one of its generic mutants.

    Per run: the instance (``instances(params, seed_0)`` or the fixed model), the learner (or the
    mutant wrapping it), ``K = params["K"]`` episodes through :func:`mdpkit.learners.run` with
    seed ``seed_1`` (``seed_i``: child ``i`` of the run's seed), then the measure:

    ``"regret"``
        ``{"regret": cumulative regret after K episodes, "early_gap": mean V* - V^pi_k over the
        first K/8 episodes, "late_gap": the same over the last K/8}``, shape () each;
    ``"pac"``
        ``{"episodes": 1 + the last episode whose policy is not epsilon-optimal (0 if none);
        "episodes:censored": 1.0 if that episode lies in the last settle * K (the run has not
        settled: "episodes" is then reported as decidable + 1, a lower bound -- the censoring
        convention of proofs_check.rules), else 0.0; "mistakes": the number of episodes whose
        policy is not epsilon-optimal; "decidable": K - ceil(settle * K)}``.

    Parameters
    ----------
    measure : {"regret", "pac"}
    learner : class or callable
        ``learner(**hyper)`` for a class, ``learner(hyper)`` otherwise; returns an EpisodicLearner.
    instances : TabularMDP or callable
        A fixed model, or ``instances(params, seed) -> TabularMDP`` (``seed``: a
        ``numpy.random.SeedSequence``).
    hyper : dict
    variant : str
        ``"claim"`` or a name in :data:`GENERIC_MUTANTS`.
    reward_info : {"known", "observed"}
    scale_param : str or None
    scale_value : float or None
        The new value of ``scale_param`` (mutants that scale exploration).
    epsilon : float or callable or None
        ``"pac"`` only: the accuracy, or ``epsilon(params)``.
    settle : float
        ``"pac"`` only: fraction of ``K`` at the end of a run that must be epsilon-optimal.
    """

    def __init__(self, measure, learner, instances, hyper, variant, reward_info="known", scale_param=None,
                 scale_value=None, epsilon=None, settle=0.25):
        self.measure, self.learner, self.instances = measure, learner, instances
        self.hyper, self.variant, self.reward_info = dict(hyper), variant, reward_info
        self.scale_param, self.scale_value = scale_param, scale_value
        self.epsilon, self.settle = epsilon, settle
        self.__qualname__ = f"{measure} experiment [{variant}] of {_label(learner)}"

    def __repr__(self) -> str:
        return f"LearnerExperiment({self.__qualname__})"

    def make_learner(self):
        """A fresh learner of this variant."""
        if self.variant == "claim":
            return _build(self.learner, self.hyper)
        if self.variant == "never_updates":
            return NeverUpdates(_build(self.learner, self.hyper))
        if self.variant == "uniform":
            return UniformRandom()
        if self.variant == "no_exploration":
            return CertaintyEquivalence()
        return _build(self.learner, {**self.hyper, self.scale_param: self.scale_value})

    def instance(self, params: dict, seed: np.random.SeedSequence):
        from mdpkit.mdp import TabularMDP

        if isinstance(self.instances, TabularMDP):
            return self.instances
        mdp = self.instances(dict(params), seed)
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"instances({params_key(params)}, seed) must return a TabularMDP, got "
                            f"{type(mdp).__name__}")
        return mdp

    def __call__(self, params: dict, seed: np.random.SeedSequence) -> dict:
        from mdpkit.learners import run
        from mdpkit.learners.environment import child_seed

        K = params["K"]
        mdp = self.instance(params, child_seed(seed, 0))
        result = run(self.make_learner(), mdp, K=K, seed=child_seed(seed, 1), reward_info=self.reward_info)
        gaps = result.optimal_value - result.values                      # (K,), exact
        if self.measure == "regret":
            w = max(1, K // LEARNING_WINDOW)
            return {"regret": result.regret[-1], "early_gap": gaps[:w].mean(), "late_gap": gaps[-w:].mean()}
        epsilon = float(self.epsilon(params) if callable(self.epsilon) else self.epsilon)
        bad = np.flatnonzero(gaps > epsilon)
        episodes = 0 if bad.size == 0 else int(bad[-1]) + 1
        decidable = K - math.ceil(self.settle * K)
        censored = episodes > decidable     # not settled: the true count is at least decidable + 1
        return {"episodes": float(decidable + 1 if censored else episodes), "episodes" + CENSORED: float(censored),
                "mistakes": float(bad.size), "decidable": float(decidable)}

    def code_fingerprint(self) -> bytes:
        """What decides this experiment's runs beyond the template's own source: the sources of
        the modules defining the learner and the instance family, the settings, and a fixed
        instance's arrays. The runner adds it to the claim's code version."""
        from mdpkit.mdp import TabularMDP

        h = hashlib.sha256(_source_bytes(self.learner))
        h.update(_label(self.learner).encode())
        if isinstance(self.instances, TabularMDP):
            m = self.instances
            for array in (m.P_stages, m.R, m.mu0):
                h.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
            h.update(f"{m.H}|{m.reward_noise}".encode())
        else:
            h.update(_source_bytes(self.instances))
            h.update(_label(self.instances).encode())
        if isinstance(self.epsilon, (int, float)) or self.epsilon is None:
            epsilon = self.epsilon
        else:
            h.update(_source_bytes(self.epsilon))
            epsilon = _label(self.epsilon)
        settings = {"measure": self.measure, "hyper": self.hyper, "variant": self.variant,
                    "reward_info": self.reward_info, "scale": [self.scale_param, self.scale_value],
                    "epsilon": epsilon, "settle": self.settle}
        h.update(json.dumps(settings, sort_keys=True, default=repr).encode())
        return h.digest()


# ============================================================================ rules
def _bootstrap_upper(statistic, n_seeds: int, confidence: float, n_resamples: int, rng) -> float:
    """Upper end of the percentile bootstrap CI (seeds resampled) of ``statistic(idx)``."""
    from scipy import stats

    res = stats.bootstrap((np.arange(n_seeds, dtype=np.float64),), statistic, vectorized=True,
                          n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                          random_state=rng)
    return float(res.confidence_interval.high)


@dataclass(frozen=True)
class LearningRate(Rate):
    """:class:`~proofs_check.rules.Rate` (use ``sided="upper"``) AND the learner learns.

    Learning check, per group of runs (other parameters fixed) at its largest ``param`` in range:
    the ratio ``mean_seeds(late) / mean_seeds(early)`` of the per-episode regret over the last and
    first windows of the run (observed keys ``late`` and ``early``) must have a bootstrap CI
    (seeds resampled) whose upper end is ``<= 1 - min_improvement``. A learner that deploys one
    policy for good has a ratio of exactly 1; so does one that never learns anything. FAIL if the
    slope fails or the learner does not learn; UNDECIDED (``passed=None``) if either cannot be
    decided (e.g. the first episodes are already optimal: nothing to learn on this instance).

    Parameters
    ----------
    early, late : str
        Observed keys of the per-episode regret in the first and last windows.
    min_improvement : float
        In ``(0, 1)``: the fraction of the first window's per-episode regret the learner must have
        shed by the last window.
    """

    early: str = "early_gap"
    late: str = "late_gap"
    min_improvement: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        if not (0.0 < self.min_improvement < 1.0):
            raise ValueError(f"LearningRate.min_improvement must be in (0, 1), got {self.min_improvement!r}")

    def describe(self) -> str:
        return (super().describe() + f"; and learning: {self.confidence:.0%} bootstrap CI upper end of the "
                f"per-episode regret ratio last/first window <= {1 - self.min_improvement:g}")

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        rate = super().evaluate(runs, bound, seed)
        if not runs:
            return rate
        rng = np.random.default_rng(seed)
        limit = 1.0 - self.min_improvement
        checks, parts, learned = [], [], True     # learned: True, False, or None (cannot tell)
        for group_key, group in _group_by(runs, exclude=self.param).items():
            xs = [r.params[self.param] for r in group if self.in_range(r.params[self.param])]
            if not xs:
                continue
            top = [r for r in group if r.params[self.param] == max(xs)]
            early = np.array([float(_observed(r, self.early)) for r in top])
            late = np.array([float(_observed(r, self.late)) for r in top])
            if not (np.all(np.isfinite(early)) and np.all(np.isfinite(late))) or early.mean() <= 0:
                # Nothing to learn from (or no number): the check cannot tell, it must not pass.
                learned = False if learned is False else None
                reason = ("the first episodes are already optimal: the instance cannot show learning"
                          if np.all(np.isfinite(early)) and early.mean() <= 0 else "non-finite per-episode regret")
                checks.append({"group": group_key, "passed": None, "reason": reason})
                parts.append(reason)
                continue
            ratio = float(late.mean() / early.mean())

            def statistic(idx, axis=-1):
                idx = np.asarray(idx, dtype=np.int64)
                e = early[idx].mean(axis=-1)
                return np.where(e > 0, late[idx].mean(axis=-1) / np.where(e > 0, e, 1.0), np.inf)

            upper = _bootstrap_upper(statistic, len(top), self.confidence, self.n_resamples, rng) \
                if len(top) >= 2 else math.nan
            ok = bool(np.isfinite(upper) and upper <= limit)
            learned = False if not ok else learned
            checks.append({"group": group_key, "ratio": ratio, "upper": upper, "passed": ok,
                           self.param: max(xs), "n_seeds": len(top)})
            parts.append(f"{ratio:.3g} (CI upper {upper:.3g})")
        # Not learning is a FAIL whatever the slope; otherwise both must pass (None: UNDECIDED).
        if rate.passed is False or learned is False:
            passed = False
        else:
            passed = None if (rate.passed is None or learned is None) else True
        verb = {True: "<=", False: "NOT <=", None: "cannot be compared with"}[learned]
        learning = f"per-episode regret last/first window {', '.join(parts)} {verb} {limit:g}"
        # A learner that does not learn fails on that ground, whatever the slope statistic says.
        if learned is False:
            summary = f"{learning}; slope: {rate.summary}"
        elif learned is None and passed is None:
            summary = f"UNDECIDED: {learning}; slope: {rate.summary.removeprefix('UNDECIDED: ')}"
        else:
            summary = f"{rate.summary}; {learning}"
        return RuleOutcome(passed, summary, {**rate.numbers, "learning": checks, "rate_passed": rate.passed,
                                             "learned": learned})


@dataclass(frozen=True)
class SettlesWithin(Rule):
    """Episodes until the deployed policy is epsilon-optimal for good ``<= bound(params)``.

    :class:`~proofs_check.rules.BoundHolds` (``delta=None``: every run) or
    :class:`~proofs_check.rules.HighProbability` on ``observed``, with the rules' censoring: a run
    that has not settled within its budget reports ``decidable + 1`` marked ``+1`` ("at least").
    Against a bound below that, it is a violation (FAIL); against a bound at or above it the
    budget cannot tell, and the outcome is UNDECIDED -- never PASS. The summary says how many runs
    never settled.

    Parameters
    ----------
    observed : str
    delta : float or None
    confidence : float
    x : str or None
    """

    observed: str = "episodes"
    delta: float | None = None
    confidence: float = 0.95
    x: str | None = None
    kind = "bound"

    def __post_init__(self):
        self.inner()  # validates delta and confidence

    def inner(self) -> Rule:
        if self.delta is None:
            return BoundHolds(self.observed, x=self.x)
        return HighProbability(self.observed, self.delta, confidence=self.confidence, x=self.x)

    def describe(self) -> str:
        return (f"{self.inner().describe()}; a run not epsilon-optimal for good within its budget is censored "
                "(a violation when the bound is below its budget, UNDECIDED otherwise)")

    def evaluate(self, runs, bound, seed=0) -> RuleOutcome:
        out = self.inner().evaluate(runs, bound, seed)
        unsettled = sum(1 for r in runs if np.any(np.asarray(r.observed.get(self.observed + CENSORED, 0.0)) > 0))
        if not unsettled:
            return RuleOutcome(out.passed, out.summary, {**out.numbers, "unsettled": 0})
        note = (f"{unsettled} of {len(runs)} runs never settled (not epsilon-optimal for good within their "
                "budget)")
        summary = (f"UNDECIDED: {note}; {out.summary[len('UNDECIDED: '):]}" if out.passed is None
                   else f"{note}; {out.summary}")
        return RuleOutcome(out.passed, summary, {**out.numbers, "unsettled": unsettled})


# ============================================================================ templates
def _check_learner_factory(learner, hyper) -> Any:
    if not callable(learner):
        raise TypeError(f"learner must be a learner class or a callable hyper -> learner, got {learner!r}")
    if not isinstance(hyper, dict) or not all(isinstance(k, str) for k in hyper):
        raise TypeError(f"hyper must be a dict of hyper-parameters with str keys, got {hyper!r}")
    built = _build(learner, hyper)
    missing = [m for m in ("start", "policy", "observe") if not callable(getattr(built, m, None))]
    if missing:
        raise TypeError(f"learner builds a {type(built).__name__} lacking {', '.join(missing)} "
                        "(an EpisodicLearner needs start(setting, seed), policy(), observe(states, actions, rewards))")
    return built


def _check_instances(instances):
    from mdpkit.mdp import TabularMDP

    if not (isinstance(instances, TabularMDP) or callable(instances)):
        raise TypeError(f"instances must be a TabularMDP or a callable (params, seed) -> TabularMDP, "
                        f"got {type(instances).__name__}")


def _check_grid(name: str, grid, min_k: int) -> Grid:
    if isinstance(grid, dict):
        grid = Grid(**grid)
    if not isinstance(grid, Grid):
        raise TypeError(f"{name} must be a Grid (or a dict of axes) with a 'K' axis, got {type(grid).__name__}")
    if "K" not in grid.axes:
        raise ValueError(f"{name} must have a 'K' axis (episodes per run); it has {sorted(grid.axes)}")
    for i, k in enumerate(grid.axes["K"]):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"{name} axis 'K'[{i}] = {k!r} is not an integer >= 1")
    if len(set(grid.axes["K"])) < min_k:
        raise ValueError(f"{name} needs at least {min_k} distinct values of K, got {list(grid.axes['K'])}")
    return grid


def _check_seeds(seeds, minimum: int) -> tuple[int, int]:
    try:
        quick, full = seeds
    except (TypeError, ValueError):
        raise TypeError(f"seeds must be a pair (quick, full) of ints, got {seeds!r}") from None
    for name, n in (("seeds[0] (quick)", quick), ("seeds[1] (full)", full)):
        if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return quick, full


def _provenance(provenance) -> Provenance:
    if isinstance(provenance, Provenance):
        return provenance
    if isinstance(provenance, str) and provenance.strip():
        return Provenance("reconstructed", provenance)
    raise TypeError(f"provenance must be a Provenance or a one-sentence note, got {provenance!r}")


def _mutants(measure, learner, instances, hyper, reward_info, scale_param, scale_down, built, **extra):
    """The claim's experiment and the generic mutants (see the module docstring)."""
    def experiment(variant, scale_value=None):
        return LearnerExperiment(measure, learner, instances, hyper, variant, reward_info, scale_param,
                                 scale_value, **extra)

    name = getattr(built, "name", type(built).__name__)
    mutants = [
        Mutant("never_updates", experiment("never_updates"),
               why=f"{name} with observe() a no-op: its first policy forever, so its regret grows linearly"),
        Mutant("uniform", experiment("uniform"),
               why="the uniformly random policy every episode: it learns nothing"),
        Mutant("no_exploration", experiment("no_exploration"),
               why="certainty equivalence on the empirical model of its own episodes, no exploration: it "
                   "settles on what it has seen"),
    ]
    if scale_param is not None:
        if not isinstance(scale_param, str) or not scale_param.isidentifier():
            raise ValueError(f"scale_param must be the name of a hyper-parameter, got {scale_param!r}")
        base = hyper.get(scale_param, getattr(built, scale_param, None))
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not math.isfinite(base) or base <= 0:
            raise ValueError(f"scale_param {scale_param!r}: the learner's exploration scale (hyper[{scale_param!r}] "
                             f"or its attribute {scale_param}) must be a positive number, got {base!r}")
        if isinstance(scale_down, bool) or not isinstance(scale_down, (int, float)) or not 0 <= scale_down < 1:
            raise ValueError(f"scale_down must be a number in [0, 1), got {scale_down!r}")
        mutants.append(Mutant("exploration_scaled_down", experiment("exploration_scaled_down", base * scale_down),
                              why=f"{name} with {scale_param}={base * scale_down:g} ({scale_down:g} x {base:g}): "
                                  "too little exploration"))
    claim_observe = experiment("claim")
    for m in [claim_observe] + [m.observe for m in mutants]:
        try:
            pickle.loads(pickle.dumps(m))
        except Exception as exc:  # noqa: BLE001 -- any pickling failure is the same user error
            raise TypeError(f"the learner factory {_label(learner)} or the instance family must pickle to "
                            f"worker processes (a class or function at the top level of an importable module, "
                            f"or a functools.partial of one; not a lambda or a local class): {exc}") from None
    return claim_observe, mutants


def _paper(paper, built) -> Paper:
    if paper is None:
        return Paper(f"Own algorithm: {getattr(built, 'name', type(built).__name__)}", where="user claim")
    if not isinstance(paper, Paper):
        raise TypeError(f"paper must be a proofs_check.Paper or None, got {paper!r}")
    return paper


def _check_common(learner, instances, hyper, quick, full, seeds, min_points: int):
    """The arguments every template shares, validated: ``(hyper, built learner, quick grid, full
    grid, quick seeds, full seeds)``; a grid needs ``min_points`` values of ``K``."""
    hyper = dict(hyper or {})
    built = _check_learner_factory(learner, hyper)
    _check_instances(instances)
    quick, full = _check_grid("quick", quick, min_points), _check_grid("full", full, min_points)
    n_quick, n_full = _check_seeds(seeds, min_points)
    return hyper, built, quick, full, n_quick, n_full


def regret_rate_claim(id: str, learner, instances, *, exponent: float, quick, full, seeds=(8, 32),
                      hyper: dict | None = None, scale_param: str | None = None, scale_down: float = 0.0,
                      reward_info: str = "known", tolerance: float | None = None, justification: str | None = None,
                      min_improvement: float = 0.5, statement: str | None = None,
                      provenance="The user's own claim about their own learner (not from a paper).",
                      paper: Paper | None = None, finding: str = "") -> Claim:
    """Claim: the learner's regret grows at most like ``K^exponent`` (and it learns).

    Parameters
    ----------
    id : str
        ``family.short_name``.
    learner : class or callable
        ``learner(**hyper)`` (a class) or ``learner(hyper)`` (a factory) -> an EpisodicLearner.
    instances : TabularMDP or callable
        A fixed model, or ``instances(params, seed) -> TabularMDP`` with ``params`` the grid point
        and ``seed`` a ``numpy.random.SeedSequence`` (instances drawn per seed; the same at every K).
    exponent : float
        Claimed exponent of ``K`` (``0.5`` for ``O~(sqrt(K))``).
    quick, full : Grid or dict
        Grids with a ``K`` axis (at least 2 values); other axes go to ``instances``. Seeds are common
        over ``K`` (each seed index sees the same instance and transition stream at every ``K``).
    seeds : (int, int)
        Seeds per point, quick and full (``>= 2``: the CIs resample seeds).
    hyper : dict, optional
    scale_param : str, optional
        The learner's exploration-scale hyper-parameter (e.g. ``"bonus_scale"``; its value is
        ``hyper[scale_param]`` or the built learner's attribute of that name): the
        ``exploration_scaled_down`` mutant multiplies it by ``scale_down`` (in ``[0, 1)``; default 0).
    reward_info : {"known", "observed"}
    tolerance : float, optional
        Default: the log-log slope a ``ln K`` factor adds over the shorter K range of the two
        grids (:func:`~proofs_check.rules.log_factor_chord`) -- the hidden log of an ``O~``.
    justification : str, optional
        Required with an explicit ``tolerance``.
    min_improvement : float
        See :class:`LearningRate`.
    statement, provenance, paper, finding
        As in :class:`~proofs_check.claim.Claim`; ``provenance`` may be a note (kind
        ``"reconstructed"``: a claim not read from a paper).

    Returns
    -------
    Claim
    """
    hyper, built, quick, full, n_quick, n_full = _check_common(learner, instances, hyper, quick, full, seeds, 2)
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not math.isfinite(exponent):
        raise ValueError(f"exponent must be a finite number, got {exponent!r}")
    if tolerance is None:
        if justification is not None:
            raise ValueError("justification goes with an explicit tolerance")
        chords = [(log_factor_chord(min(g.axes["K"]), max(g.axes["K"])), g) for g in (quick, full)
                  if min(g.axes["K"]) > 1]
        if not chords:
            raise ValueError("give tolerance and justification: the default needs K > 1")
        tolerance, g = max(chords, key=lambda c: c[0])
        justification = (f"the slope a ln K factor (the log of an O~) adds over K = {min(g.axes['K'])}.."
                         f"{max(g.axes['K'])}")
    elif justification is None:
        raise ValueError("an explicit tolerance needs a one-line justification")
    claim_observe, mutants = _mutants("regret", learner, instances, hyper, reward_info, scale_param, scale_down,
                                      built)
    name = getattr(built, "name", type(built).__name__)
    rule = LearningRate("regret", "K", exponent=float(exponent), tolerance=float(tolerance),
                        justification=justification, sided="upper", min_improvement=min_improvement)
    return Claim(
        id=id, paper=_paper(paper, built),
        statement=statement or f"The regret of {name} after K episodes grows at most like K^{exponent:g} "
                               "(up to log factors), and it learns.",
        provenance=_provenance(provenance), observe=claim_observe,
        sweep=Sweep(quick=quick, full=full, seeds_quick=n_quick, seeds_full=n_full, common_seeds_over=("K",)),
        rule=rule, bound=lambda p: float(p["K"]) ** float(exponent), mutants=mutants,
        observed="regret after K episodes (exact)", finding=finding)


def regret_bound_claim(id: str, learner, instances, *, bound: Callable[[dict], float], quick, full, seeds=(8, 32),
                       delta: float | None = None, hyper: dict | None = None, scale_param: str | None = None,
                       scale_down: float = 0.0, reward_info: str = "known", statement: str | None = None,
                       provenance="The user's own claim about their own learner (not from a paper).",
                       paper: Paper | None = None, finding: str = "") -> Claim:
    """Claim: ``regret(K) <= bound(params)`` on every run, or with probability ``>= 1 - delta``.

    Parameters as :func:`regret_rate_claim`, and

    bound : callable
        ``params -> float``: the claimed regret bound at the grid point (``params["K"]`` episodes).
        A bound above ``K H`` (the largest possible regret with rewards in [0, 1]) cannot fail:
        its mutants go uncaught and the verdict says so.
    delta : float, optional
        ``None``: every run must satisfy the bound (:class:`~proofs_check.rules.BoundHolds`);
        otherwise the Clopper-Pearson check of :class:`~proofs_check.rules.HighProbability`.
    """
    hyper, built, quick, full, n_quick, n_full = _check_common(learner, instances, hyper, quick, full, seeds, 1)
    if not callable(bound):
        raise TypeError(f"bound must be a callable params -> float, got {bound!r}")
    claim_observe, mutants = _mutants("regret", learner, instances, hyper, reward_info, scale_param, scale_down,
                                      built)
    name = getattr(built, "name", type(built).__name__)
    rule = BoundHolds("regret", x="K") if delta is None else HighProbability("regret", delta, x="K")
    where = "on every run" if delta is None else f"with probability at least {1 - delta:g}"
    return Claim(
        id=id, paper=_paper(paper, built),
        statement=statement or f"The regret of {name} after K episodes is at most the bound {where}.",
        provenance=_provenance(provenance), observe=claim_observe,
        sweep=Sweep(quick=quick, full=full, seeds_quick=n_quick, seeds_full=n_full, common_seeds_over=("K",)),
        rule=rule, bound=bound, mutants=mutants, observed="regret after K episodes (exact)", finding=finding)


def pac_claim(id: str, learner, instances, *, epsilon, bound: Callable[[dict], float], quick, full, seeds=(8, 32),
              delta: float | None = None, settle: float = 0.25, hyper: dict | None = None,
              scale_param: str | None = None, scale_down: float = 0.0, reward_info: str = "known",
              statement: str | None = None,
              provenance="The user's own claim about their own learner (not from a paper).",
              paper: Paper | None = None, finding: str = "") -> Claim:
    """Claim: after at most ``bound(params)`` episodes every deployed policy is ``epsilon``-optimal.

    Parameters as :func:`regret_rate_claim`, and

    epsilon : float or callable
        Accuracy ``> 0`` (``V* - V^pi <= epsilon``, exact), or ``epsilon(params)`` (top-level).
    bound : callable
        ``params -> float``: the claimed number of episodes.
    delta : float, optional
        As in :func:`regret_bound_claim`.
    settle : float
        In ``(0, 1)``: a run counts as settled only if the last ``settle * K`` of its ``K``
        episodes are all epsilon-optimal; otherwise it is censored (see :class:`SettlesWithin`).
    """
    hyper, built, quick, full, n_quick, n_full = _check_common(learner, instances, hyper, quick, full, seeds, 1)
    if not callable(bound):
        raise TypeError(f"bound must be a callable params -> float, got {bound!r}")
    if not callable(epsilon) and (isinstance(epsilon, bool) or not isinstance(epsilon, (int, float))
                                  or not (math.isfinite(epsilon) and epsilon > 0)):
        raise ValueError(f"epsilon must be a positive number or a callable params -> float, got {epsilon!r}")
    if isinstance(settle, bool) or not isinstance(settle, (int, float)) or not 0 < settle < 1:
        raise ValueError(f"settle must be a fraction in (0, 1), got {settle!r}")
    claim_observe, mutants = _mutants("pac", learner, instances, hyper, reward_info, scale_param, scale_down,
                                      built, epsilon=epsilon, settle=float(settle))
    name = getattr(built, "name", type(built).__name__)
    x = "K" if len(set(quick.axes["K"])) > 1 else None
    rule = SettlesWithin("episodes", delta=delta, x=x)
    where = "on every run" if delta is None else f"with probability at least {1 - delta:g}"
    return Claim(
        id=id, paper=_paper(paper, built),
        statement=statement or (f"{name} deploys only epsilon-optimal policies after at most the bound's number "
                                f"of episodes, {where}."),
        provenance=_provenance(provenance), observe=claim_observe,
        sweep=Sweep(quick=quick, full=full, seeds_quick=n_quick, seeds_full=n_full),
        rule=rule, bound=bound, mutants=mutants, observed="episodes until epsilon-optimal for good (exact)",
        finding=finding)
