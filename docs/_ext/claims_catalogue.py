"""Generate the claims catalogue (``docs/claims/*.md``) from the registered claims.

For every claim returned by :func:`proofs_check.claims.load_claims` the catalogue shows what the
claim *is* (statement, paper, provenance kind and note, the acceptance rule as
``claim.rule.describe()`` words it, every mutant with why it is wrong) and what was *found* at the
full budget: the verdict, the mutant outcomes and the figure stored in
``paper_figs/<family>/report.md`` and ``paper_figs/<family>/figures/<id>.png``. Nothing is run
here; a claim without a stored full-budget section is shown as "not run at the full budget", and
a stored section whose statement or rule differs from the current registration is flagged, so an
old verdict is never passed off as the current claim's.

Used as a Sphinx extension (writes the pages on ``builder-inited``, before sources are read) or
stand-alone: ``python docs/_ext/claims_catalogue.py [OUT_DIR]``. Files are rewritten only when
their content changes, so incremental builds stay incremental.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent
PAPER_FIGS = REPO / "paper_figs"
PAPER_PAGES = DOCS / "papers"

# Markdown (CommonMark + MyST) characters that could turn claim text into markup: backslash-
# escaped so statements such as "KL(pi*_beta || pi_k) <= ..." print verbatim.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>#|$~^&!])")


def escape(text: str) -> str:
    """Inline Markdown for arbitrary text: one line, markup characters escaped."""
    return _MARKUP.sub(r"\\\1", " ".join(str(text).split()))


def label(claim_id: str) -> str:
    """The MyST target of a claim's section, e.g. ``claim-nash-mp-kl-bound``."""
    return "claim-" + re.sub(r"[^a-z0-9]+", "-", claim_id.lower()).strip("-")


@dataclass
class StoredMutant:
    name: str
    outcome: str          # "caught" / "NOT CAUGHT" as written by the report
    summary: str


@dataclass
class StoredResult:
    """One claim's section of ``paper_figs/<family>/report.md`` (a full-budget run)."""

    claim_id: str
    fields: dict = field(default_factory=dict)       # "Verdict", "Statement", "Rule", ...
    mutants: list = field(default_factory=list)
    figure: Path | None = None


_FIELD = re.compile(r"^\*\*(?P<key>[^*]+?):\*\*\s*(?P<value>.*?)\s*$")
_MUTANT = re.compile(r"^- mutant `(?P<name>[^`]+)`: (?P<outcome>.+?) -- (?P<summary>.*?)(?:\s*\*Bug:\*.*)?$")


def read_stored_results(family: str) -> tuple[dict[str, StoredResult], str]:
    """Parse ``paper_figs/<family>/report.md``; returns ``({claim_id: result}, header line)``."""
    report = PAPER_FIGS / family / "report.md"
    if not report.is_file():
        return {}, ""
    text = report.read_text(encoding="utf-8")
    header = text.splitlines()[0].lstrip("# ").strip() if text else ""
    results: dict[str, StoredResult] = {}
    for chunk in re.split(r"^## ", text, flags=re.M)[1:]:
        lines = chunk.splitlines()
        claim_id = lines[0].strip()
        result = StoredResult(claim_id)
        for line in lines[1:]:
            if (m := _FIELD.match(line)) is not None:
                key = m["key"].split(" (")[0]   # "Documented finding (the claim ...)" -> "Documented finding"
                result.fields[key] = m["value"]
            elif (m := _MUTANT.match(line)) is not None:
                result.mutants.append(StoredMutant(m["name"], m["outcome"], m["summary"]))
        figure = PAPER_FIGS / family / "figures" / f"{claim_id}.png"
        result.figure = figure if figure.is_file() else None
        results[claim_id] = result
    return results, header


def stored_date(family: str) -> str:
    """Commit date of the stored figures (``git log``), or "" outside a git checkout.

    The figures are what a full run writes; the report text may be edited later (e.g. a citation
    updated) without new runs, so its date would overstate how recent the runs are."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs", "--", f"paper_figs/{family}/figures"],
                             cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _same(stored: str, current: str) -> bool:
    return " ".join(stored.split()) == " ".join(current.split())


def claim_section(claim, stored: StoredResult | None, family_date: str) -> list[str]:
    """The Markdown lines of one claim's section."""
    out = [f"({label(claim.id)})=", f"## `{claim.id}`", ""]
    out += [f"**Statement.** {escape(claim.statement)}", ""]
    out += [f"**Paper.** {escape(claim.paper.cite())}", ""]
    out += [f"**Provenance:** {escape(claim.provenance.kind)}. {escape(claim.provenance.note)}", ""]
    if claim.observed:
        out += [f"**Observed quantity:** {escape(claim.observed)}", ""]
    out += [f"**Rule:** {escape(claim.rule.describe())}", ""]
    if claim.mutants:
        out += ["**Mutants** (deliberately broken variants the rule must reject):", ""]
        out += [f"- `{m.name}`: {escape(m.why)}" for m in claim.mutants]
        out += [""]
    if claim.finding:
        out += [f"**Documented finding (registered):** {escape(claim.finding)}", ""]

    when = f" (stored {family_date})" if family_date else ""
    out += [f"### Full-budget result{when}", ""]
    if stored is None or "Verdict" not in stored.fields:
        out += ["*Not run at the full budget:* `paper_figs/"
                f"{claim.family}/report.md` has no section for this claim. Run "
                f"`proofs-check run {claim.family} --full --out paper_figs/{claim.family}` to produce it.", ""]
        return out
    stale = []
    if "Statement" in stored.fields and not _same(stored.fields["Statement"], claim.statement):
        stale.append("statement")
    if "Rule" in stored.fields and not _same(stored.fields["Rule"], claim.rule.describe()):
        stale.append("rule")
    current_names = {m.name for m in claim.mutants}
    stored_names = {m.name for m in stored.mutants}
    if current_names != stored_names:
        stale.append("mutants")
    if stale:
        out += [":::{warning}",
                f"The stored run was made for a different {', '.join(stale)} than the claim registered "
                "now, so this verdict may not apply to the current claim; rerun the family at the "
                "full budget to refresh it.", ":::", ""]
    # The stored verdict text is already Markdown written by proofs_check.report; keep it verbatim.
    out += [f"**Verdict:** {stored.fields['Verdict']}", ""]
    if "Documented finding" in stored.fields:
        out += [f"**Documented finding:** {stored.fields['Documented finding']}", ""]
    if stored.mutants:
        out += ["| mutant | outcome | evidence |", "|---|---|---|"]
        out += [f"| `{m.name}` | {escape(m.outcome)} | {escape(m.summary)} |" for m in stored.mutants]
        out += [""]
    if stored.figure is not None:
        out += [f"```{{figure}} figures/{claim.id}.png", f":alt: full-budget figure of {claim.id}",
                ":width: 100%", "",
                f"Full-budget figure of `{claim.id}` (from `paper_figs/{claim.family}/figures/`).", "```", ""]
    else:
        out += [f"*No stored figure* (`paper_figs/{claim.family}/figures/{claim.id}.png` is absent).", ""]
    return out


def _verdict_cell(stored: StoredResult | None) -> str:
    if stored is None or "Verdict" not in stored.fields:
        return "not run at the full budget"
    return escape(stored.fields["Verdict"].split(" -- ")[0])


def render(claims: dict) -> dict[str, str]:
    """``{relative path: Markdown}`` of every catalogue page (index and one page per family)."""
    families: dict[str, list] = {}
    for claim in claims.values():
        families.setdefault(claim.family, []).append(claim)
    pages: dict[str, str] = {}
    index = ["# Claims catalogue", "",
             "Every claim registered in `proofs_check` (generated from "
             "`proofs_check.claims.load_claims()` when the site is built), with its statement, "
             "provenance, acceptance rule and mutants, and the verdict and figure of the latest "
             "full-budget run stored in `paper_figs/`. A claim marked *paper* is checked as the "
             "paper states it; *reconstructed* means part of it (a constant, a form of the bound) is "
             "our reconstruction, and its provenance note says which part. A verdict counts only "
             "if every mutant is caught.", "",
             "| claim | provenance | full-budget verdict |", "|---|---|---|"]
    for family, members in families.items():
        stored, _ = read_stored_results(family)
        for claim in members:
            index.append(f"| {{ref}}`{claim.id} <{label(claim.id)}>` | {escape(claim.provenance.kind)} "
                         f"| {_verdict_cell(stored.get(claim.id))} |")
    index += ["", "```{toctree}", ":maxdepth: 1", ""] + list(families) + ["```", ""]
    pages["index.md"] = "\n".join(index)

    for family, members in families.items():
        stored, header = read_stored_results(family)
        date = stored_date(family) if stored else ""
        page = [f"# `{family}` claims", ""]
        if (PAPER_PAGES / f"{family}.md").is_file():
            page += [f"The paper, what it states and what was reconstructed: [the {family} paper page]"
                     f"(../papers/{family}.md).", ""]
        if header:
            page += [f"Full-budget results: `paper_figs/{family}/report.md` ({escape(header)}).", ""]
        else:
            page += [f"No full-budget report is stored in `paper_figs/{family}/`.", ""]
        for claim in members:
            page += claim_section(claim, stored.get(claim.id), date)
        pages[f"{family}.md"] = "\n".join(page)
    return pages


def figures_for(claims: dict) -> dict[str, Path]:
    """``{relative path in the catalogue: stored figure}`` for every claim with a stored figure."""
    found = {}
    for claim in claims.values():
        figure = PAPER_FIGS / claim.family / "figures" / f"{claim.id}.png"
        if figure.is_file():
            found[f"figures/{claim.id}.png"] = figure
    return found


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(out_dir: Path = DOCS / "claims") -> list[Path]:
    """Write the catalogue into ``out_dir`` (stale generated files removed); returns the pages."""
    from proofs_check.claims import load_claims

    claims = load_claims()
    pages = render(claims)
    figures = figures_for(claims)
    wanted = {out_dir / rel for rel in list(pages) + list(figures)}
    if out_dir.is_dir():
        for old in out_dir.rglob("*"):
            if old.is_file() and old not in wanted:
                old.unlink()
    for rel, text in pages.items():
        _write_if_changed(out_dir / rel, text.encode("utf-8"))
    for rel, source in figures.items():
        _write_if_changed(out_dir / rel, source.read_bytes())
    return [out_dir / rel for rel in pages]


def _on_builder_inited(app) -> None:
    generate(Path(app.srcdir) / "claims")


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS / "claims"
    for page in generate(target):
        print(page)
