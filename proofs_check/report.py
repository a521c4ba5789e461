"""Report: ``report.md`` and ``report.html`` with a verdict table and one figure per claim.

A failing claim is reported as a finding with its evidence (the rule's summary and numbers),
never hidden; a mutant that is not caught is reported the same way.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .figures import plot_claim


def _fig_name(claim_id: str) -> str:
    return f"figures/{claim_id}.png"


def write_report(sweep, out_dir) -> tuple[Path, Path]:
    """Write figures, ``report.md`` and ``report.html`` under ``out_dir``.

    Parameters
    ----------
    sweep : proofs_check.runner.SweepReport
    out_dir : str or Path

    Returns
    -------
    (Path, Path)
        Paths of ``report.md`` and ``report.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for res in sweep.results:
        if res.verdict is not None:
            plot_claim(res, out / _fig_name(res.claim.id))
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(_markdown(sweep))
    html_path.write_text(_html(sweep))
    return md_path, html_path


def _runs_line(sweep) -> str:
    """``Runs: N (R reused from the store, C computed[, M missing]).``"""
    missing = sum(r.missing for r in sweep.results)
    extra = f", {missing} missing: run `proofs-check run` to compute them" if missing else ""
    return (f"Runs: {sweep.n_runs} ({sweep.n_reused} reused from the store, {sweep.n_computed} computed"
            f"{extra}).")


def _row(res):
    v = res.verdict
    if v is None:
        return (res.claim.id, "NO RESULTS", f"{res.missing} runs missing; run `proofs-check run` first",
                "-", res.claim.provenance.kind)
    caught = sum(m.caught for m in v.mutants)
    return (res.claim.id, v.label, v.summary, f"{caught}/{len(v.mutants)}", res.claim.provenance.kind)


def _markdown(sweep) -> str:
    lines = [f"# proofs_check report ({sweep.budget} budget)", "",
             f"{sum(r.verdict is not None and r.verdict.ok and not r.verdict.finding for r in sweep.results)} "
             f"of {len(sweep.results)} claims pass with every mutant caught; "
             f"{sum(r.verdict is not None and bool(r.verdict.finding) for r in sweep.results)} are documented "
             f"findings (claims that do not hold as stated; see their sections). {_runs_line(sweep)}", "",
             "| claim | verdict | evidence | mutants caught | provenance |",
             "|---|---|---|---|---|"]
    for res in sweep.results:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in _row(res)) + " |")
    for res in sweep.results:
        c, v = res.claim, res.verdict
        lines += ["", f"## {c.id}", "", f"**Paper:** {c.paper.cite()}  ", f"**Statement:** {c.statement}  ",
                  f"**Provenance:** {c.provenance.kind} -- {c.provenance.note}  ",
                  f"**Rule:** {c.rule.describe()}  "]
        if v is None:
            lines.append("**Verdict:** no results in the store for this budget.")
            continue
        lines += [f"**Verdict:** {v.label} -- {v.summary} ({v.n_runs} runs, {v.seeds} seeds per point)  "]
        if v.finding:
            lines.append(f"**Documented finding (the claim does not hold or cannot be falsified as stated):** {v.finding}  ")
        lines.append("")
        for m in v.mutants:
            lines.append(f"- mutant `{m.name}`: {'caught' if m.caught else 'NOT CAUGHT'} -- {m.summary}. "
                         f"*Bug:* {m.why}")
        for note in v.notes:
            lines.append(f"- note: {note}")
        lines += ["", f"![{c.id}]({_fig_name(c.id)})", "", "<details><summary>numbers</summary>", "",
                  "```json", json.dumps(v.numbers, indent=1, sort_keys=True, default=str), "```", "</details>"]
    return "\n".join(lines) + "\n"


def _html(sweep) -> str:
    esc = html.escape
    rows = "".join(
        "<tr class='{}'>".format("ok" if r.verdict is not None and r.verdict.ok else "bad")
        + "".join(f"<td>{esc(str(c))}</td>" for c in _row(r)) + "</tr>" for r in sweep.results)
    sections = []
    for res in sweep.results:
        c, v = res.claim, res.verdict
        body = [f"<h2 id='{esc(c.id)}'>{esc(c.id)}</h2>",
                f"<p><b>Paper:</b> {esc(c.paper.cite())}<br><b>Statement:</b> {esc(c.statement)}<br>"
                f"<b>Provenance:</b> {esc(c.provenance.kind)} &mdash; {esc(c.provenance.note)}<br>"
                f"<b>Rule:</b> {esc(c.rule.describe())}</p>"]
        if v is None:
            body.append("<p>No results in the store for this budget.</p>")
        else:
            body.append(f"<p><b>Verdict:</b> {esc(v.label)} &mdash; {esc(v.summary)} "
                        f"({v.n_runs} runs, {v.seeds} seeds per point)</p>")
            if v.finding:
                body.append(f"<p><b>Documented finding (the claim does not hold or cannot be falsified as stated):</b> "
                            f"{esc(v.finding)}</p>")
            body.append("<ul>")
            for m in v.mutants:
                body.append(f"<li>mutant <code>{esc(m.name)}</code>: {'caught' if m.caught else 'NOT CAUGHT'}"
                            f" &mdash; {esc(m.summary)}. <i>Bug:</i> {esc(m.why)}</li>")
            body.append(f"</ul><img src='{_fig_name(c.id)}' alt='{esc(c.id)}' style='max-width:700px'>")
        sections.append("\n".join(body))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>proofs_check report</title>"
            "<style>body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px}tr.ok td:nth-child(2){color:green}"
            "tr.bad td:nth-child(2){color:#b00}</style></head><body>"
            f"<h1>proofs_check report ({esc(sweep.budget)} budget)</h1>"
            f"<p>{esc(_runs_line(sweep))}</p>"
            "<table><tr><th>claim</th><th>verdict</th><th>evidence</th><th>mutants caught</th>"
            f"<th>provenance</th></tr>{rows}</table>{''.join(sections)}</body></html>\n")
