"""``proofs-check``: list, run, show and report claims.

Examples
--------
::

    proofs-check list
    proofs-check run                       # every claim, quick budget, all cores
    proofs-check run textbook --full --workers 2 --out paper_figs/textbook
    proofs-check run --scheduler tcp://127.0.0.1:8786
    proofs-check run my.claim --claims-module my_claims.py
    proofs-check show textbook.vi_contraction
    proofs-check show nash                 # every claim of a family
    proofs-check report --full
    proofs-check report my --claims-module my_claims.py
    proofs-check envelope stepmix.regret_envelope --store paper_figs/stepmix
    proofs-check mutate nash --sample 30   # mutation score of the family's claims

Your own claims are known only to commands given their module: pass the same
``--claims-module`` to ``show``, ``report`` and ``list`` as to ``run``.

``run`` exits with status 0 iff every selected claim passes and every mutant is caught (or
every documented finding reproduces), 1 otherwise -- in particular on ``UNDECIDED`` (the runs
cannot decide: NaN, censored or degenerate statistics) and ``FINDING CHANGED`` (a pinned
finding's statistic left its band, or its verdict changed kind). Every user error -- an unknown claim, a
``--out`` that is a file or cannot be created, an unreachable ``--scheduler``, a damaged store, a
store in use by another ``run`` -- is one line on stderr and exit status 2.
``report`` exits with status 2, writing nothing, when no selected claim has stored results.
``list``, ``show`` and ``report`` only read the store: they create no file in it (nor the
directory), and take no lock.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import textwrap
from pathlib import Path

from .claims import load_claims
from .report import write_report
from .runner import SchedulerError, make_executor, run_claims, select_claims
from .store import DB_NAME, CorruptEntry, ResultStore, StoreError, default_out_dir


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", default=None,
                        help="results directory (default ./proofs_check_results or $PROOFS_CHECK_OUT)")
    common.add_argument("--claims-module", action="append", default=[], metavar="MODULE",
                        help="extra claims module (dotted name or .py path defining CLAIMS); repeatable")
    parser = argparse.ArgumentParser(prog="proofs-check", description="Paper claims as falsifiable checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help="list claims with their last verdict")
    run = sub.add_parser("run", parents=[common], help="run claims and their mutants, then write the report")
    run.add_argument("ids", nargs="*", help="claim ids or families (default: all)")
    budget = run.add_mutually_exclusive_group()
    budget.add_argument("--quick", dest="budget", action="store_const", const="quick",
                        help="quick budget (default)")
    budget.add_argument("--full", dest="budget", action="store_const", const="full", help="full budget")
    run.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    run.add_argument("--scheduler", default=None, help="Dask distributed scheduler address")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    show = sub.add_parser("show", parents=[common], help="statement, provenance and evidence of claims")
    show.add_argument("ids", nargs="+", metavar="id", help="claim ids or families")
    report = sub.add_parser("report", parents=[common], help="write report.md/html from stored runs")
    report.add_argument("ids", nargs="*", help="claim ids or families (default: all)")
    report.add_argument("--full", dest="budget", action="store_const", const="full", default="quick",
                        help="report on the full budget (default quick)")
    envelope = sub.add_parser("envelope", parents=[common],
                              help="fit an Envelope claim's bands from stored full-budget runs; print them as Python")
    envelope.add_argument("id", help="the envelope claim (its rule is an Envelope)")
    envelope.add_argument("--store", default=None, help="results directory with the full-budget runs (default --out)")
    envelope.add_argument("--from", dest="source", default=None,
                          help="fit from the full-budget runs of this claim (same experiment; default: the claim)")
    envelope.add_argument("--margin", type=float, default=0.25,
                          help="widen the band's width by this fraction (default 0.25)")
    envelope.add_argument("--tail", type=float, default=0.001, help="quantile of each end (default 0.001)")
    envelope.add_argument("--resamples", type=int, default=20000, help="bootstrap resamples (default 20000)")
    from .mutate import add_mutate_parser   # stdlib only: `--help` stays cheap

    add_mutate_parser(sub, common)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "mutate":   # loads claims, writes and reports errors itself
        from .mutate import cli_main

        return cli_main(args)
    try:
        claims = load_claims(args.claims_module)
    except (ValueError, ImportError) as exc:
        print(f"proofs-check: cannot load claims: {exc}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else default_out_dir()
    try:
        return _dispatch(args, claims, out)
    except (StoreError, SchedulerError) as exc:   # user errors: one line, never a traceback
        print(f"proofs-check: {exc}", file=sys.stderr)
        return 2


def _dispatch(args, claims, out) -> int:
    if Path(out).exists() and not Path(out).is_dir():
        raise StoreError(f"--out {out} is a file, not a results directory")
    if args.command == "list":
        return _list(claims, out)
    if args.command == "envelope":
        return _envelope(args, claims, out)
    try:
        selected = select_claims(claims, args.ids)
    except ValueError as exc:
        print(f"proofs-check: {exc}", file=sys.stderr)
        _warn_unloaded(_unloaded(out, claims, args.ids), out)
        return 2
    if args.command == "show":
        return _show(selected, out)
    if args.command == "report":
        return _report(selected, claims, args, out)
    if not args.ids:
        _warn_unloaded(_unloaded(out, claims, ()), out, " and are left out of the report")
    return _run(selected, args, out)


def _unloaded(out, claims, ids) -> list[str]:
    """Ids of claims with runs in the store under ``out`` that are not loaded (matching ``ids``, if any)."""
    if not (Path(out) / DB_NAME).is_file():
        return []
    with ResultStore(out, readonly=True) as store:
        stored = store.claim_ids()
    prefixes = [i.rstrip(".") + "." for i in ids]
    return [cid for cid in stored if cid not in claims
            and (not ids or cid in ids or any(cid.startswith(p) for p in prefixes))]


def _warn_unloaded(unloaded, out, consequence="") -> None:
    if unloaded:
        print(f"proofs-check: the store under {out} has runs of claims that are not loaded{consequence}: "
              f"{', '.join(unloaded)}; pass the module defining them with --claims-module "
              "(e.g. --claims-module my_claims.py)", file=sys.stderr)


def _envelope(args, claims, out) -> int:
    from .envelope import fit_from_store

    store_dir = args.store if args.store is not None else out
    if not (Path(store_dir) / DB_NAME).is_file():
        print(f"proofs-check: no stored results under {store_dir}", file=sys.stderr)
        return 2
    try:
        claim = select_claims(claims, [args.id])
        source = select_claims(claims, [args.source]) if args.source else [None]
        if len(claim) != 1 or len(source) != 1:
            raise ValueError(f"envelope needs exactly one claim id, got {args.id!r} / {args.source!r}")
        with ResultStore(store_dir, readonly=True) as store:
            text, _ = fit_from_store(claim[0], store, source=source[0], n_resamples=args.resamples,
                                     tail=args.tail, margin=args.margin)
    except ValueError as exc:
        print(f"proofs-check: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


def _report(selected, claims, args, out) -> int:
    from .report import build_report, stored_claims

    if not (Path(out) / DB_NAME).is_file():
        print(f"proofs-check: no stored results under {out}; nothing to report (run `proofs-check run` "
              "first, or point --out at its results directory)", file=sys.stderr)
        return 2
    unloaded = _unloaded(out, claims, args.ids)
    with ResultStore(out, readonly=True) as store:
        if not stored_claims(selected, store, args.budget):
            other = any(store.count(c.id) for c in selected)
            why = " (their stored runs are for the other budget)" if other else ""
            print(f"proofs-check: none of the {len(selected)} selected claims has complete {args.budget} "
                  f"runs under {out}{why}; no report written", file=sys.stderr)
            _warn_unloaded(unloaded, out)
            if not unloaded:
                cmd = " ".join(["proofs-check run", *args.ids] + (["--full"] if args.budget == "full" else []))
                print(f"proofs-check: run `{cmd}` first", file=sys.stderr)
            return 2
        _warn_unloaded(unloaded, out, " and are left out of this report")
        # Every loaded claim with stored runs, whatever ids were given: the report is one file.
        md, html = build_report(claims, store, out, args.budget)
    print(f"report written to {md} and {html}")
    return 0


def _run(selected, args, out) -> int:
    budget = args.budget or "quick"
    try:
        # Store first: a bad --out fails at once, not after the scheduler timeout.
        with ResultStore(out) as store, make_executor(args.workers, args.scheduler) as executor:
            sweep = run_claims(selected, store=store, budget=budget, executor=executor,
                               progress=not args.no_progress)
    except KeyboardInterrupt:
        print("\nproofs-check: interrupted; finished runs are stored and will be reused", file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"proofs-check: {exc}", file=sys.stderr)
        return 2
    everything = load_claims(args.claims_module)
    with _progress_bar("report", len(everything), not args.no_progress) as progress:
        md, _ = write_report(sweep, out, everything, progress=progress)   # every loaded claim
    _print_verdicts(sweep)
    weak = [f"{r.verdict.claim_id}:{name}" for r in sweep.results
            for name in (r.verdict.power or {}).get("weak_mutants", [])]
    if weak:
        print(f"\n{len(weak)} weak mutant(s), caught in fewer than 95% of seed resamples (raise seeds or sharpen "
              f"the rule; `proofs-check show CLAIM`): {', '.join(weak)}")
    derived = f"; {sweep.n_derived} mutant runs derived from the claims' runs" if sweep.n_derived else ""
    print(f"\n{sweep.n_runs} runs ({budget}): {sweep.n_reused} reused from the store, {sweep.n_computed} "
          f"computed, {sweep.n_corrupt} corrupt entries recomputed{derived}; {sweep.seconds:.1f} s")
    print(f"report: {md}")
    failed = [r.verdict for r in sweep.results if not r.verdict.ok]
    findings = [r.verdict for r in sweep.results if r.verdict.finding]
    if failed:
        undecided = [v.claim_id for v in failed if v.undecided]
        changed = [v.claim_id for v in failed if v.finding_changed]
        other = [v.claim_id for v in failed if v.claim_id not in undecided + changed]
        parts = ([f"{len(other)} FAILED, have an uncaught mutant, or no longer reproduce their documented "
                  "finding: " + ", ".join(other)] if other else [])
        parts += [f"{len(undecided)} UNDECIDED (the runs cannot decide; see the reason): " + ", ".join(undecided)
                  ] if undecided else []
        parts += [f"{len(changed)} FINDING CHANGED (a pinned statistic left its band, or the verdict changed "
                  "kind): " + ", ".join(changed)
                  ] if changed else []
        print(f"{len(failed)} of {len(sweep.results)} claims are not as expected -- " + "; ".join(parts)
              + f" (details: proofs-check show {failed[0].claim_id})")
        return 1
    if findings:
        print(f"{len(sweep.results) - len(findings)} claims pass with every mutant caught; "
              f"{len(findings)} documented finding(s) (claims that do not hold, or cannot be falsified, as stated) reproduce: "
              + ", ".join(v.claim_id for v in findings))
    else:
        print(f"all {len(sweep.results)} claims pass and every mutant is caught")
    return 0


@contextlib.contextmanager
def _progress_bar(desc: str, total: int, enabled: bool):
    """A tqdm bar on stderr as a ``progress(claim_id)`` callback: one step per claim, named."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="claim", disable=not enabled, file=sys.stderr)

    def progress(claim_id: str) -> None:
        bar.set_postfix_str(claim_id, refresh=False)
        bar.update(1)

    try:
        yield progress
    finally:
        bar.close()


def _print_verdicts(sweep, width: int | None = None) -> None:
    """One aligned line per claim (verdict, claim, mutants caught, summary cut to the terminal);
    a documented finding adds one short line. The full texts are in ``proofs-check show``."""
    if width is None:
        # A terminal (or an explicit COLUMNS) sets the width; a log file or pipe (CI) gets 160 columns.
        sized = sys.stdout.isatty() or "COLUMNS" in os.environ
        width = min(shutil.get_terminal_size((160, 24)).columns, 160) if sized else 160
    verdicts = [r.verdict for r in sweep.results]
    caught = [f"{sum(m.caught for m in v.mutants)}/{len(v.mutants)} caught" for v in verdicts]
    w_label = max([len("verdict")] + [len(v.label) for v in verdicts])
    w_id = max([len("claim")] + [len(v.claim_id) for v in verdicts])
    w_mut = max([len("mutants")] + [len(c) for c in caught])
    print(f"\n{'verdict':<{w_label}}  {'claim':<{w_id}}  {'mutants':<{w_mut}}  summary")
    for v, c in zip(verdicts, caught):
        head = f"{v.label:<{w_label}}  {v.claim_id:<{w_id}}  {c:<{w_mut}}  "
        print(head + _cut(v.summary, width - len(head)))
        indent = " " * (w_label + 2)
        if v.finding:
            pinned = "" if v.finding_check else " (unpinned)"
            print(indent + _cut(f"documented finding{pinned}: " + _first_sentence(v.finding), width - len(indent)))
        if v.finding_changed:
            print(indent + _cut(_pin_line(v), width - len(indent)))


def _pin_line(v) -> str:
    """How a pinned finding compares with its record: statistic, value now, band, kind."""
    c = v.finding_check
    return (f"pinned {c['statistic']} = {c['value']:.4g} (recorded {c['recorded']:.4g}, band "
            f"[{c['band'][0]:.4g}, {c['band'][1]:.4g}]{'' if c['inside'] else ': OUTSIDE'}); verdict kind "
            f"{c['kind']}, expected {c['expect']}")


def _cut(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters (at least 12) with "..." if longer."""
    text = " ".join(text.split())
    width = max(width, 12)
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def _last_verdict(store, claim_id, corrupt: list):
    """The stored verdict, or None; a corrupt one is collected in ``corrupt`` (reported, not raised)."""
    try:
        return store.last_verdict(claim_id)
    except CorruptEntry as entry:
        corrupt.append(entry)
        return None


def _warn_corrupt_verdicts(corrupt) -> None:
    for entry in corrupt:
        print(f"proofs-check: the stored {entry} is corrupt and ignored; `proofs-check run {entry.key[0]}` "
              "recomputes it", file=sys.stderr)


def _list(claims, out) -> int:
    _warn_unloaded(_unloaded(out, claims, ()), out, " and are not listed")
    corrupt: list = []
    with ResultStore(out, readonly=True) as store:
        # The full citation is in `show ID`; the table keeps one readable line per claim.
        rows = []
        for c in claims.values():
            v = _last_verdict(store, c.id, corrupt)
            last = "-" if v is None else f"{v.label} ({v.budget})"
            if corrupt and corrupt[-1].key[0] == c.id:
                last = "corrupt (rerun)"
            rows.append((c.id, textwrap.shorten(c.paper.cite(), 60, placeholder=" ..."), c.provenance.kind, last))
    _warn_corrupt_verdicts(corrupt)
    widths = [max(len(r[i]) for r in rows + [("id", "paper", "provenance", "last verdict")]) for i in range(4)]
    for row in [("id", "paper", "provenance", "last verdict")] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _show(selected, out) -> int:
    corrupt: list = []
    with ResultStore(out, readonly=True) as store:
        verdicts = [_last_verdict(store, c.id, corrupt) for c in selected]
    _warn_corrupt_verdicts(corrupt)
    for i, (c, v) in enumerate(zip(selected, verdicts)):
        if i:
            print()
        _show_one(c, v)
    return 0


def _show_one(c, v) -> None:
    from .report import power_of, power_text

    wrap = lambda s: textwrap.fill(s, 100, subsequent_indent="  ")  # noqa: E731
    print(f"{c.id}\n  paper: {c.paper.cite()}")
    print(wrap(f"  statement: {c.statement}"))
    print(wrap(f"  provenance: {c.provenance.kind} -- {c.provenance.note}"))
    print(wrap(f"  rule: {c.rule.describe()}"))
    print(f"  sweep: quick {c.sweep.quick} x {c.sweep.seeds_quick} seeds; full {c.sweep.full} x "
          f"{c.sweep.seeds_full} seeds")
    for m in c.mutants:
        derived = " (derived from the claim's runs)" if m.derive is not None else ""
        print(wrap(f"  mutant {m.name}{derived}: {m.why}"))
    if v is None:
        print("  evidence: none yet (run `proofs-check run " + c.id + "`)")
    else:
        print(wrap(f"  evidence ({v.budget}, {v.n_runs} runs, {v.seeds} seeds/point): {v.label} -- {v.summary}"))
        if v.power:
            print(wrap(f"  power: the claim {power_text(power_of(v, 'claim'))} "
                       f"({(v.power.get('claim') or {}).get('method', '')})"))
        for m in v.mutants:
            power = f" [power: {power_text(power_of(v, m.name))}]" if v.power else ""
            print(wrap(f"    mutant {m.name}: {'caught' if m.caught else 'NOT CAUGHT'} -- {m.summary}{power}"))
        if v.finding:
            print(wrap(f"  documented finding{'' if v.finding_check else ' (unpinned)'}: {v.finding}"))
        if v.finding_check:
            print(wrap(f"  {_pin_line(v)} -- {'reproduces' if v.finding_check['reproduces'] else 'CHANGED'}"))
        for note in v.notes:
            print(wrap(f"  note: {note}"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
