"""Report: every loaded claim with stored runs, stale marking, per-claim cache, atomic files, HTML content."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from proofs_check import (BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Rate, ResultStore, Sweep,
                          run_claims)
from proofs_check import figures, report
from proofs_check.cli import main
from proofs_check.report import build_report
from test_pc_synthetic import MEAN_RATE, SLOW_BOUND

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SYNTH = str(HERE / "test_pc_synthetic.py")
PAPER = Paper("Synthetic report claims (not from a paper)", where="tests")


def observe_small(params, seed):
    return {"x": np.random.default_rng(seed).random(2) * 0.5}


def observe_big(params, seed):
    return {"x": np.random.default_rng(seed).random(2) + 2.0}


def observe_bigger(params, seed):
    return {"x": np.random.default_rng(seed).random(2) + 3.0}


def _bound_claim(cid, observe, finding=""):
    return Claim(id=cid, paper=PAPER, statement=f"{cid}: x stays below 1.",
                 provenance=Provenance("reconstructed", "synthetic"), observe=observe,
                 sweep=Sweep(Grid(i=[0]), Grid(i=[0, 1]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
                 mutants=[Mutant("big", observe_bigger, why="adds 3")], finding=finding)


PASSING = _bound_claim("rep.passing", observe_small)
FAILING = _bound_claim("rep.failing", observe_big)
DOCUMENTED = _bound_claim("rep.documented", observe_big, finding="x is shifted by 2 on purpose")
NEVER_RUN = _bound_claim("rep.never_run", observe_small)


def observe_smaller(params, seed):
    return {"x": np.random.default_rng(seed).random(2) * 0.25}


UNCAUGHT = Claim(id="rep.uncaught", paper=PAPER, statement="x stays below 1 (a mutant that cannot be caught).",
                 provenance=Provenance("reconstructed", "synthetic"), observe=observe_small,
                 sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
                 mutants=[Mutant("smaller", observe_smaller, why="halves x: still below the bound")])
ALL = [MEAN_RATE, SLOW_BOUND, PASSING, FAILING, DOCUMENTED, NEVER_RUN]


def _sweep(out, claims, budget="quick"):
    with ResultStore(out) as store:
        return run_claims(claims, store=store, budget=budget)


def _build(out, claims=ALL, budget="quick", **kw):
    kw.setdefault("workers", 1)   # spies on plot_claim see only this process's calls
    with ResultStore(out, readonly=True) as store:
        return build_report(claims, store, out, budget, **kw)


def _section_ids(md_text):
    return re.findall(r'^<a id="([^"]+)"></a>$', md_text, flags=re.M)


# ---------------------------------------------------------------------------------------- coverage
def test_a_family_run_keeps_every_other_claim_in_the_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "cover")
    args = ["--claims-module", SYNTH, "--out", str(tmp_path), "--workers", "1", "--no-progress"]
    assert main(["run", "synthetic.slow_bound", *args]) == 0
    first = (tmp_path / "report.md").read_text()
    assert _section_ids(first) == ["synthetic.slow_bound"]
    assert "synthetic.mean_rate" in first.split("Not run (quick budget): ")[1].splitlines()[0]

    assert main(["run", "synthetic.mean_rate", *args]) == 0       # the other claim of the family
    md = (tmp_path / "report.md").read_text()
    assert _section_ids(md) == ["synthetic.mean_rate", "synthetic.slow_bound"]   # registration order
    assert "| [§](#synthetic.slow_bound) | synthetic.slow_bound | PASS |" in md
    assert "| [§](#synthetic.mean_rate) | synthetic.mean_rate | PASS |" in md
    for cid in ("synthetic.mean_rate", "synthetic.slow_bound"):
        assert f"](figures/{cid}.png)" in md and (tmp_path / "figures" / f"{cid}.png").is_file()
    assert "synthetic.mean_rate" not in md.split("Not run (quick budget): ")[1].splitlines()[0]

    capsys.readouterr()
    assert main(["report", "textbook", "--claims-module", SYNTH, "--out", str(tmp_path)]) == 2   # no textbook runs
    assert main(["report", "synthetic.mean_rate", "--claims-module", SYNTH, "--out", str(tmp_path)]) == 0
    # Selecting one claim still writes the whole report: it is one file for the whole store.
    assert _section_ids((tmp_path / "report.md").read_text()) == ["synthetic.mean_rate", "synthetic.slow_bound"]


def test_stale_runs_are_shown_and_marked(tmp_path):
    os.environ["PROOFS_CHECK_CODE_VERSION"] = "old-code"
    try:
        _sweep(tmp_path, [PASSING, FAILING])
        os.environ["PROOFS_CHECK_CODE_VERSION"] = "new-code"
        _sweep(tmp_path, [PASSING])
        md, html = _build(tmp_path)
    finally:
        del os.environ["PROOFS_CHECK_CODE_VERSION"]
    text, page = md.read_text(), html.read_text()
    assert "| [§](#rep.passing) | rep.passing | PASS |" in text
    assert "| [§](#rep.failing) | rep.failing | FAIL [stale] |" in text
    assert "**Stale:** stored runs are for older code (version old-code); the current code (new-code) lacks 6 of 6 " \
           "runs: run `proofs-check run rep.failing` to refresh" in text
    assert "1 stale (runs for older code; rerun to refresh)" in text
    assert re.search(r"Not run \(quick budget\): synthetic\.mean_rate, synthetic\.slow_bound, rep\.documented, "
                     r"rep\.never_run\.", text)
    assert "<td class='verdict'>FAIL <span class='stale'>(stale)</span></td>" in page


def test_incomplete_runs_get_no_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    _sweep(tmp_path, [PASSING])
    with ResultStore(tmp_path) as store:
        key = next(k for k in store.payloads("rep.passing") if k[1] == "claim")
        store.delete(*key)
    md, _ = _build(tmp_path, [PASSING])
    text = md.read_text()
    assert "| [§](#rep.passing) | rep.passing | INCOMPLETE | 1 of 6 runs missing for the current code: run " \
           "`proofs-check run rep.passing` to compute them | - |" in text
    assert "1 runs missing (missing: run `proofs-check run` to compute them)" in text


# ---------------------------------------------------------------------------------------- cache
def test_figures_and_verdicts_are_cached_per_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v1")
    _sweep(tmp_path, [PASSING, FAILING])
    drawn, judged = [], []
    real_plot = figures.plot_claim
    monkeypatch.setattr(figures, "plot_claim", lambda res, path, **kw: drawn.append(res.claim.id) or
                        real_plot(res, path, **kw))
    import proofs_check.runner as runner
    real = runner.judge
    monkeypatch.setattr(runner, "judge", lambda claim, *a, **kw: judged.append(claim.id) or real(claim, *a, **kw))
    calls = []
    md, _ = _build(tmp_path, [PASSING, FAILING, NEVER_RUN], progress=calls.append, workers=1)
    assert calls == ["rep.passing", "rep.failing", "rep.never_run"]          # once per claim, in order
    assert sorted(drawn) == sorted(judged) == ["rep.failing", "rep.passing"]  # cold: both
    first = md.read_text()

    drawn.clear(); judged.clear()
    md, _ = _build(tmp_path, [PASSING, FAILING, NEVER_RUN])
    assert drawn == judged == [] and md.read_text() == first                   # unchanged: nothing redone

    _sweep(tmp_path, [NEVER_RUN])                                              # another claim's runs
    judged.clear()                                                             # (the sweep judged it)
    md, _ = _build(tmp_path, [PASSING, FAILING, NEVER_RUN])
    assert drawn == judged == ["rep.never_run"]
    assert "Not run" not in md.read_text()

    drawn.clear(); judged.clear()
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v2")
    _sweep(tmp_path, [FAILING])                                                # new runs for new code
    judged.clear()
    _build(tmp_path, [PASSING, FAILING, NEVER_RUN])
    # rep.failing: new runs; the two others turned stale (the marking is in the figure title)
    assert sorted(drawn) == ["rep.failing", "rep.never_run", "rep.passing"] == sorted(judged)

    drawn.clear(); judged.clear()
    (tmp_path / "figures" / "rep.passing.png").write_bytes(b"not a png")      # damaged figure: redrawn
    _build(tmp_path, [PASSING, FAILING, NEVER_RUN])
    assert drawn == ["rep.passing"]
    assert matplotlib.image.imread(tmp_path / "figures" / "rep.passing.png").ndim == 3

    drawn.clear(); judged.clear()
    _build(tmp_path, [PASSING, FAILING, NEVER_RUN], budget="full")             # other budget: separate cache
    assert drawn == []                                                         # no complete full runs


def test_cache_key_covers_the_runs_and_the_claim_declaration(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    _sweep(tmp_path, [PASSING])
    _build(tmp_path, [PASSING])
    drawn = []
    real_plot = figures.plot_claim
    monkeypatch.setattr(figures, "plot_claim", lambda res, path, **kw: drawn.append(res.claim.id) or
                        real_plot(res, path, **kw))
    edited = _bound_claim("rep.passing", observe_small)
    object.__setattr__(edited, "statement", "an edited statement")
    md, _ = _build(tmp_path, [edited])
    assert drawn == ["rep.passing"] and "an edited statement" in md.read_text()
    with ResultStore(tmp_path) as store:                       # a stored run replaced by another one
        key = next(iter(store.payloads("rep.passing")))
        store.put(*key, {"x": np.array([0.1, 0.2])}, 0.0)
    _build(tmp_path, [edited])
    assert drawn == ["rep.passing", "rep.passing"]


# ---------------------------------------------------------------------------------------- content
def test_html_colours_anchors_headline_and_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    _sweep(tmp_path, [PASSING, FAILING, DOCUMENTED, MEAN_RATE, UNCAUGHT])
    md, html = _build(tmp_path, ALL + [UNCAUGHT])
    page, text = html.read_text(), md.read_text()
    kinds = {"rep.passing": "pass", "rep.failing": "fail", "rep.documented": "documented",
             "synthetic.mean_rate": "pass", "rep.uncaught": "fail"}
    for cid, kind in kinds.items():
        assert f"<tr class='k-{kind}'><td><a href='#{cid}'>{cid}</a></td>" in page
        assert f"<h2 id='{cid}'><span class='badge b-{kind}'>" in page
        assert f"| [§](#{cid}) | {cid} |" in text and f'<a id="{cid}"></a>' in text
    assert "tr.k-pass td.verdict{color:#1a7f37}" in page and "tr.k-fail td.verdict{color:#c62828}" in page
    assert "tr.k-documented td.verdict{color:#b35900}" in page
    # a documented finding that reproduces is amber ("documented"), not green and not red
    assert "<tr class='k-documented'><td><a href='#rep.documented'>rep.documented</a></td>" \
           "<td class='verdict'>FAIL (documented)</td>" in page
    # an uncaught mutant is red
    assert "<li>mutant <code>smaller</code>: <span class='notcaught'>NOT CAUGHT</span>" in page
    assert "<td class='verdict'>MUTANT NOT CAUGHT</td>" in page
    # headline: counts per kind, runs, budget, code freshness
    assert ("5 claims with stored quick runs: 2 pass, 1 documented (the finding reproduces), 2 fail or need "
            "review.") in text
    assert "<span class='badge b-pass'>2 pass</span>" in page and "<span class='badge b-fail'>2 fail" in page
    assert "Code: 5 for the current code." in text
    n_runs = 4 * 2 * 3 + 2 * 5 * 30   # four bound claims (claim + mutant, 3 seeds), mean_rate (5 points, 30 seeds)
    assert f"Runs: {n_runs} stored quick runs behind these verdicts" in text
    # numbers blocks in both files
    assert page.count("<details><summary>numbers</summary><pre>") == 5
    assert page.count("<details><summary>mutant numbers</summary><pre>") == 5
    block = re.search(r"<a id=\"rep.failing\"></a>.*?```json\n(.*?)```", text, flags=re.S).group(1)
    assert json.loads(block)["violations"] == 3
    assert "&quot;violations&quot;: 3" in page


def test_bound_summary_states_the_difference_the_rule_checks():
    from proofs_check.claim import Run

    runs = [Run("claim", {"i": 0}, s, {"x": np.array([0.25, 0.5])}) for s in range(3)]
    out = BoundHolds("x").evaluate(runs, bound=lambda p: 1.0)
    assert out.summary == "0 of 3 runs exceed the bound; max (observed - bound) = -0.5 (max observed/bound = 0.5)"
    tiny = BoundHolds("x").evaluate(runs, bound=lambda p: 1e-9)   # a ratio to ~0 says nothing
    assert tiny.summary == "3 of 3 runs exceed the bound; max (observed - bound) = 0.5"
    q = BoundHolds("x", quantile=0.5).evaluate(runs, bound=lambda p: 1.0)
    assert "max 0.5-quantile over seeds of (observed - bound) = -0.5" in q.summary


def test_nan_quantiles_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((9, 40))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 3] = np.nan                        # an all-NaN column gives NaN
    values[:, 5] = np.nan
    values[4, 5] = 1.5                           # a column with one value left
    for q, got in zip((0.5, 0.1, 0.9), figures._nan_quantiles(values, (0.5, 0.1, 0.9))):
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            want = np.nanquantile(values, q, axis=0)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)   # numpy's lerp rounds differently


ONE_POINT = Claim(id="rep.one_point", paper=PAPER, statement="One value of the swept parameter.",
                  provenance=Provenance("paper", "synthetic"), observe=observe_small,
                  sweep=Sweep(Grid(i=[0], family=["a", "b"]), Grid(i=[0], family=["a", "b"]), 4, 4),
                  rule=BoundHolds("x", x="i"), bound=lambda p: 1.0, mutants=[Mutant("big", observe_big, why="+2")])


def test_figures_name_the_claim_and_avoid_one_point_axes(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    sweep = _sweep(tmp_path, [ONE_POINT, MEAN_RATE])
    texts = {}
    real_savefig = figures.plt.Figure.savefig

    def spy(fig, *a, **kw):
        texts[len(texts)] = fig
        return real_savefig(fig, *a, **kw)

    monkeypatch.setattr(figures.plt.Figure, "savefig", spy)
    for res in sweep.results:
        figures.plot_claim(res, tmp_path / f"{res.claim.id}.png")
    one, rate = texts[0], texts[1]
    header = " ".join(t.get_text() for t in one.texts)
    assert "rep.one_point: PASS" in header and "One value of the swept parameter." in header
    assert "provenance: paper" in header and "fixed: i=0" in header
    top = one.axes[0]
    assert top.get_xscale() == "linear"
    assert [t.get_text() for t in top.get_xticklabels()] == ["family=a", "family=b"]   # categories, not i=0
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "claim (observed)" in legend and "mutant: big" in legend and "family=a" in legend
    caption = " ".join(" ".join(t.get_text() for t in rate.texts).split())
    assert "mean over 30 seeds" in caption and "10%-90% of seeds" in caption
    # the rate line is the least-squares fit, not a curve anchored at the first point
    fit = next(line for line in rate.axes[0].get_lines() if line.get_linestyle() == "--"
               and line.get_color() == "black" and len(line.get_xdata()) > 1)
    x, y = np.log(fit.get_xdata()), np.log(fit.get_ydata())
    slope = sweep.results[1].verdict.numbers["groups"][0]["slope"]
    assert np.allclose(np.diff(y) / np.diff(x), slope)
    for res in sweep.results:
        assert matplotlib.image.imread(tmp_path / f"{res.claim.id}.png").ndim == 3


# ---------------------------------------------------------------------------------------- atomic files
WRITER = textwrap.dedent('''
    import shutil, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from proofs_check import ResultStore
    from proofs_check.report import build_report
    import test_report
    out = Path(sys.argv[1])
    print("ready", flush=True)
    while True:   # every pass redraws every figure and rewrites both report files
        shutil.rmtree(out / ".cache", ignore_errors=True)
        with ResultStore(out, readonly=True) as store:
            build_report(test_report.ALL, store, out, "quick")
''')


def _check_consistent(out: Path):
    md, html = out / "report.md", out / "report.html"
    text = md.read_text()
    assert text.startswith("# proofs_check report (quick budget)") and text.endswith("</details>\n")
    assert html.read_text().endswith("</body></html>\n")
    figures_named = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert len(figures_named) == 3
    for name in figures_named:
        assert matplotlib.image.imread(out / name).ndim == 3      # complete, decodable PNG
    for path in (out / "figures").iterdir():
        if not path.name.startswith("."):                        # temporaries are hidden files
            assert matplotlib.image.imread(path).ndim == 3


def test_sigkill_while_writing_leaves_old_or_new_complete_files(tmp_path):
    os.environ["PROOFS_CHECK_CODE_VERSION"] = "atomic"
    try:
        _sweep(tmp_path, [PASSING, FAILING, MEAN_RATE])
        _build(tmp_path)
    finally:
        del os.environ["PROOFS_CHECK_CODE_VERSION"]
    _check_consistent(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PROOFS_CHECK_CODE_VERSION="atomic")
    rng = np.random.default_rng(2024)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(HERE)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            time.sleep(rng.uniform(0.2, 2.5))       # somewhere inside one of the passes
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        _check_consistent(tmp_path)
    leftovers = [p for d in (tmp_path, tmp_path / "figures") for p in d.iterdir() if p.name.endswith(".tmp")]
    _build(tmp_path)                                  # the next report removes the killed writers' temporaries
    assert not [p for p in leftovers if p.exists()]
    _check_consistent(tmp_path)


def test_figures_drawn_in_worker_processes_are_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    inline, forked = tmp_path / "inline", tmp_path / "forked"
    _sweep(inline, [PASSING, FAILING, MEAN_RATE])
    _sweep(forked, [PASSING, FAILING, MEAN_RATE])
    calls = []
    md1, html1 = _build(inline, workers=1)
    md2, html2 = _build(forked, workers=2, progress=calls.append)
    assert calls == [c.id for c in ALL]            # in the report's order, whichever figure finished first
    assert md1.read_text() == md2.read_text() and html1.read_text() == html2.read_text()
    for name in ("rep.passing", "rep.failing", "synthetic.mean_rate"):
        assert (inline / "figures" / f"{name}.png").read_bytes() == (forked / "figures" / f"{name}.png").read_bytes()
    assert json.loads((forked / ".cache" / "report-quick" / "rep.failing.json").read_text())["figure_sha256"]


# ---------------------------------------------------------------------------------------- envelopes, legend
def test_envelope_claim_is_reported_as_a_regression_check_and_a_refit_redraws(tmp_path, monkeypatch):
    from proofs_check.rules import EnvelopeTable
    from test_pc_synthetic import envelope_claim

    monkeypatch.setenv("PROOFS_CHECK_CODE_VERSION", "v")
    table = EnvelopeTable([({"K": k}, 0.8 * k ** 0.5, 1.2 * k ** 0.5) for k in (16, 64, 256)], why="by hand")
    claim = envelope_claim(table)
    _sweep(tmp_path, [claim])
    md, html = _build(tmp_path, [claim])
    text = md.read_text()
    assert "| reconstructed; regression check |" in text
    assert "**Rule:** REGRESSION CHECK (not a paper claim)" in text
    # The legend explains every verdict kind and the power column, in both files.
    for needle in ("UNDECIDED -- the runs cannot decide", "FINDING CHANGED -- the pinned statistic left its band",
                   "regression check (an Envelope rule)", "WEAK names a caught mutant"):
        assert needle in text and needle in html.read_text()
    image = matplotlib.image.imread(tmp_path / "figures" / "synthetic.regret_envelope.png")
    assert image.shape[0] > 300
    drawn = []
    real_plot = figures.plot_claim
    monkeypatch.setattr(figures, "plot_claim", lambda res, path, **kw: drawn.append(res.claim.id) or
                        real_plot(res, path, **kw))
    _build(tmp_path, [claim])
    assert drawn == []                                          # unchanged: cached
    refit = envelope_claim(EnvelopeTable([({"K": k}, 0.7 * k ** 0.5, 1.3 * k ** 0.5) for k in (16, 64, 256)],
                                         why="by hand"))
    _build(tmp_path, [refit])
    assert drawn == ["synthetic.regret_envelope"]               # new bands: judged and drawn again
