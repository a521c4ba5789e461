"""Report: ``report.md`` and ``report.html`` over every loaded claim with stored runs, one figure each.

:func:`build_report` reads the store, never the sweep that just ran: running one family updates
that family's sections and leaves the others as the store has them. Per claim and budget it
decides which stored runs to show:

``current``
    Every run of the claim and its mutants is stored for the claim's current code version.
``stale``
    The current code has no complete set of runs, but an older code version has: its verdict is
    shown, marked stale (rerun the claim to refresh it).
``incomplete``
    Some runs of the current code are stored, others are missing or corrupt: no verdict.
``not run``
    Nothing stored for this budget: listed, no section.

Verdicts and figures are cached per claim under ``<out>/.cache/report-<budget>/`` by a content
hash of what they depend on: the claim's declaration and the source of the modules defining its
observe and bound functions, the code version and checksums of the runs shown, and the source of
the modules that turn runs into verdicts and figures. Regenerating an unchanged report therefore
reads only the store's index (no payloads), and a family run redraws only that family's figures.

Every file (figures, cache entries, ``report.md``, ``report.html``) is written to a temporary file
in its directory and renamed over the old one, so a report interrupted at any moment (even by
``kill -9``) leaves each file either complete and old or complete and new. Figures are written
before the report files that reference them.

A failing claim is reported as a finding with its evidence (the rule's summary and numbers),
never hidden; a mutant that is not caught is reported the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import html
import inspect
import json
import multiprocessing
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .claim import Run, Verdict, params_key
from .store import CorruptEntry

#: Modules whose source decides a verdict or figure from stored runs (part of every cache key).
_RENDERING_MODULES = ("rules.py", "figures.py", "report.py", "claim.py", "runner.py", "power.py")
_PACKAGE_DIR = Path(__file__).resolve().parent
_CACHE_FORMAT = "proofs_check report cache 1"

#: Verdict kinds and their colours (HTML) -- one place, so table, headline and sections agree.
KIND_COLOURS = {"pass": "#1a7f37", "documented": "#b35900", "fail": "#c62828", "undecided": "#6e7781",
                "changed": "#c62828", "none": "#6e7781"}
KIND_NAMES = {"pass": "pass", "documented": "documented (the finding reproduces)",
              "fail": "fail or need review", "undecided": "undecided (the runs cannot decide)",
              "changed": "finding changed (a pinned statistic left its band)", "none": "no verdict"}


@dataclass
class ReportEntry:
    """What the report shows for one loaded claim.

    Attributes
    ----------
    claim : Claim
    status : {"current", "stale", "incomplete", "not run", "error"}
    verdict : Verdict or None
        ``None`` unless status is ``current`` or ``stale``.
    n_runs : int
        Stored runs behind the verdict (claim and mutants); for ``incomplete``, the runs present.
    expected : int
        Runs of one complete sweep of this budget (claim and mutants).
    missing : int
        Runs the current code still lacks (``proofs-check run`` computes them).
    runs_version : str
        Code version of the runs shown.
    figure : str or None
        Figure path relative to the output directory.
    note : str
        Why the entry is stale, incomplete or in error.
    """

    claim: object
    status: str
    verdict: Verdict | None
    n_runs: int
    expected: int
    missing: int
    runs_version: str
    figure: str | None = None
    note: str = ""

    @property
    def kind(self) -> str:
        return verdict_kind(self.verdict)

    @property
    def anchor(self) -> str:
        return self.claim.id


def verdict_kind(verdict: Verdict | None) -> str:
    """``pass``, ``documented`` (a documented finding that reproduces), ``fail``, ``undecided``,
    ``changed`` (FINDING CHANGED) or ``none``."""
    if verdict is None:
        return "none"
    if verdict.label.upper().startswith("UNDECIDED"):
        return "undecided"
    if verdict.label == "FINDING CHANGED":
        return "changed"
    if verdict.ok:
        return "documented" if verdict.finding else "pass"
    return "fail"


# ---------------------------------------------------------------------------------------- entry point
def build_report(claims, store, out_dir, budget: str, *, progress=None, results=None,
                 workers: int | None = None) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and one figure per claim with stored runs.

    Parameters
    ----------
    claims : dict of str -> Claim, or sequence of Claim
        Every loaded claim, in the order of the report.
    store : proofs_check.store.ResultStore
        Read only (a read-only store is enough).
    out_dir : str or Path
        Where ``report.md``, ``report.html``, ``figures/`` and ``.cache/`` go.
    budget : {"quick", "full"}
    progress : callable, optional
        ``progress(claim_id)``, called once per claim when it is done.
    results : sequence of proofs_check.runner.ClaimResult, optional
        Verdicts and runs a sweep just computed (``proofs-check run``): used for those claims
        instead of re-reading the store when they are complete for the current code; a claim
        whose observe raised is shown with the sweep's verdict (its failed runs are not stored).
    workers : int, optional
        Processes drawing the figures to redraw (forked; default: the CPU count, at most 8).
        ``1`` draws in this process.

    Returns
    -------
    (Path, Path)
        Paths of ``report.md`` and ``report.html``.
    """
    claim_list = list(claims.values()) if isinstance(claims, dict) else list(claims)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_temporaries(out)
    fresh = {r.claim.id: r for r in (results or ()) if r.verdict is not None}
    rendering = _rendering_source_hash()
    entries = []
    # progress() follows the report's order: a claim is announced once it and every claim before
    # it are done (figures may finish in any order in the drawing processes).
    finished, announced = set(), [0]

    def done(claim_id):
        finished.add(claim_id)
        while announced[0] < len(claim_list) and claim_list[announced[0]].id in finished:
            if progress is not None:
                progress(claim_list[announced[0]].id)
            announced[0] += 1

    # Figures are drawn in forked processes while this one judges the next claims.
    with _FigureDrawing(claim_list, out, workers, done) as drawing:
        for claim in claim_list:
            entry, job = _entry(claim, store, out, budget, rendering, fresh.get(claim.id))
            entries.append(entry)
            if job is None:
                done(claim.id)
            else:
                drawing.submit(job)
    done(None)   # claims after the last figure
    md_path, html_path = out / "report.md", out / "report.html"
    atomic_write(md_path, _markdown(entries, budget))
    atomic_write(html_path, _html(entries, budget))
    return md_path, html_path


def stored_claims(claims, store, budget: str) -> list[str]:
    """Ids among ``claims`` with at least one stored run of this budget's grid (any code version)."""
    claim_list = list(claims.values()) if isinstance(claims, dict) else list(claims)
    return [c.id for c in claim_list if _stored_for_budget(c, _run_index(store, c.id), budget)]


def write_report(sweep, out_dir, claims=None, *, progress=None) -> tuple[Path, Path]:
    """The report after a sweep (``proofs-check run``): :func:`build_report` over ``claims``.

    Parameters
    ----------
    sweep : proofs_check.runner.SweepReport
        Its verdicts and runs are used for the claims it swept (see ``results`` of build_report).
    out_dir : str or Path
        The results directory of the sweep; its store is opened read-only.
    claims : dict or sequence of Claim, optional
        Every loaded claim (default: only the swept ones).
    progress : callable, optional
        ``progress(claim_id)``, once per claim.
    """
    from .store import ResultStore

    claim_list = claims if claims is not None else [r.claim for r in sweep.results]
    with ResultStore(out_dir, readonly=True) as store:
        return build_report(claim_list, store, out_dir, sweep.budget, progress=progress,
                            results=sweep.results)


# ---------------------------------------------------------------------------------------- per claim
def _run_index(store, claim_id: str) -> list[tuple]:
    """``(variant, params, seed_index, code_version, checksum, finished_at)`` of every stored run.

    Checksums only, no payloads: enough to decide freshness and the cache key.
    """
    return list(store.run_index(claim_id))


def _stored_variants(claim) -> list[str]:
    """Variants whose runs are stored: the claim and its computed mutants (derived ones are not)."""
    computed = getattr(claim, "computed_variants", None)
    return [v for v, _ in (computed() if computed is not None else claim.variants())]


def _expected_keys(claim, budget: str) -> set:
    points = [params_key(p) for p in claim.sweep.grid(budget).points()]
    seeds = range(claim.sweep.n_seeds(budget))
    return {(variant, p, s) for variant in _stored_variants(claim) for p in points for s in seeds}


def _stored_for_budget(claim, index, budget) -> bool:
    expected = _expected_keys(claim, budget)
    return any((v, p, s) in expected for v, p, s, *_ in index)


def _choose_runs(claim, index, budget, current_version):
    """Status, code version and ``{key: checksum}`` of the runs to show (see the module docstring)."""
    expected = _expected_keys(claim, budget)
    by_version: dict = {}
    latest: dict = {}
    for variant, params, seed, version, digest, finished in index:
        key = (variant, params, int(seed))
        if key in expected:
            by_version.setdefault(version, {})[key] = digest
            latest[version] = max(latest.get(version, 0.0), float(finished))
    have_current = by_version.get(current_version, {})
    missing = len(expected) - len(have_current)
    if missing == 0:
        return "current", current_version, have_current, 0, len(expected)
    complete_old = [v for v, keys in by_version.items() if v != current_version and len(keys) == len(expected)]
    if complete_old:
        version = max(complete_old, key=lambda v: latest[v])
        return "stale", version, by_version[version], missing, len(expected)
    if have_current:
        return "incomplete", current_version, have_current, missing, len(expected)
    return "not run", current_version, {}, missing, len(expected)


@dataclass
class _FigureJob:
    """A figure to (re)draw, and the cache entry to write once it is drawn."""

    entry: ReportEntry
    runs: dict
    cache_path: Path
    key: str


def _entry(claim, store, out, budget, rendering, fresh):
    """``(ReportEntry, _FigureJob or None)`` of one claim: cached, or judged with its figure to draw."""
    from .runner import code_version, judge

    current = code_version(claim)
    status, version, digests, missing, expected = _choose_runs(claim, _run_index(store, claim.id), budget,
                                                               current)
    rerun = f"`proofs-check run {claim.id}{' --full' if budget == 'full' else ''}`"
    if fresh is not None and fresh.errors:
        # The sweep just judged this claim for the current code, but the runs whose observe raised
        # are not stored: show the sweep's verdict (it says which variant raised).
        status, version, digests = "current", current, None
    elif fresh is not None and status != "current":
        fresh = None
    if status == "not run":
        return ReportEntry(claim, status, None, 0, expected, missing, version), None
    if status == "incomplete":
        return ReportEntry(claim, status, None, len(digests), expected, missing, version,
                           note=f"{missing} of {expected} runs missing for the current code: run {rerun} "
                                "to compute them"), None
    note = (f"stored runs are for older code (version {version}); the current code ({current}) lacks "
            f"{missing} of {expected} runs: run {rerun} to refresh" if status == "stale" else "")
    if fresh is not None and fresh.errors:
        note = f"observe raised in some runs ({', '.join(sorted(fresh.errors))}); they are not stored"
    figure = f"figures/{claim.id}.png"
    cache_path = out / ".cache" / f"report-{budget}" / f"{claim.id}.json"
    key = _cache_key(claim, budget, status, version, current, digests, rendering, fresh)
    cached = _read_cache(cache_path, key, out / figure)
    if cached is not None:
        return ReportEntry(claim, status, Verdict.from_json(cached["verdict"]), cached["n_runs"], expected,
                           missing, version, figure, note), None
    if fresh is not None:
        runs, verdict = fresh.runs, fresh.verdict
    else:
        runs, corrupt = _load_runs(claim, store, digests, version)
        if corrupt:
            return ReportEntry(claim, "incomplete", None, len(digests) - len(corrupt), expected,
                               missing + (len(corrupt) if status == "current" else 0), version,
                               note=f"{len(corrupt)} stored runs are corrupt (checksum or encoding): run "
                                    f"{rerun} to recompute them"), None
        errors = _derive(claim, runs)
        try:
            verdict = judge(claim, runs, budget, errors)
        except ValueError as exc:
            return ReportEntry(claim, "error", None, len(digests), expected, missing, version,
                               note=f"the rule cannot judge the stored runs: {exc}"), None
    n_runs = sum(len(v) for v in runs.values())
    entry = ReportEntry(claim, status, verdict, n_runs, expected, missing, version, figure, note)
    return entry, _FigureJob(entry, runs, cache_path, key)


def _derive(claim, runs) -> dict:
    """Fill derived mutants' runs from the claim's (they are not stored); errors by variant."""
    from . import runner

    derive = getattr(runner, "_derive_mutant_runs", None)
    if derive is None:
        return {}
    result = runner.ClaimResult(claim, None, runs)
    derive(result)
    return dict(result.errors)


def _load_runs(claim, store, digests, version):
    runs = {variant: [] for variant, _ in claim.variants()}
    corrupt = []
    for (variant, params, seed) in sorted(digests):
        try:
            hit = store.get(claim.id, variant, params, seed, version)
        except CorruptEntry:
            corrupt.append((variant, params, seed))
            continue
        if hit is None:   # deleted since the index was read
            corrupt.append((variant, params, seed))
            continue
        runs[variant].append(Run(variant, json.loads(params), seed, hit[0], hit[1]))
    return runs, corrupt


def _draw(job: _FigureJob, out: Path) -> None:
    e = job.entry
    _plot(e.claim, e.verdict, e.status, e.runs_version, job.runs, e.figure, out)


def _plot(claim, verdict, status: str, runs_version: str, runs: dict, figure: str, out) -> None:
    from .figures import plot_claim   # matplotlib only when a figure is (re)drawn
    from .runner import ClaimResult

    plot_claim(ClaimResult(claim, verdict, runs, code_version=runs_version), Path(out) / figure,
               stale=(status == "stale"))


#: The claims of the running build_report, inherited by forked drawing processes (claims hold
#: lambdas, which do not pickle): a job is sent as the claim's index and its plain data.
_CLAIMS: list = []


def _draw_sent(index: int, *job_data) -> None:
    _plot(_CLAIMS[index], *job_data)


class _FigureDrawing:
    """Draws submitted figure jobs, in forked processes when ``workers`` > 1, and writes each cache
    entry once its figure is written; ``progress(claim_id)`` per figure, from the calling thread.

    The processes are forked at the first submission (a report with every figure cached starts
    none, and never imports matplotlib) and draw while the caller judges the next claims.
    """

    def __init__(self, claims, out: Path, workers, progress):
        self.index = {claim.id: i for i, claim in enumerate(claims)}
        self.claims, self.out, self.progress = list(claims), out, progress
        self.workers = min(os.cpu_count() or 1, 8) if workers is None else int(workers)
        if "fork" not in multiprocessing.get_all_start_methods():
            self.workers = 1
        self.pool, self.pending = None, {}

    def __enter__(self):
        return self

    def submit(self, job: _FigureJob) -> None:
        if self.workers <= 1:
            _draw(job, self.out)
            self._done(job)
            return
        if self.pool is None:
            global _CLAIMS
            from . import figures  # noqa: F401 -- imported once here, not in every drawing process

            _CLAIMS = self.claims
            self.pool = cf.ProcessPoolExecutor(max_workers=self.workers,
                                               mp_context=multiprocessing.get_context("fork"))
        e = job.entry
        future = self.pool.submit(_draw_sent, self.index[e.claim.id], e.verdict, e.status, e.runs_version,
                                  job.runs, e.figure, str(self.out))
        self.pending[future] = job
        self._collect(block=False)

    def _collect(self, block: bool) -> None:
        finished = (cf.as_completed(list(self.pending)) if block
                    else [f for f in list(self.pending) if f.done()])
        for future in finished:
            future.result()
            self._done(self.pending.pop(future))

    def _done(self, job: _FigureJob) -> None:
        _write_cache(job.cache_path, job.key, job.entry.verdict, job.entry.n_runs, self.out / job.entry.figure)
        self.progress(job.entry.claim.id)

    def __exit__(self, exc_type, exc, tb):
        global _CLAIMS
        try:
            if self.pool is not None and exc_type is None:
                self._collect(block=True)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            _CLAIMS = []
        return False


# ---------------------------------------------------------------------------------------- cache
_SOURCE_CACHE: dict = {}


def _file_bytes(path) -> bytes:
    path = str(path)
    if path not in _SOURCE_CACHE:
        try:
            _SOURCE_CACHE[path] = Path(path).read_bytes()
        except OSError:
            _SOURCE_CACHE[path] = b""
    return _SOURCE_CACHE[path]


def _rendering_source_hash() -> str:
    h = hashlib.sha256(_CACHE_FORMAT.encode())
    for name in _RENDERING_MODULES:
        h.update(name.encode())
        h.update(hashlib.sha256(Path(_PACKAGE_DIR / name).read_bytes()).digest())
    return h.hexdigest()


def _defining_sources(claim) -> bytes:
    """Source of the modules defining the claim's observe, mutants and bound (the bound's constants live there)."""
    paths = []
    functions = [claim.observe, claim.bound]
    for m in claim.mutants:
        functions += [getattr(m, "observe", None), getattr(m, "derive", None)]
    for fn in functions:
        if fn is None:
            continue
        module = inspect.getmodule(fn)
        path = getattr(module, "__file__", None)
        if path and path not in paths:
            paths.append(path)
    return b"".join(_file_bytes(p) for p in sorted(paths))


def _cache_key(claim, budget, status, version, current, digests, rendering, fresh) -> str:
    h = hashlib.sha256()
    declaration = [claim.id, claim.statement, claim.provenance.kind, claim.provenance.note,
                   claim.paper.cite(), claim.finding, claim.observed, repr(claim.rule),
                   [(m.name, m.why) for m in claim.mutants], repr(claim.sweep.grid(budget)),
                   claim.sweep.n_seeds(budget), budget, status, version, current, rendering,
                   # A fitted envelope table is data, not a function: key on its bands too.
                   repr(claim.bound) if type(claim.bound).__name__ == "EnvelopeTable" else ""]
    h.update(json.dumps(declaration, default=repr).encode())
    h.update(hashlib.sha256(_defining_sources(claim)).digest())
    if digests is not None:
        for k in sorted(digests):
            h.update(f"{k[0]}|{k[1]}|{k[2]}|{digests[k]}\n".encode())
    else:   # a sweep verdict with failed (unstored) runs: key on the verdict itself
        h.update(fresh.verdict.to_json().encode())
    return h.hexdigest()


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read_cache(cache_path: Path, key: str, figure: Path):
    try:
        cached = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or cached.get("key") != key:
        return None
    # The figure on disk must be the one drawn for this key (another budget may have redrawn it).
    if cached.get("figure_sha256") is None or _sha256_file(figure) != cached["figure_sha256"]:
        return None
    try:
        Verdict.from_json(cached["verdict"])
        int(cached["n_runs"])
    except (KeyError, TypeError, ValueError):
        return None
    return cached


def _write_cache(cache_path: Path, key: str, verdict: Verdict, n_runs: int, figure: Path) -> None:
    atomic_write(cache_path, json.dumps({"key": key, "verdict": verdict.to_json(), "n_runs": n_runs,
                                         "figure_sha256": _sha256_file(figure)}))


# ---------------------------------------------------------------------------------------- atomic files
_TMP_PATTERN = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]+\.tmp$")


def atomic_write(path, data) -> Path:
    """Write ``data`` (str or bytes) to ``path`` through a temporary file in the same directory.

    The rename is atomic on POSIX: a reader (or a process killed mid-write) sees the old file
    or the new one, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_orphaned_temporaries(out: Path) -> None:
    """Delete temporary files left by report writers killed mid-write (their process is gone)."""
    for directory in (out, out / "figures", *sorted((out / ".cache").glob("report-*"))):
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            m = _TMP_PATTERN.match(path.name)
            if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
                try:
                    path.unlink()
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------- text
def _label(e: ReportEntry) -> str:
    if e.status == "incomplete":
        return "INCOMPLETE"
    if e.status == "error":
        return "ERROR"
    if e.verdict is None:
        return "NOT RUN"
    return e.verdict.label + (" [stale]" if e.status == "stale" else "")


def _pin_text(v: Verdict) -> str:
    """A documented finding's pin: statistic now vs recorded and band (FINDING CHANGED when outside)."""
    c = v.finding_check
    if not c:
        return ("unpinned (a plain-string finding: it counts as reproduced whenever the check does not pass "
                "cleanly)")
    state = "reproduces" if c["reproduces"] else "CHANGED"
    return (f"{c['statistic']} = {c['value']:.4g}, recorded {c['recorded']:.4g}, band [{c['band'][0]:.4g}, "
            f"{c['band'][1]:.4g}] ({c['why']}); verdict kind {c['kind']}, expected {c['expect']}: {state}")


def _evidence(e: ReportEntry) -> str:
    if e.verdict is None:
        return e.note
    return e.verdict.summary


def _mutants_cell(e: ReportEntry) -> str:
    if e.verdict is None:
        return "-"
    return f"{sum(m.caught for m in e.verdict.mutants)}/{len(e.verdict.mutants)}"


def _headline(entries, budget) -> list[str]:
    """Lines of the summary at the top (plain text; the HTML colours them)."""
    shown = [e for e in entries if e.status != "not run"]
    kinds = Counter(e.kind for e in shown if e.verdict is not None)
    n_runs = sum(e.n_runs for e in shown)
    status = Counter(e.status for e in entries)
    parts = [f"{kinds[k]} {KIND_NAMES[k]}" for k in ("pass", "documented", "fail", "changed", "undecided")
             if kinds[k]]
    lines = [f"{len(shown)} claims with stored {budget} runs: " + (", ".join(parts) or "no verdicts") + "."]
    fresh = [f"{status['current']} for the current code"]
    if status["stale"]:
        fresh.append(f"{status['stale']} stale (runs for older code; rerun to refresh)")
    if status["incomplete"]:
        fresh.append(f"{status['incomplete']} incomplete")
    if status["error"]:
        fresh.append(f"{status['error']} that the rule cannot judge")
    lines.append("Code: " + ", ".join(fresh) + ".")
    missing = sum(e.missing for e in entries if e.status in ("incomplete",))
    not_run = [e.claim.id for e in entries if e.status == "not run"]
    runs = f"Runs: {n_runs} stored {budget} runs behind these verdicts (claims and mutants)"
    if missing or not_run:
        runs += (f"; {len(not_run)} loaded claims not run"
                 + (f", {missing} runs missing" if missing else "")
                 + " (missing: run `proofs-check run` to compute them)")
    lines.append(runs + ".")
    if not_run:
        lines.append(f"Not run ({budget} budget): " + ", ".join(not_run) + ".")
    return lines


#: How to read the verdicts and the power column (top of report.md and report.html).
LEGEND = (
    "How to read it: PASS -- the rule accepts the claim's runs and rejects every mutant's. FAIL -- it rejects "
    "the claim's runs; MUTANT NOT CAUGHT -- it accepts a mutant's. UNDECIDED -- the runs cannot decide: NaN or "
    "censored observations that could lie on either side of the bound, too few points or seeds, a degenerate "
    "statistic (a bootstrap CI of zero width, a quantity that does not move), a regression envelope not fitted "
    "for a point; a claim that passes while a mutant is undecided is UNDECIDED too. FAIL (documented) / MUTANT "
    "NOT CAUGHT (documented) -- a documented finding that reproduces: the verdict is of the recorded kind and its "
    "pinned statistic is inside its recorded band. FINDING CHANGED -- the pinned statistic left its band, or the "
    "verdict changed kind: a bug that makes a documented claim fail worse, or differently. Only PASS and a "
    "reproducing finding exit 0. A regression check (an Envelope rule) tests the implementation against bands "
    "fitted from its own correct full-budget runs, not a paper's statement. Power -- the fraction of 200 seed "
    "resamples (with replacement) on which the claim's outcome comes out as it did, and the least fraction on "
    "which a caught mutant is caught again; WEAK names a caught mutant caught in fewer than 95%: raise the seeds "
    "or sharpen the rule.")


def _numbers_json(v: Verdict) -> str:
    return json.dumps(v.numbers, indent=1, sort_keys=True, default=str)


def _mutant_numbers_json(v: Verdict) -> str:
    return json.dumps({m.name: m.numbers for m in v.mutants}, indent=1, sort_keys=True, default=str)


def power_of(v: Verdict, variant: str) -> dict | None:
    """The power entry of ``variant`` ("claim" or a mutant name) in ``v``, or None."""
    power = getattr(v, "power", None) or {}
    return power.get("claim") if variant == "claim" else (power.get("mutants") or {}).get(variant)


def power_text(entry: dict | None) -> str:
    """One phrase: how likely the outcome is to come out as it did (``proofs-check show``, the report)."""
    if not entry:
        return "power not estimated"
    what = {"pass": "passes", "fail": "fails", "undecided": "is undecided"}[entry["outcome"]]
    if "p_caught" in entry:
        what = {"pass": "is not caught", "fail": "is caught", "undecided": "is undecided"}[entry["outcome"]]
    text = f"{what} in {entry['p_as_observed']:.0%} of {entry['resamples']} seed resamples"
    if entry.get("weak"):
        text += " -- WEAK MUTANT: raise seeds or sharpen the rule"
    return text


def power_cell(v: Verdict | None) -> str:
    """Table cell: P(claim outcome as observed); the least P(caught) over the caught mutants, and weak ones."""
    if v is None or not getattr(v, "power", None):
        return "-"
    claim = v.power.get("claim")
    parts = [f"claim {claim['p_as_observed']:.2f}" if claim else "claim -"]
    caught = [(entry["p_caught"], name) for name, entry in v.power.get("mutants", {}).items()
              if entry and entry["outcome"] == "fail"]
    if caught:
        parts.append(f"mutants >= {min(caught)[0]:.2f}")
    weak = v.power.get("weak_mutants") or []
    if weak:
        parts.append("WEAK: " + ", ".join(weak))
    return "; ".join(parts)


def _provenance_cell(claim) -> str:
    """Provenance kind; a regression check (an Envelope rule) says so: it is not a paper claim."""
    kind = claim.provenance.kind
    return f"{kind}; regression check" if getattr(claim.rule, "regression", False) else kind


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(entries, budget) -> str:
    lines = [f"# proofs_check report ({budget} budget)", ""]
    lines += [f"{ln}  " for ln in _headline(entries, budget)]
    lines += ["", LEGEND]
    lines += ["", "| | claim | verdict | evidence | mutants caught | power | provenance |", "|---|---|---|---|---|---|---|"]
    shown = [e for e in entries if e.status != "not run"]
    for e in shown:
        cells = [f"[§](#{e.anchor})", e.claim.id, _label(e), _evidence(e), _mutants_cell(e), power_cell(e.verdict),
                 _provenance_cell(e.claim)]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    for e in shown:
        c, v = e.claim, e.verdict
        lines += ["", f'<a id="{e.anchor}"></a>', "", f"## {c.id}", "", f"**Paper:** {c.paper.cite()}  ",
                  f"**Statement:** {c.statement}  ",
                  f"**Provenance:** {c.provenance.kind} -- {c.provenance.note}  ",
                  f"**Rule:** {c.rule.describe()}  "]
        if e.note:
            lines.append(f"**{e.status.capitalize()}:** {e.note}  ")
        if v is None:
            lines.append("**Verdict:** none -- " + ("see above." if e.note else "no complete runs."))
            continue
        lines += [f"**Verdict:** {_label(e)} -- {v.summary} ({v.n_runs} runs, {v.seeds} seeds per point)  "]
        if v.power:
            lines.append(f"**Power:** the claim {power_text(power_of(v, 'claim'))}  ")
        if v.finding:
            lines.append(f"**Documented finding (the claim does not hold or cannot be falsified as stated):** "
                         f"{v.finding}  ")
            lines.append(f"**Pin:** {_pin_text(v)}  ")
        lines.append("")
        for m in v.mutants:
            power = f" (power: {power_text(power_of(v, m.name))})" if v.power else ""
            lines.append(f"- mutant `{m.name}`: {'caught' if m.caught else 'NOT CAUGHT'} -- {m.summary}{power}. "
                         f"*Bug:* {m.why}")
        for note in v.notes:
            lines.append(f"- note: {note}")
        if e.figure:
            lines += ["", f"![{c.id}]({e.figure})"]
        lines += ["", "<details><summary>numbers</summary>", "", "```json", _numbers_json(v), "```", "</details>",
                  "", "<details><summary>mutant numbers</summary>", "", "```json", _mutant_numbers_json(v), "```",
                  "</details>"]
    return "\n".join(lines) + "\n"


_CSS = ("body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "td.verdict{font-weight:bold;white-space:nowrap}"
        + "".join(f".k-{k}{{color:{c}}}tr.k-{k} td.verdict{{color:{c}}}"
                  f"tr.k-{k} td:first-child{{border-left:6px solid {c}}}" for k, c in KIND_COLOURS.items())
        + ".badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-weight:bold}"
        + "".join(f".b-{k}{{background:{c}}}" for k, c in KIND_COLOURS.items())
        + ".stale{font-style:italic;color:#6e7781}.caught{color:#1a7f37}.notcaught{color:#c62828;font-weight:bold}"
          ".notcaught-doc{color:#b35900;font-weight:bold}pre{background:#f6f8fa;padding:6px;overflow:auto;"
          "max-height:400px}details{margin:4px 0}.headline{background:#f6f8fa;padding:8px;border-radius:4px}")


def _html(entries, budget) -> str:
    esc = html.escape
    shown = [e for e in entries if e.status != "not run"]
    kinds = Counter(e.kind for e in shown if e.verdict is not None)
    badges = " ".join(f"<span class='badge b-{k}'>{kinds[k]} {esc(KIND_NAMES[k])}</span>"
                      for k in ("pass", "documented", "fail", "changed", "undecided") if kinds[k])
    headline = "<br>".join(esc(line) for line in _headline(entries, budget))
    rows = []
    for e in shown:
        stale = " <span class='stale'>(stale)</span>" if e.status == "stale" else ""
        rows.append(f"<tr class='k-{e.kind}'><td><a href='#{esc(e.anchor)}'>{esc(e.claim.id)}</a></td>"
                    f"<td class='verdict'>{esc(_label(e).replace(' [stale]', ''))}{stale}</td>"
                    f"<td>{esc(_evidence(e))}</td><td>{esc(_mutants_cell(e))}</td><td>{esc(power_cell(e.verdict))}</td>"
                    f"<td>{esc(_provenance_cell(e.claim))}</td></tr>")
    sections = []
    for e in shown:
        c, v = e.claim, e.verdict
        body = [f"<h2 id='{esc(e.anchor)}'><span class='badge b-{e.kind}'>{esc(_label(e))}</span> "
                f"{esc(c.id)}</h2>",
                f"<p><b>Paper:</b> {esc(c.paper.cite())}<br><b>Statement:</b> {esc(c.statement)}<br>"
                f"<b>Provenance:</b> {esc(c.provenance.kind)} &mdash; {esc(c.provenance.note)}<br>"
                f"<b>Rule:</b> {esc(c.rule.describe())}</p>"]
        if e.note:
            body.append(f"<p class='stale'><b>{esc(e.status.capitalize())}:</b> {esc(e.note)}</p>")
        if v is not None:
            body.append(f"<p><b>Verdict:</b> <span class='k-{e.kind}'><b>{esc(_label(e))}</b></span> &mdash; "
                        f"{esc(v.summary)} ({v.n_runs} runs, {v.seeds} seeds per point)</p>")
            if v.power:
                body.append(f"<p><b>Power:</b> the claim {esc(power_text(power_of(v, 'claim')))}</p>")
            if v.finding:
                body.append(f"<p><b>Documented finding (the claim does not hold or cannot be falsified as "
                            f"stated):</b> {esc(v.finding)}</p>")
                body.append(f"<p><b>Pin:</b> {esc(_pin_text(v))}</p>")
            body.append("<ul>")
            for m in v.mutants:
                cls = "caught" if m.caught else ("notcaught-doc" if v.finding and v.ok else "notcaught")
                word = "caught" if m.caught else ("NOT CAUGHT (documented)" if cls == "notcaught-doc" else "NOT CAUGHT")
                power = f" (power: {power_text(power_of(v, m.name))})" if v.power else ""
                body.append(f"<li>mutant <code>{esc(m.name)}</code>: <span class='{cls}'>{word}</span>"
                            f" &mdash; {esc(m.summary)}{esc(power)}. <i>Bug:</i> {esc(m.why)}</li>")
            for note in v.notes:
                body.append(f"<li>note: {esc(note)}</li>")
            body.append("</ul>")
            if e.figure:
                body.append(f"<img src='{esc(e.figure)}' alt='{esc(c.id)}' style='max-width:100%'>")
            body.append(f"<details><summary>numbers</summary><pre>{esc(_numbers_json(v))}</pre></details>"
                        f"<details><summary>mutant numbers</summary><pre>{esc(_mutant_numbers_json(v))}</pre>"
                        "</details>")
        body.append("<p><a href='#top'>back to the table</a></p>")
        sections.append("\n".join(body))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>proofs_check report ({esc(budget)})</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1 id='top'>proofs_check report ({esc(budget)} budget)</h1>"
            f"<div class='headline'><p>{badges}</p><p>{headline}</p></div><p class='legend'>{esc(LEGEND)}</p>"
            "<table><tr><th>claim</th><th>verdict</th><th>evidence</th><th>mutants caught</th><th>power</th>"
            f"<th>provenance</th></tr>{''.join(rows)}</table>{''.join(sections)}</body></html>\n")
