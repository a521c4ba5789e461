"""Runner: sweep claims and their mutants through any ``concurrent.futures.Executor``.

Every run is one call ``observe(params, seed)`` for a variant (the claim or a mutant), a
parameter point and a seed index. Its seed is a :class:`numpy.random.SeedSequence` whose spawn
key is derived from a hash of ``(claim id, parameter point, seed index)`` -- not from the order
of submission -- so results are bit-identical whatever executor, worker count or resume pattern
produced them. The claim and its mutants share the seed of a run (common random numbers: the
mutant sees the same instance as the claim).

Finished runs are written to the :class:`~proofs_check.store.ResultStore` as soon as they
complete; runs already in the store (same key and code version) are reused, corrupt ones are
deleted and recomputed.

Code version
------------
:func:`code_version` is the SHA-256 of the source of the module(s) defining the claim's
observe functions, every ``mdpkit/**/*.py`` file, and ``proofs_check/{claim,runner,store}.py``
(the files that decide what a run computes and how it is seeded and stored). Editing any of them
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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .claim import Claim, MutantVerdict, Run, Verdict, params_key
from .store import CorruptEntry, ResultStore

#: Root entropy shared by every run; the per-run spawn key is a hash of (claim, params, seed index).
ROOT_ENTROPY = 0x5EED_C1A1_2024

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_CORE_FILES = ("claim.py", "runner.py", "store.py")


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
    cache_key = (claim.id,) + tuple(id(fn) for fn in [claim.observe] + [m.observe for m in claim.mutants])
    if cache_key not in _VERSION_CACHE:
        _VERSION_CACHE[cache_key] = _hash_sources(claim)
    return _VERSION_CACHE[cache_key]


def _hash_sources(claim: Claim) -> str:
    h = hashlib.sha256()
    for fn in [claim.observe] + [m.observe for m in claim.mutants]:
        h.update(_module_source(fn))
    files = sorted((_PACKAGE_ROOT / "mdpkit").rglob("*.py"))
    files += [_PACKAGE_ROOT / "proofs_check" / name for name in _CORE_FILES]
    for path in files:
        h.update(str(path.relative_to(_PACKAGE_ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def execute_run(observe, params: dict, seed: np.random.SeedSequence) -> tuple[dict, float]:
    """Run one observation in a worker: ``(observed as float64 arrays, wall seconds)``."""
    start = time.perf_counter()
    raw = observe(dict(params), seed)
    seconds = time.perf_counter() - start
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{getattr(observe, '__qualname__', observe)} must return a non-empty dict of "
                         f"arrays, got {type(raw).__name__}")
    return {str(k): np.asarray(v, dtype=np.float64) for k, v in raw.items()}, seconds


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
    # One BLAS thread per worker process: the pool already uses every core, and nested
    # BLAS threads on small products oversubscribe them (measured 15-50x slower on 2 cores).
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
    """
    if scheduler is not None:
        from distributed import Client

        client = Client(scheduler)
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


@dataclass
class SweepReport:
    """Outcome of :func:`run_claims`."""

    results: list
    budget: str
    n_runs: int
    n_computed: int
    n_reused: int
    n_corrupt: int
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.verdict is not None and r.verdict.ok for r in self.results)


@dataclass(frozen=True)
class _Task:
    claim_index: int
    variant: str
    params: dict
    seed_index: int


def run_claims(claims: Sequence[Claim], *, store: ResultStore, budget: str = "quick",
               executor: cf.Executor | None = None, progress: bool = False,
               compute: bool = True) -> SweepReport:
    """Sweep every claim and mutant, reusing stored runs, and compute verdicts.

    Parameters
    ----------
    claims : sequence of Claim
    store : ResultStore
    budget : {"quick", "full"}
    executor : concurrent.futures.Executor, optional
        Default: :class:`InlineExecutor`.
    progress : bool
        Show a tqdm progress bar (stderr) over the runs to compute.
    compute : bool
        ``False``: only read the store (``proofs-check report``); claims with missing runs get
        ``verdict=None``.

    Returns
    -------
    SweepReport
    """
    start = time.perf_counter()
    executor = executor if executor is not None else InlineExecutor()
    versions = [code_version(c) for c in claims]
    results = [ClaimResult(c, None, {v: [] for v, _ in c.variants()}, code_version=cv)
               for c, cv in zip(claims, versions)]
    tasks: list[_Task] = []
    n_reused = n_corrupt = 0
    for ci, claim in enumerate(claims):
        points = claim.sweep.grid(budget).points()
        for variant, _ in claim.variants():
            for params in points:
                for s in range(claim.sweep.n_seeds(budget)):
                    key = (claim.id, variant, params_key(params), s, versions[ci])
                    try:
                        hit = store.get(*key)
                    except CorruptEntry:
                        store.delete(*key)
                        n_corrupt += 1
                        hit = None
                    if hit is None:
                        tasks.append(_Task(ci, variant, params, s))
                    else:
                        results[ci].runs[variant].append(Run(variant, params, s, hit[0], hit[1]))
                        n_reused += 1
    n_computed = 0
    if compute and tasks:
        n_computed = _compute(tasks, claims, versions, results, store, executor, progress)
    for ci, res in enumerate(results):
        res.missing = sum(1 for t in tasks if t.claim_index == ci) if not compute else 0
        if res.missing == 0:
            res.verdict = judge(res.claim, res.runs, budget, res.errors)
            store.put_verdict(res.verdict, versions[ci])
    return SweepReport(results, budget, n_reused + len(tasks), n_computed, n_reused, n_corrupt,
                       time.perf_counter() - start)


def _compute(tasks, claims, versions, results, store, executor, progress) -> int:
    from tqdm.auto import tqdm

    observers = [dict(c.variants()) for c in claims]
    futures: dict = {}
    collected: set = set()
    bar = tqdm(total=len(tasks), desc="proofs-check", unit="run", disable=not progress, file=sys.stderr)
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
        bar.update(1)

    try:
        for task in tasks:
            claim = claims[task.claim_index]
            seed = derive_seed(claim.id, claim.sweep.seed_params(task.params), task.seed_index)
            fut = executor.submit(execute_run, observers[task.claim_index][task.variant], task.params, seed)
            futures[fut] = task
            if fut.done():   # inline executor: persist at once, not after the whole sweep
                collect(fut)
        for fut in cf.as_completed([f for f in futures if f not in collected]):
            collect(fut)
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


def judge(claim: Claim, runs: dict, budget: str, errors: dict | None = None) -> Verdict:
    """Apply the claim's rule to its own runs and to every mutant's runs."""
    errors = errors or {}
    notes = []

    def outcome(variant):
        if variant in errors:
            return None
        try:
            return claim.rule.evaluate(runs[variant], claim.bound, seed=rule_seed(claim.id, variant))
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
            mutants.append(MutantVerdict(m.name, False, f"observe raised {errors[m.name]}", m.why, {}))
        else:
            mutants.append(MutantVerdict(m.name, not out.passed, out.summary, m.why, _jsonable(out.numbers)))
    return Verdict(claim_id=claim.id, passed=bool(passed), summary=summary, numbers=_jsonable(numbers),
                   n_runs=len(runs["claim"]), seeds=claim.sweep.n_seeds(budget), budget=budget,
                   mutants=tuple(mutants), notes=tuple(notes), finding=claim.finding)


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
