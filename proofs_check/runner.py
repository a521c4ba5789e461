"""Runner: sweep claims and their mutants through any ``concurrent.futures.Executor``.

Every run is one call ``observe(params, seed)`` for a variant (the claim or a mutant), a
parameter point and a seed index. Its seed is a :class:`numpy.random.SeedSequence` whose spawn
key is derived from a hash of ``(claim id, parameter point, seed index)`` -- not from the order
of submission -- so results are bit-identical whatever executor, worker count or resume pattern
produced them. The claim and its mutants share the seed of a run (common random numbers: the
mutant sees the same instance as the claim).

Finished runs are written to the :class:`~proofs_check.store.ResultStore` as soon as they
complete; runs already in the store (same key and code version) are reused. Corrupt stored runs
are reported (``on_corrupt``, by default one block on stderr) *before* anything is computed, then
recomputed; the fresh run replaces the corrupt row -- nothing is deleted unreported.

A *derived* mutant (``Mutant(name, derive=fn, why=...)``) computes nothing: its observations are
``fn`` applied to each of the claim's own runs, in the calling process, and are not stored (they
are re-derived from the stored claim runs whenever a verdict is computed).

Determinism
-----------
Every observation runs with one BLAS/OpenMP thread (:func:`one_blas_thread`, entered by
:func:`execute_run`), whatever the executor: a multi-threaded BLAS splits reductions differently
from a single-threaded one, and results would then depend on where a run was computed.

Code version
------------
:func:`code_version` is the SHA-256 of the source of the module(s) defining the claim's
observe functions, every ``mdpkit/**/*.py`` file, and ``proofs_check/{claim,runner,store}.py``
(the files that decide what a run computes and how it is seeded and stored), and the bytes of an
observe callable's ``code_fingerprint()`` if it has one (the claim templates' experiments: the
user's learner and instance sources and settings, :mod:`proofs_check.templates`). Editing any of them
invalidates the stored runs of the affected claims; editing figures, reports or rules does not
(verdicts are recomputed from stored runs every time). Setting the environment variable
``PROOFS_CHECK_CODE_VERSION`` (e.g. to a git commit in CI) pins the version instead; you then
answer for the stored runs matching the code.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import difflib
import hashlib
import inspect
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .claim import Claim, Finding, MutantVerdict, Run, Verdict, params_key
from .store import CorruptEntry, ResultStore, describe_key

#: Root entropy shared by every run; the per-run spawn key is a hash of (claim, params, seed index).
ROOT_ENTROPY = 0x5EED_C1A1_2024

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_CORE_FILES = ("claim.py", "runner.py", "store.py")

#: Seconds to wait for a Dask scheduler before giving up (``make_executor(scheduler=...)``).
SCHEDULER_TIMEOUT = 10.0


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached (or Dask is not installed); one line for the user."""


def derive_seed(claim_id: str, params: dict, seed_index: int,
                root_entropy: int = ROOT_ENTROPY) -> np.random.SeedSequence:
    """The seed of one run, independent of submission order.

    Parameters
    ----------
    claim_id : str
    params : dict
        Parameter point (canonicalised with sorted keys).
    seed_index : int
    root_entropy : int

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(root_entropy, spawn_key=k)`` with ``k`` four 32-bit words of
        ``sha256(claim_id | params | seed_index)``.
    """
    digest = hashlib.sha256(f"{claim_id}|{params_key(params)}|{int(seed_index)}".encode()).digest()
    spawn_key = tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(4))
    return np.random.SeedSequence(root_entropy, spawn_key=spawn_key)


def _module_source(fn) -> bytes:
    module = inspect.getmodule(fn)
    try:
        path = inspect.getsourcefile(module) if module is not None else None
    except TypeError:  # built-in or dynamically created module
        path = None
    if path and Path(path).is_file():
        return Path(path).read_bytes()
    try:
        return inspect.getsource(fn).encode()
    except (OSError, TypeError):
        return repr(fn).encode()


_VERSION_CACHE: dict = {}


def code_version(claim: Claim) -> str:
    """Hash of the code that determines a claim's runs (see the module docstring).

    Computed once per process and claim: the code a process runs is the code it imported, so a
    source file edited while a sweep runs must not split that sweep across two versions.
    """
    pinned = os.environ.get("PROOFS_CHECK_CODE_VERSION")
    if pinned:
        return pinned
    cache_key = (claim.id,) + tuple(id(fn) for _, fn in claim.computed_variants())
    if cache_key not in _VERSION_CACHE:
        _VERSION_CACHE[cache_key] = _hash_sources(claim)
    return _VERSION_CACHE[cache_key]


def _hash_sources(claim: Claim) -> str:
    h = hashlib.sha256()
    for _, fn in claim.computed_variants():   # derived mutants' runs are not stored
        h.update(_module_source(fn))
        fingerprint = getattr(fn, "code_fingerprint", None)   # e.g. a template's user learner and settings
        if callable(fingerprint):
            h.update(fingerprint())
    files = sorted((_PACKAGE_ROOT / "mdpkit").rglob("*.py"))
    files += [_PACKAGE_ROOT / "proofs_check" / name for name in _CORE_FILES]
    for path in files:
        h.update(str(path.relative_to(_PACKAGE_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


#: Environment variables read by BLAS / OpenMP libraries when they are first loaded.
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_blas_guard = threading.Lock()
_blas_depth = 0          # observations in flight in this process (threaded executors run several)
_blas_saved = None       # (environment, threadpoolctl limiter) to restore when the last one ends
_blas_controller = None  # (len(sys.modules) when built, ThreadpoolController)


def _controller():
    """A cached ThreadpoolController (building one scans the loaded libraries: ~5-40 ms), rebuilt
    whenever modules were imported since -- a new extension module may have brought a BLAS."""
    global _blas_controller
    from threadpoolctl import ThreadpoolController

    if _blas_controller is None or _blas_controller[0] != len(sys.modules):
        _blas_controller = (len(sys.modules), ThreadpoolController())
    return _blas_controller[1]


def _take_blas_control() -> None:
    # threadpoolctl >= 3.6 lets only one "controlling" thread resize a process-wide (pthreads)
    # OpenBLAS pool and silently ignores the others: a worker thread of a threaded executor would
    # otherwise keep the default pool. Within one_blas_thread's guard the calling thread may take
    # control (older threadpoolctl has no such rule, nor this method).
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover -- threadpoolctl < 3
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


@contextlib.contextmanager
def one_blas_thread():
    """Run the body with one BLAS/OpenMP thread in this process, and restore the limits after.

    The limit is applied by the first observation to enter and restored by the last to leave, so
    threads of one process (a threaded Dask worker) never restore it under a running observation.
    The thread-count environment variables are set to 1 meanwhile, so a BLAS first loaded inside
    an observation (a lazy import) starts single-threaded too.
    """
    global _blas_depth, _blas_saved
    with _blas_guard:
        if _blas_depth == 0:
            saved_env = {name: os.environ.get(name) for name in _THREAD_ENV}
            os.environ.update({name: "1" for name in _THREAD_ENV})
            _take_blas_control()
            _blas_saved = (saved_env, _controller().limit(limits=1))
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_guard:
            _blas_depth -= 1
            if _blas_depth == 0:
                saved_env, limiter = _blas_saved
                _blas_saved = None
                _take_blas_control()   # the last to leave may not be the thread that set the limit
                limiter.restore_original_limits()
                _take_blas_control()   # and let whichever thread comes next set it again
                for name, value in saved_env.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


def execute_run(observe, params: dict, seed: np.random.SeedSequence) -> tuple[dict, float]:
    """Run one observation in a worker: ``(observed as float64 arrays, wall seconds)``.

    The observation runs under :func:`one_blas_thread` on every executor (inline, process pool,
    Dask), so its floating-point result does not depend on where it ran.
    """
    with one_blas_thread():
        start = time.perf_counter()
        raw = observe(dict(params), seed)
        seconds = time.perf_counter() - start
    return _as_observed(raw, getattr(observe, "__qualname__", observe)), seconds


def _as_observed(raw, producer) -> dict:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{producer} must return a non-empty dict of arrays, got {type(raw).__name__}")
    return {str(k): np.asarray(v, dtype=np.float64) for k, v in raw.items()}


class InlineExecutor(cf.Executor):
    """Executor running every task at submission, in the calling process (``--workers 1``)."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 -- delivered through the future, like a pool
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def _single_threaded_blas() -> None:
    # One BLAS thread per worker process for its whole life (execute_run also limits each
    # observation): the pool already uses every core, and nested BLAS threads on small products
    # oversubscribe them (measured 15-50x slower on 2 cores).
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


@contextlib.contextmanager
def make_executor(workers: int | None = None, scheduler: str | None = None):
    """Executor for a sweep: Dask (``scheduler`` address), inline (``workers <= 1``) or processes.

    Parameters
    ----------
    workers : int or None
        Local worker processes; ``None`` means ``os.cpu_count()``.
    scheduler : str or None
        Address of a Dask distributed scheduler (``tcp://host:8786``); takes precedence.

    Raises
    ------
    SchedulerError
        Dask is not installed, or the scheduler does not answer within :data:`SCHEDULER_TIMEOUT`.
    ValueError
        ``workers`` is not an integer >= 1.
    """
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            raise SchedulerError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (ValueError, TypeError) as exc:
            raise SchedulerError(f"invalid Dask scheduler address {scheduler!r} ({exc}); expected e.g. "
                                 "tcp://host:8786") from None
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler} within {SCHEDULER_TIMEOUT:g} s "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})"
                                 ) from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    if workers is None:
        workers = multiprocessing.cpu_count()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        yield InlineExecutor()
        return
    # fork: workers inherit claim modules loaded from user paths (--claims-module), which a
    # spawned interpreter could not re-import by name.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                  initializer=_single_threaded_blas)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class ClaimResult:
    """Runs and verdict of one claim (``verdict`` is None when runs are missing)."""

    claim: Claim
    verdict: Verdict | None
    runs: dict = field(default_factory=dict)   # variant -> list[Run]
    missing: int = 0
    errors: dict = field(default_factory=dict)  # variant -> first error message
    code_version: str = ""
    corrupt: int = 0                             # corrupt stored runs found (recomputed if computing)


@dataclass
class SweepReport:
    """Outcome of :func:`run_claims`.

    ``n_runs`` counts the stored runs the sweep needs (claim and computed mutants); runs of
    derived mutants are counted apart in ``n_derived``. ``corrupt`` lists the
    :class:`~proofs_check.store.CorruptEntry` found (recomputed when computing).
    """

    results: list
    budget: str
    n_runs: int
    n_computed: int
    n_reused: int
    n_corrupt: int
    seconds: float
    n_derived: int = 0
    corrupt: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.verdict is not None and r.verdict.ok for r in self.results)


@dataclass(frozen=True)
class _Task:
    claim_index: int
    variant: str
    params: dict
    seed_index: int


def report_corrupt(entries: list, recompute: bool, file=None, limit: int = 20) -> None:
    """Default ``on_corrupt`` of :func:`run_claims`: how many, and which, on stderr."""
    file = sys.stderr if file is None else file
    fate = "will be recomputed and replaced" if recompute else "are treated as missing (not deleted)"
    print(f"proofs-check: {len(entries)} corrupt stored run(s) found; they {fate}:", file=file)
    for entry in entries[:limit]:
        print(f"  {describe_key(entry.key)}: {entry.reason}", file=file)
    if len(entries) > limit:
        print(f"  ... and {len(entries) - limit} more", file=file)


def run_claims(claims: Sequence[Claim], *, store: ResultStore, budget: str = "quick",
               executor: cf.Executor | None = None, progress: bool = False,
               compute: bool = True, on_corrupt=None, power: bool = True) -> SweepReport:
    """Sweep every claim and mutant, reusing stored runs, and compute verdicts.

    Parameters
    ----------
    claims : sequence of Claim
    store : ResultStore
        Verdicts are stored too, unless the store is read-only.
    budget : {"quick", "full"}
    executor : concurrent.futures.Executor, optional
        Default: :class:`InlineExecutor`.
    progress : bool
        Show tqdm progress bars (stderr): the runs to compute (with the claim of the latest run),
        then the verdicts (one step per claim judged).
    compute : bool
        ``False``: only read the store (``proofs-check report``); claims with missing runs get
        ``verdict=None``.
    on_corrupt : callable, optional
        ``on_corrupt(entries, recompute)`` called once, before anything is computed, with the
        list of :class:`~proofs_check.store.CorruptEntry` found; default :func:`report_corrupt`
        (stderr). Corrupt runs are never used.
    power : bool
        Estimate each verdict's power (:func:`judge`); ``False`` skips it (mutation testing).

    Returns
    -------
    SweepReport
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    executor = executor if executor is not None else InlineExecutor()
    versions = [code_version(c) for c in claims]
    results = [ClaimResult(c, None, {v: [] for v, _ in c.variants()}, code_version=cv)
               for c, cv in zip(claims, versions)]
    tasks: list[_Task] = []
    corrupt: list[CorruptEntry] = []
    n_reused = 0
    for ci, claim in enumerate(claims):
        points = claim.sweep.grid(budget).points()
        for variant, _ in claim.computed_variants():
            for params in points:
                for s in range(claim.sweep.n_seeds(budget)):
                    key = (claim.id, variant, params_key(params), s, versions[ci])
                    try:
                        hit = store.get(*key)
                    except CorruptEntry as entry:
                        corrupt.append(entry)
                        results[ci].corrupt += 1
                        hit = None
                    if hit is None:
                        tasks.append(_Task(ci, variant, params, s))
                    else:
                        results[ci].runs[variant].append(Run(variant, params, s, hit[0], hit[1]))
                        n_reused += 1
    if corrupt:   # said before anything is recomputed
        (on_corrupt or report_corrupt)(corrupt, compute)
    n_computed = 0
    if compute and tasks:
        n_computed = _compute(tasks, claims, versions, results, store, executor, progress)
    n_derived = sum(_derive_mutant_runs(res) for res in results)
    bar = tqdm(total=len(results), desc="verdicts", unit="claim", disable=not progress, file=sys.stderr)
    try:
        for ci, res in enumerate(results):
            bar.set_postfix_str(res.claim.id, refresh=False)
            res.missing = sum(1 for t in tasks if t.claim_index == ci) if not compute else 0
            if res.missing == 0:
                res.verdict = judge(res.claim, res.runs, budget, res.errors, power=power)
                if not store.readonly:
                    store.put_verdict(res.verdict, versions[ci])
            bar.update(1)
    finally:
        bar.close()
    return SweepReport(results, budget, n_reused + len(tasks), n_computed, n_reused, len(corrupt),
                       time.perf_counter() - start, n_derived, corrupt)


def _derive_mutant_runs(res: ClaimResult) -> int:
    """Fill the runs of ``res``'s derived mutants from its claim runs; returns how many were derived."""
    n = 0
    for m in res.claim.mutants:
        if m.derive is None:
            continue
        runs = []
        for run in res.runs["claim"]:
            # A copy: a derive that writes into its input must not alter the claim's observations.
            observed = {k: v.copy() for k, v in run.observed.items()}
            try:
                derived = _as_observed(m.derive(observed), f"mutant {m.name!r}: derive")
            except Exception as exc:   # noqa: BLE001 -- reported in the verdict, like a crashing observe
                res.errors.setdefault(m.name, f"derive raised {type(exc).__name__}: {exc}")
                break
            runs.append(Run(m.name, run.params, run.seed_index, derived, 0.0))
        else:
            if "claim" in res.errors:   # the claim runs it derives from are incomplete
                res.errors.setdefault(m.name, f"derived from the claim's runs, whose observe raised "
                                              f"{res.errors['claim']}")
        res.runs[m.name] = runs
        n += len(runs)
    return n


def _compute(tasks, claims, versions, results, store, executor, progress) -> int:
    from tqdm.auto import tqdm

    observers = [dict(c.computed_variants()) for c in claims]
    futures: dict = {}
    collected: set = set()
    bar = tqdm(total=len(tasks), desc="runs", unit="run", disable=not progress, file=sys.stderr)
    done = 0

    def collect(fut) -> None:
        nonlocal done
        collected.add(fut)
        task = futures[fut]
        res = results[task.claim_index]
        exc = fut.exception()
        if exc is not None:
            if not isinstance(exc, Exception):   # KeyboardInterrupt / SystemExit delivered by a worker
                raise exc
            # A crashing observe is a finding (the verdict says so), not a crash of the sweep.
            res.errors.setdefault(task.variant, f"{type(exc).__name__}: {exc}")
        else:
            observed, seconds = fut.result()
            store.put(res.claim.id, task.variant, params_key(task.params), task.seed_index,
                      versions[task.claim_index], observed, seconds)
            res.runs[task.variant].append(Run(task.variant, task.params, task.seed_index, observed, seconds))
            done += 1
        bar.set_postfix_str(res.claim.id, refresh=False)
        bar.update(1)

    def submit(task):
        claim = claims[task.claim_index]
        seed = derive_seed(claim.id, claim.sweep.seed_params(task.params), task.seed_index)
        fut = executor.submit(execute_run, observers[task.claim_index][task.variant], task.params, seed)
        futures[fut] = task
        if fut.done():   # inline executor: persist at once, not after the whole sweep
            collect(fut)
        return fut

    # Lead runs first: the first run of each (claim, variant) is where numba compiles (or loads
    # from its cache) the kernels it needs. While it runs, no other lead of its claims family
    # (which shares its kernels) starts, so each kernel is compiled once, into the cache, and the
    # group's other runs follow the lead. Started together on every worker, the same kernels were
    # compiled by each (measured: ~28 of 51 core-seconds of a cold quick suite of 24 claims on 2
    # workers). A run's seed is its own, so the order changes no result. Local process pools
    # only; other executors get every run at once.
    workers = getattr(executor, "_max_workers", None) if isinstance(executor, cf.ProcessPoolExecutor) else None
    capacity = 2 * workers if workers else len(tasks)
    groups: dict = {}
    for task in tasks:
        groups.setdefault((task.claim_index, task.variant), []).append(task)
    leads = [group[0] for group in groups.values()]
    followers = {(group[0].claim_index, group[0].variant): group[1:] for group in groups.values()}
    ready: list = []
    in_flight: set = set()
    leads_running: dict = {}   # future -> family

    def family(task) -> str:
        return claims[task.claim_index].id.split(".")[0]

    def next_lead():
        if workers is None:
            return 0 if leads else None
        busy = set(leads_running.values())
        return next((i for i, t in enumerate(leads) if family(t) not in busy), None)

    def finished(fut) -> None:
        if leads_running.pop(fut, None) is not None:
            task = futures[fut]
            ready.extend(followers.pop((task.claim_index, task.variant)))

    try:
        while leads or ready or in_flight:
            while len(in_flight) < capacity:
                i = next_lead()
                if i is not None:
                    task = leads.pop(i)
                    fut = submit(task)
                    leads_running[fut] = family(task)
                elif ready:
                    fut = submit(ready.pop(0))
                else:
                    break
                if fut in collected:   # inline executor: done and collected at submission
                    finished(fut)
                else:
                    in_flight.add(fut)
            if in_flight:
                done_now, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for fut in done_now:
                    in_flight.discard(fut)
                    collect(fut)
                    finished(fut)
    except BaseException:
        # Interrupted (Ctrl-C): keep every run that already finished, drop the rest.
        for fut in futures:
            fut.cancel()
        for fut in list(futures):
            if fut not in collected and fut.done() and not fut.cancelled() and fut.exception() is None:
                collect(fut)
        raise
    finally:
        bar.close()
    return done


def rule_seed(claim_id: str, variant: str) -> np.random.SeedSequence:
    """Seed of the rule's resampling (bootstrap) for one variant: fixed, so verdicts are reproducible."""
    return derive_seed(claim_id, {"rule": variant}, 0)


def _same_observations(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def runs_identical_to_claim(runs: dict, variant: str) -> bool:
    """True if ``variant`` has runs and each equals the claim's run at the same point and seed.

    Such a mutant recomputes the claim's own experiment: it cannot be caught, and if it is meant
    to alter the claim's outputs it should be a derived mutant (``Mutant(..., derive=fn)``).
    """
    own = {(params_key(r.params), r.seed_index): r.observed for r in runs.get("claim", [])}
    theirs = runs.get(variant, [])
    return bool(theirs) and len(theirs) == len(own) and all(
        _same_observations(r.observed, own.get((params_key(r.params), r.seed_index), {})) for r in theirs)


def judge(claim: Claim, runs: dict, budget: str, errors: dict | None = None, *, power: bool = True) -> Verdict:
    """Apply the claim's rule to its own runs and to every mutant's runs, and check a pinned
    finding (:class:`~proofs_check.claim.Finding`) against its band for ``budget``.

    With ``power`` (default), also estimate by a bootstrap over seeds how likely each outcome is
    to come out as it did (:attr:`Verdict.power`, :mod:`proofs_check.power`); it never changes
    the verdict. ``power=False`` skips it (e.g. mutation testing, where only the verdict counts).
    """
    errors = errors or {}
    notes = []
    outcomes = {}

    def outcome(variant):
        if variant in errors:
            return None
        try:
            outcomes[variant] = claim.rule.evaluate(runs[variant], claim.bound, seed=rule_seed(claim.id, variant))
            return outcomes[variant]
        except ValueError as exc:   # e.g. a misspelt observed key: say which claim and variant
            which = "the claim itself" if variant == "claim" else f"mutant {variant!r}"
            raise ValueError(f"claim {claim.id} ({which}): {exc}") from exc

    own = outcome("claim")
    if own is None:
        passed, summary, numbers = False, f"observe raised {errors['claim']}", {}
        notes.append("the claim's observe function raised; see summary")
    else:
        passed, summary, numbers = own.passed, own.summary, own.numbers
    mutants = []
    for m in claim.mutants:
        out = outcome(m.name)
        if out is None:
            error = errors[m.name] if m.derive is not None else f"observe raised {errors[m.name]}"
            mutants.append(MutantVerdict(m.name, False, error, m.why, {}))
        else:
            mutants.append(MutantVerdict(m.name, out.passed is False, out.summary, m.why, _jsonable(out.numbers),
                                         undecided=out.passed is None))
            if out.passed is None:
                notes.append(f"mutant {m.name}: {out.summary} (an undecided mutant is not caught)")
        if m.derive is None and runs_identical_to_claim(runs, m.name):
            notes.append(f"mutant {m.name}: every run is identical to the claim's (it recomputes the "
                         "claim's experiment and cannot be caught)")
    verdict = Verdict(claim_id=claim.id, passed=None if passed is None else bool(passed), summary=summary,
                      numbers=_jsonable(numbers), n_runs=len(runs["claim"]), seeds=claim.sweep.n_seeds(budget),
                      budget=budget, mutants=tuple(mutants), notes=tuple(notes), finding=str(claim.finding))
    if power:
        verdict = _with_power(claim, runs, outcomes, verdict)
    if not claim.finding:
        return verdict
    if not isinstance(claim.finding, Finding):
        return replace(verdict, notes=verdict.notes + (
            "unpinned finding (a plain string): it 'reproduces' whenever the check does not pass cleanly; "
            "pin its statistic with proofs_check.claim.Finding to detect a finding that changes",))
    return replace(verdict, finding_check=finding_check(claim.finding, verdict, budget))


def _with_power(claim: Claim, runs: dict, outcomes: dict, verdict: Verdict) -> Verdict:
    """``verdict`` with its :attr:`~proofs_check.claim.Verdict.power` and a note per weak mutant."""
    from .power import WEAK_POWER, outcome_probabilities, power_entry

    entries, failures = {}, []
    for variant, outcome in outcomes.items():
        try:
            probabilities = outcome_probabilities(claim.rule, runs[variant], claim.bound,
                                                  seed=derive_seed(claim.id, {"power": variant}, 0))
        except Exception as exc:   # noqa: BLE001 -- an estimate that fails must not cost the verdict
            failures.append(f"power of {variant} not estimated ({type(exc).__name__}: {exc})")
            probabilities = None
        entries[variant] = power_entry(outcome.passed, probabilities, mutant=variant != "claim")
    mutants = {m.name: entries[m.name] for m in claim.mutants if entries.get(m.name) is not None}
    weak = [name for name, entry in mutants.items() if entry["weak"]]
    notes = tuple(f"weak mutant {name}: caught in {mutants[name]['p_caught']:.0%} of {mutants[name]['resamples']} "
                  f"seed resamples (< {WEAK_POWER:.0%}): raise seeds or sharpen the rule" for name in weak)
    return replace(verdict, power={"claim": entries.get("claim"), "mutants": mutants, "weak_mutants": weak},
                   notes=verdict.notes + notes + tuple(failures))


def finding_check(finding: Finding, verdict: Verdict, budget: str) -> dict:
    """Does ``finding`` reproduce in ``verdict``? Its statistic must lie in the ``budget`` band and
    the verdict must be of the expected kind (FAIL, or MUTANT NOT CAUGHT: the claim passes and
    some mutant is not caught)."""
    pin = finding.pins[budget]
    value = finding.lookup({"claim": verdict.numbers, "mutant": {m.name: m.numbers for m in verdict.mutants}})
    inside = bool(np.isfinite(value) and pin.band[0] <= value <= pin.band[1])
    if verdict.passed is None:
        kind = "UNDECIDED"
    elif verdict.passed is False:
        kind = "FAIL"
    else:
        kind = "PASS" if verdict.all_mutants_caught else "MUTANT NOT CAUGHT"
    return {"statistic": finding.statistic, "value": value, "recorded": pin.recorded, "band": list(pin.band),
            "why": pin.why, "expect": finding.expect, "kind": kind, "inside": inside,
            "reproduces": inside and kind == finding.expect}


def _jsonable(x):
    """Plain-Python copy of rule numbers (numpy scalars -> float/int) for JSON storage."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def select_claims(all_claims: dict, ids: Iterable[str]) -> list[Claim]:
    """Claims by id (exact id or a ``family.`` / family prefix); all if ``ids`` is empty.

    Raises
    ------
    ValueError
        If an entry of ``ids`` matches no claim; the message suggests close ids and lists the
        families in registration order (the order of ``proofs-check list``).
    """
    ids = list(ids)
    if not ids:
        return list(all_claims.values())
    chosen = []
    for wanted in ids:
        match = [c for cid, c in all_claims.items()
                 if cid == wanted or cid.startswith(wanted.rstrip(".") + ".")]
        if not match:
            families = list(dict.fromkeys(cid.split(".", 1)[0] for cid in all_claims))
            close = difflib.get_close_matches(wanted, list(all_claims) if "." in wanted else families, n=3)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise ValueError(f"no claim matches {wanted!r}; {hint}families: {', '.join(families)} "
                             "(`proofs-check list` shows every claim id)")
        chosen.extend(c for c in match if c not in chosen)
    return chosen
