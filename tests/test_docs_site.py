"""The documentation site's own tooling: the claims catalogue generator, the internal-link check
and the headless-browser check (the full site is built and checked by ``python docs/build.py``
in CI; these tests pin down that each piece reports what it should, and can fail).
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS / "tools"))

import check_links  # noqa: E402
import claims_catalogue  # noqa: E402
from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Sweep, load_claims  # noqa: E402

PAPER_FIGS = DOCS.parent / "paper_figs"


@pytest.fixture(scope="module")
def claims():
    return load_claims()


@pytest.fixture(scope="module")
def pages(claims):
    return claims_catalogue.render(claims)


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]<>#|$~^&!])", r"\1", text)


def _section(page: str, claim_id: str) -> str:
    start = page.index(f"({claims_catalogue.label(claim_id)})=")
    end = page.find("\n(claim-", start + 1)
    return page[start:] if end < 0 else page[start:end]


def test_every_registered_claim_has_its_statement_rule_provenance_and_mutants(claims, pages):
    index = pages["index.md"]
    for claim in claims.values():
        assert f"<{claims_catalogue.label(claim.id)}>" in index, claim.id
        section = _unescape(_section(pages[f"{claim.family}.md"], claim.id))
        assert " ".join(claim.statement.split()) in section, claim.id
        assert " ".join(claim.rule.describe().split()) in section, claim.id
        assert f"**Provenance:** {claim.provenance.kind}. {' '.join(claim.provenance.note.split())}" in section
        for mutant in claim.mutants:
            assert f"- `{mutant.name}`: {' '.join(mutant.why.split())}" in section, (claim.id, mutant.name)


def test_stored_full_budget_verdicts_and_figures_are_shown(claims, pages):
    shown = 0
    for family_dir in sorted(p for p in PAPER_FIGS.iterdir() if (p / "report.md").is_file()):
        report = (family_dir / "report.md").read_text(encoding="utf-8")
        # Read the stored verdicts independently of the generator's parser.
        for claim_id, verdict in re.findall(r"^## (\S+)\n.*?^\*\*Verdict:\*\* (.*?)\s*$", report, flags=re.M | re.S):
            if claim_id not in claims:
                continue
            section = _section(pages[f"{family_dir.name}.md"], claim_id)
            assert f"**Verdict:** {verdict}" in section, claim_id
            if (family_dir / "figures" / f"{claim_id}.png").is_file():
                assert f"```{{figure}} figures/{claim_id}.png" in section, claim_id
            shown += 1
    assert shown > 0, "no stored full-budget verdict found in paper_figs/"
    figures = claims_catalogue.figures_for(claims)
    assert all(path.is_file() and path.parent.parent.parent == PAPER_FIGS for path in figures.values())


def _observe(params, seed):
    return {"x": 0.0}


def _observe_broken(params, seed):
    return {"x": 2.0}


def _toy_claim(claim_id: str) -> Claim:
    return Claim(id=claim_id, paper=Paper("A paper"), statement="x <= 1 | always *here*_",
                 provenance=Provenance("paper", "as stated"), observe=_observe,
                 sweep=Sweep(quick=Grid(n=[1]), full=Grid(n=[1]), seeds_quick=1, seeds_full=1),
                 rule=BoundHolds("x"), bound=lambda params: 1.0,
                 mutants=[Mutant("broken", _observe_broken, why="returns 2")])


def test_claim_without_stored_result_says_not_run():
    claim = _toy_claim("docs_test_family.toy")
    pages = claims_catalogue.render({claim.id: claim})
    assert "not run at the full budget" in pages["index.md"]
    assert "*Not run at the full budget:*" in pages["docs_test_family.md"]
    assert "**Verdict:**" not in pages["docs_test_family.md"]
    assert r"x \<= 1 \| always \*here\*\_" in pages["docs_test_family.md"]   # markup escaped


def test_stored_result_of_a_changed_claim_is_flagged(claims):
    original = claims["textbook.vi_contraction"]
    unchanged = claims_catalogue.render({original.id: original})["textbook.md"]
    assert ":::{warning}" not in unchanged
    changed = dataclasses.replace(original, statement=original.statement + " (reworded)")
    flagged = claims_catalogue.render({changed.id: changed})["textbook.md"]
    assert ":::{warning}" in flagged and "different statement" in flagged


def test_escape_keeps_text_and_neutralises_markup():
    text = "KL(pi*_beta || pi_k) <= (1 + 2 beta)^(-N/2) $x$ `code` [link](x) #h"
    escaped = claims_catalogue.escape(text)
    assert _unescape(escaped) == text
    assert not re.search(r"(?<!\\)[*_|<>$`\[\]#^]", escaped)


def _write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def test_link_check_finds_missing_files_and_anchors(tmp_path):
    _write(tmp_path / "index.html",
           '<a href="sub/page.html#here">ok</a> <a href="sub/page.html#gone">bad anchor</a>'
           '<a href="nothing.html">bad file</a> <img src="img/missing.png">'
           '<a href="https://example.org/x">external</a> <a href="#top">ok</a><h1 id="top">t</h1>'
           '<link href="_static/style.css?v=1" rel="stylesheet"> <a href="../outside.html">out</a>')
    _write(tmp_path / "sub" / "page.html", '<p id="here">x</p><a href="../index.html#top">back</a>')
    _write(tmp_path / "_static" / "style.css", "")
    broken, n_local, n_external = check_links.check_site(tmp_path)
    found = {(b.page, b.target, b.reason.split(" ")[0]) for b in broken}
    assert found == {("index.html", "sub/page.html#gone", "no"), ("index.html", "nothing.html", "no"),
                     ("index.html", "img/missing.png", "no"), ("index.html", "../outside.html", "points")}
    assert n_local == 8 and n_external == 1


def test_link_check_rejects_a_missing_root(tmp_path):
    with pytest.raises(ValueError, match="root"):
        check_links.check_site(tmp_path / "absent")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed "
                    "(CI installs it before python docs/build.py, which runs this self-test too)")
def test_browser_check_passes_a_clean_page_and_fails_a_broken_one(tmp_path):
    pytest.importorskip("websocket", reason="websocket-client is in the docs extra")
    import browser_check

    assert browser_check.self_test(tmp_path) == []
    shots = sorted(p.name for p in (tmp_path / "shots").glob("*.png"))
    assert shots == ["bad.png", "good.png"]
