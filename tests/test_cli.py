"""CLI: list / run / show / report, exit codes, reuse counts, and resume after SIGKILL."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from proofs_check import ResultStore, make_executor, run_claims
from proofs_check.claims import load_claims
from proofs_check.cli import main
from test_pc_synthetic import SLOW_BOUND

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SYNTH = str(HERE / "test_pc_synthetic.py")


def _cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_run_then_list_show_report(tmp_path, capsys):
    out = str(tmp_path)
    code, text = _cli(capsys, "run", "synthetic", "--claims-module", SYNTH, "--out", out, "--workers", "1",
                      "--no-progress")
    assert code == 0, text
    assert "all 2 claims pass and every mutant is caught" in text
    assert re.search(r"(\d+) runs \(quick\): 0 reused from the store, \1 computed", text)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()
    assert (tmp_path / "figures" / "synthetic.mean_rate.png").stat().st_size > 10_000
    assert "| synthetic.mean_rate | PASS |" in (tmp_path / "report.md").read_text()

    code, text = _cli(capsys, "run", "synthetic", "--claims-module", SYNTH, "--out", out, "--workers", "1",
                      "--no-progress")
    assert code == 0 and re.search(r"(\d+) runs \(quick\): \1 reused from the store, 0 computed", text)

    code, text = _cli(capsys, "list", "--claims-module", SYNTH, "--out", out)
    assert code == 0
    line = next(ln for ln in text.splitlines() if ln.startswith("synthetic.mean_rate"))
    assert "paper" in line and "PASS (quick)" in line
    assert "textbook.vi_contraction" in text       # built-in claims are listed too

    code, text = _cli(capsys, "show", "synthetic.mean_rate", "--claims-module", SYNTH, "--out", out)
    assert code == 0
    assert "statement: The error of the sample mean" in text and "provenance: paper" in text
    assert "evidence (quick, 150 runs, 30 seeds/point): PASS -- slope CI [" in text
    assert "mutant reused_sample: caught" in text

    (tmp_path / "report.md").unlink()
    code, text = _cli(capsys, "report", "synthetic", "--claims-module", SYNTH, "--out", out)
    assert code == 0 and (tmp_path / "report.md").is_file()


FAILING_MODULE = '''
import numpy as np
from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Sweep

def observe(params, seed):
    return {"x": np.random.default_rng(seed).random(2)}

def observe_big(params, seed):
    return {"x": np.random.default_rng(seed).random(2) + 2.0}

def observe_same(params, seed):   # the claim's experiment again, under another name
    return {"x": np.random.default_rng(seed).random(2)}

def observe_bigger(params, seed):
    return {"x": np.random.default_rng(seed).random(2) + 3.0}

CLAIMS = [
    Claim(id="bad.uncaught", paper=Paper("t"), statement="x < 1",
          provenance=Provenance("reconstructed", "test"), observe=observe,
          sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
          mutants=[Mutant("same", observe_same, why="identical to the claim: cannot be caught")]),
    Claim(id="bad.false", paper=Paper("t"), statement="x < 1 (false)",
          provenance=Provenance("reconstructed", "test"), observe=observe_big,
          sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
          mutants=[Mutant("big", observe_bigger, why="x")]),
]
'''


def test_failures_give_nonzero_exit_and_readable_summary(tmp_path, capsys):
    module = tmp_path / "pc_failing_claims.py"
    module.write_text(FAILING_MODULE)
    code, text = _cli(capsys, "run", "bad", "--claims-module", str(module), "--out", str(tmp_path / "o"),
                      "--workers", "1", "--no-progress")
    assert code == 1
    lines = text.splitlines()
    header = lines.index("verdict            claim         mutants     summary")
    # One line per claim, columns aligned: label and claim id padded to the widest.
    assert lines[header + 1].startswith("MUTANT NOT CAUGHT  bad.uncaught  0/1 caught  0 of 3 runs exceed the bound")
    assert lines[header + 2].startswith("FAIL               bad.false     1/1 caught  3 of 3 runs exceed the bound")
    assert lines[header + 3] == ""
    assert "2 of 2 claims are not as expected -- 2 FAILED, have an uncaught mutant, or no longer reproduce their " \
           "documented finding: bad.uncaught, bad.false (details: proofs-check show bad.uncaught)" in text
    # The details, and the runner's remark that the mutant recomputes the claim, are in `show`.
    code, text = _cli(capsys, "show", "bad.uncaught", "--claims-module", str(module), "--out", str(tmp_path / "o"))
    assert code == 0 and "mutant same: NOT CAUGHT -- 0 of 3 runs exceed the bound" in text
    assert "note: mutant same: every run is identical to the claim's" in " ".join(text.split())


def test_a_mutant_with_the_claims_own_observe_is_rejected(tmp_path, capsys):
    module = tmp_path / "pc_same_observe.py"
    module.write_text(FAILING_MODULE.replace('Mutant("same", observe_same,', 'Mutant("same", observe,'))
    code, text = _cli(capsys, "list", "--claims-module", str(module), "--out", str(tmp_path))
    assert code == 2 and "mutant 'same' has the claim's own observe" in text and "derive=" in text


FINDINGS_MODULE = FAILING_MODULE.replace("CLAIMS = [", "ALL = [") + '''
FALSE_AS_DOCUMENTED = Claim(id="finding.false", paper=Paper("t"), statement="x < 1 (false)",
    provenance=Provenance("reconstructed", "test"), observe=observe_big,
    sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
    mutants=[Mutant("big", observe_bigger, why="x")], finding="x is shifted by 2 on purpose")
TRUE_BUT_DOCUMENTED_FALSE = Claim(id="finding.gone", paper=Paper("t"), statement="x < 1",
    provenance=Provenance("reconstructed", "test"), observe=observe,
    sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
    mutants=[Mutant("big", observe_bigger, why="x")], finding="said to fail, but it holds")
CLAIMS = [FALSE_AS_DOCUMENTED, TRUE_BUT_DOCUMENTED_FALSE]
'''


def test_documented_findings_are_reported_and_checked_to_reproduce(tmp_path, capsys):
    module = tmp_path / "pc_findings.py"
    module.write_text(FINDINGS_MODULE)
    args = ["--claims-module", str(module), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]
    code, text = _cli(capsys, "run", "finding.false", *args)
    assert code == 0  # a documented finding that reproduces is the expected outcome
    assert re.search(r"^FAIL \(documented\)  finding.false  1/1 caught  3 of 3 runs exceed the bound", text, re.M)
    assert "\n                   documented finding (unpinned): x is shifted by 2 on purpose\n" in text
    assert "1 documented finding(s) (claims that do not hold, or cannot be falsified, as stated) reproduce: finding.false" in text
    report = (tmp_path / "o" / "report.md").read_text()
    assert "**Documented finding (the claim does not hold or cannot be falsified as stated):** x is shifted by 2" in report
    code, text = _cli(capsys, "run", "finding.gone", *args)
    assert code == 1  # the finding no longer reproduces: flagged for review, never silently "passing"
    assert re.search(r"^PASS \(finding gone\?\)  finding.gone  1/1 caught", text, re.M)


PINNED_MODULE = FAILING_MODULE.replace("CLAIMS = [", "ALL = [") + '''
from proofs_check.claim import Finding, Pin

def observe_nan(params, seed):
    return {"x": np.array([np.nan, 0.5])}

def _pinned(cid, band, expect="FAIL"):
    # observe_big: x = U(0, 1)^2 + 2, so max(x) - 1 (the rule's max_excess) lies in (1, 2).
    return Claim(id=cid, paper=Paper("t"), statement="x < 1 (false)",
        provenance=Provenance("reconstructed", "test"), observe=observe_big,
        sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
        mutants=[Mutant("big", observe_bigger, why="x")],
        finding=Finding("x is shifted by 2 on purpose", statistic="claim.max_excess", expect=expect,
                        quick=Pin(sum(band) / 2, band, "test band"), full=Pin(sum(band) / 2, band, "test band")))

CLAIMS = [_pinned("pin.inside", (1.0, 2.0)), _pinned("pin.outside", (0.0, 0.5)),
          _pinned("pin.otherkind", (1.0, 2.0), expect="MUTANT NOT CAUGHT"),
          Claim(id="undecided.nan", paper=Paper("t"), statement="x < 1",
                provenance=Provenance("reconstructed", "test"), observe=observe_nan,
                sweep=Sweep(Grid(i=[0]), Grid(i=[0]), 3, 3), rule=BoundHolds("x"), bound=lambda p: 1.0,
                mutants=[Mutant("big", observe_bigger, why="x")])]
'''


@pytest.mark.parametrize("cid, code, label", [
    ("pin.inside", 0, "FAIL (documented)"),
    ("pin.outside", 1, "FINDING CHANGED"),       # the statistic left its band: a bug that fails differently
    ("pin.otherkind", 1, "FINDING CHANGED"),     # in band, but a FAIL where MUTANT NOT CAUGHT was recorded
    ("undecided.nan", 1, "UNDECIDED"),           # a NaN observation: neither PASS nor FAIL, and not ok
])
def test_pinned_findings_and_undecided_verdicts_set_the_exit_status(tmp_path, capsys, cid, code, label):
    module = tmp_path / "pc_pinned.py"
    module.write_text(PINNED_MODULE)
    args = ["--claims-module", str(module), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]
    got, text = _cli(capsys, "run", cid, *args)
    assert got == code, text
    assert re.search(rf"^{re.escape(label)}\s+{re.escape(cid)}\s", text, re.M), text
    report = (tmp_path / "o" / "report.md").read_text()
    if cid == "pin.inside":
        assert "documented finding: x is shifted by 2" in text and "(unpinned)" not in text
        assert re.search(r"\*\*Pin:\*\* claim.max_excess = 1\.\d+, recorded 1.5, band \[1, 2\] \(test band\); "
                         r"verdict kind FAIL, expected FAIL: reproduces", report)
    if cid == "pin.outside":
        assert "1 FINDING CHANGED (a pinned statistic left its band, or the verdict changed kind): pin.outside" in text
        assert re.search(r"pinned claim.max_excess = 1\.\d+ \(recorded 0.25, band \[0, 0.5\]: OUTSIDE\)", text)
        assert "finding changed (a pinned statistic left its band)" in report
    if cid == "undecided.nan":
        assert "1 UNDECIDED (the runs cannot decide; see the reason): undecided.nan" in text
        assert "UNDECIDED: 3 of 3 runs have NaN or censored entries" in text
        html = (tmp_path / "o" / "report.html").read_text()
        assert "class='k-undecided'" in html and "#6e7781" in html
    if cid == "pin.outside":
        html = (tmp_path / "o" / "report.html").read_text()
        assert "<tr class='k-changed'>" in html and ".b-changed{background:#c62828}" in html
    code_show, shown = _cli(capsys, "show", cid, *args[:4])
    assert code_show == 0 and label in shown


def test_usage_errors(tmp_path, capsys):
    code, text = _cli(capsys, "run", "nope.nothing", "--out", str(tmp_path))
    assert code == 2 and "no claim matches 'nope.nothing'" in text
    code, text = _cli(capsys, "show", "nope.nothing", "--out", str(tmp_path))
    assert code == 2
    code, text = _cli(capsys, "list", "--claims-module", str(tmp_path / "missing.py"), "--out", str(tmp_path))
    assert code == 2 and "does not exist" in text


def test_show_accepts_families_and_unknown_ids_list_families(tmp_path, capsys):
    code, text = _cli(capsys, "show", "synthetic", "--claims-module", SYNTH, "--out", str(tmp_path))
    assert code == 0
    assert "synthetic.mean_rate\n  paper:" in text and "\nsynthetic.slow_bound\n  paper:" in text
    for command in ("show", "run", "report"):
        code, text = _cli(capsys, command, "synthetc", "--claims-module", SYNTH, "--out", str(tmp_path))
        assert code == 2
        assert ("no claim matches 'synthetc'; did you mean 'synthetic'? families: textbook, stepmix, nash, "
                "hf_rfe, contrastive_ucb, synthetic (`proofs-check list` shows every claim id)") in text
        assert "textbook.vi_contraction" not in text       # no dump of every claim id


def test_report_refuses_when_only_unloaded_claims_have_runs(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", out, "--workers", "1",
                "--no-progress")[0] == 0
    good = (tmp_path / "o" / "report.md").read_text()
    hint = ("has runs of claims that are not loaded: synthetic.slow_bound; pass the module defining them "
            "with --claims-module")
    code, text = _cli(capsys, "report", "--out", out)       # the user forgot --claims-module
    assert code == 2 and "no report written" in text and hint in text
    assert (tmp_path / "o" / "report.md").read_text() == good   # the good report is not overwritten
    code, text = _cli(capsys, "show", "synthetic.slow_bound", "--out", out)
    assert code == 2 and hint in text
    code, text = _cli(capsys, "report", "--claims-module", SYNTH, "--out", out)
    assert code == 0 and "not loaded" not in text

    module = tmp_path / "pc_failing_claims.py"
    module.write_text(FAILING_MODULE)
    assert _cli(capsys, "run", "bad.false", "--claims-module", str(module), "--out", out, "--workers", "1",
                "--no-progress")[0] == 1
    code, text = _cli(capsys, "report", "--claims-module", str(module), "--out", out)
    assert code == 0 and "not loaded and are left out of this report: synthetic.slow_bound;" in text
    report = (tmp_path / "o" / "report.md").read_text()
    assert "| bad.false | FAIL |" in report and "missing: run `proofs-check run` to compute them" in report


def test_run_of_everything_warns_about_stored_unloaded_claims(tmp_path, capsys, monkeypatch):
    out = str(tmp_path)
    assert _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", out, "--workers", "1",
                "--no-progress")[0] == 0
    import proofs_check.cli as cli
    monkeypatch.setattr(cli, "_run", lambda selected, args, out: 0)   # do not sweep every built-in claim
    code, text = _cli(capsys, "run", "--out", out)
    assert code == 0 and ("runs of claims that are not loaded and are left out of the report: "
                          "synthetic.slow_bound;") in text
    code, text = _cli(capsys, "run", "textbook", "--out", out)
    assert code == 0 and "not loaded" not in text                    # only when running everything
    code, text = _cli(capsys, "list", "--out", out)
    assert code == 0 and "not loaded and are not listed: synthetic.slow_bound;" in text
    code, text = _cli(capsys, "list", "--claims-module", SYNTH, "--out", out)
    assert code == 0 and "not loaded" not in text and "synthetic.slow_bound" in text


def test_report_on_a_store_without_results(tmp_path, capsys):
    code, text = _cli(capsys, "report", "--out", str(tmp_path / "none"))
    assert code == 2 and "no stored results under" in text and not (tmp_path / "none").exists()
    _cli(capsys, "list", "--out", str(tmp_path / "empty"))            # read-only: creates nothing
    assert not (tmp_path / "empty").exists()
    ResultStore(tmp_path / "empty").close()                           # an empty store
    code, text = _cli(capsys, "report", "textbook", "--full", "--out", str(tmp_path / "empty"))
    assert code == 2 and "none of the 3 selected claims has complete full runs" in text
    assert "run `proofs-check run textbook --full` first" in text
    assert not (tmp_path / "empty" / "report.md").exists()


def _count(db_path):
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:   # schema not created yet
        return 0


def test_sigkill_mid_sweep_then_resume_reuses_every_finished_run(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "proofs_check.cli", "run", "synthetic.slow_bound", "--full", "--workers", "1",
           "--claims-module", SYNTH, "--out", str(killed), "--no-progress"]
    # Pinned code version: other people may edit mdpkit between the two subprocesses.
    env = dict(os.environ, PYTHONPATH=str(ROOT), PROOFS_CHECK_CODE_VERSION="sigkill-test")
    total = 2 * len(SLOW_BOUND.sweep.full) * SLOW_BOUND.sweep.seeds_full   # claim + 1 mutant
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while _count(killed / "results.sqlite") < 15 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = _count(killed / "results.sqlite")
    assert 15 <= finished < total

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{total} runs (full): {finished} reused from the store, {total - finished} computed" in rerun.stdout

    with make_executor(workers=2) as ex, ResultStore(clean) as store:
        clean_report = run_claims([SLOW_BOUND], store=store, budget="full", executor=ex)
        assert clean_report.ok, clean_report.results[0].errors
        uninterrupted = {k[:4]: v for k, v in store.payloads().items()}
    with ResultStore(killed) as store:
        resumed = {k[:4]: v for k, v in store.payloads().items()}
    assert len(resumed) == len(uninterrupted) == total
    differing = [k for k in resumed if resumed[k] != uninterrupted.get(k)]
    assert not differing, (differing[:3], [resumed[k] for k in differing[:1]],
                           [uninterrupted.get(k) for k in differing[:1]])


def test_console_script_is_installed():
    import shutil
    if shutil.which("proofs-check") is None:
        pytest.skip("run `pip install -e . --no-deps` to install the console script")
    res = subprocess.run(["proofs-check", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "run" in res.stdout


# ---------------------------------------------------------------------------- user errors: one line, exit 2
def _one_line_error(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("proofs-check: ") and "Traceback" not in text, text
    return lines[0]


def test_out_that_is_a_file_is_one_line_for_every_command(tmp_path, capsys):
    a_file = tmp_path / "results"
    a_file.write_text("not a directory")
    for args in (["run", "synthetic.slow_bound", "--workers", "1", "--no-progress"], ["list"],
                 ["show", "synthetic.slow_bound"], ["report"]):
        code, text = _cli(capsys, *args, "--claims-module", SYNTH, "--out", str(a_file))
        assert code == 2, args
        assert _one_line_error(text) == f"proofs-check: --out {a_file} is a file, not a results directory"


def test_out_that_cannot_be_created_is_one_line_and_missing_parents_are_made(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for bad in (a_file / "sub", "/proc/proofs_check_cannot_write_here"):
        code, text = _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", str(bad),
                          "--workers", "1", "--no-progress")
        assert code == 2
        assert _one_line_error(text).startswith(f"proofs-check: cannot create the results directory {bad}: ")
    deep = tmp_path / "new" / "nested" / "out"
    code, text = _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", str(deep),
                      "--workers", "1", "--no-progress")
    assert code == 0 and (deep / "results.sqlite").is_file()


def test_unreachable_scheduler_is_one_line_naming_the_address(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    import socket

    import proofs_check.runner as runner

    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT", 2.0)
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    start = time.perf_counter()
    code, text = _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", str(tmp_path),
                      "--scheduler", address, "--no-progress")
    assert code == 2 and time.perf_counter() - start < 60
    line = _one_line_error(text)
    assert line.startswith(f"proofs-check: cannot reach the Dask scheduler at {address} within 2 s")
    code, text = _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", str(tmp_path),
                      "--scheduler", "nonsense", "--no-progress")
    assert code == 2 and _one_line_error(text).startswith("proofs-check: invalid Dask scheduler address 'nonsense' (")


@pytest.mark.parametrize("command", ["run", "list", "show", "report"])
def test_damaged_store_is_one_line_naming_the_file(tmp_path, capsys, command):
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"garbage, not SQLite" * 500)
    args = {"run": ["run", "synthetic.slow_bound", "--workers", "1", "--no-progress"], "list": ["list"],
            "show": ["show", "synthetic.slow_bound"], "report": ["report", "synthetic"]}[command]
    code, text = _cli(capsys, *args, "--claims-module", SYNTH, "--out", str(tmp_path))
    assert code == 2
    line = _one_line_error(text)
    assert f"{db} is damaged" in line and f"move it aside (mv {db} {db}.damaged)" in line


def test_read_only_commands_create_nothing(tmp_path, capsys):
    missing = tmp_path / "missing"
    for args in (["list"], ["show", "synthetic.slow_bound"], ["report"]):
        _cli(capsys, *args, "--claims-module", SYNTH, "--out", str(missing))
        assert not missing.exists(), args
    out = tmp_path / "store"
    assert _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", str(out),
                "--workers", "1", "--no-progress")[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for args in (["list"], ["show", "synthetic.slow_bound"]):
        assert _cli(capsys, *args, "--claims-module", SYNTH, "--out", str(out))[0] == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_corrupt_stored_verdict_is_reported_by_list_and_show(tmp_path, capsys):
    out = str(tmp_path)
    assert _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", out, "--workers", "1",
                "--no-progress")[0] == 0
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.execute("UPDATE verdicts SET verdict = substr(verdict, 1, 50)")   # truncated, as in the issue
    db.commit()
    db.close()
    code, text = _cli(capsys, "list", "--claims-module", SYNTH, "--out", out)
    assert code == 0
    assert re.search(r"^synthetic.slow_bound .* corrupt \(rerun\)$", text, re.M)
    assert ("proofs-check: the stored checksum mismatch for verdict of synthetic.slow_bound (quick budget) is "
            "corrupt and ignored; `proofs-check run synthetic.slow_bound` recomputes it") in text
    code, text = _cli(capsys, "show", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", out)
    assert code == 0 and "evidence: none yet" in text and "is corrupt and ignored" in text
    code, text = _cli(capsys, "run", "synthetic.slow_bound", "--claims-module", SYNTH, "--out", out, "--workers",
                      "1", "--no-progress")
    assert code == 0
    code, text = _cli(capsys, "list", "--claims-module", SYNTH, "--out", out)
    assert "corrupt" not in text and re.search(r"^synthetic.slow_bound .* PASS \(quick\)$", text, re.M)


def test_corrupt_runs_are_reported_counted_and_recomputed_never_silently(tmp_path, capsys):
    out = str(tmp_path)
    args = ["synthetic.slow_bound", "--claims-module", SYNTH, "--out", out]
    assert _cli(capsys, "run", *args, "--workers", "1", "--no-progress")[0] == 0
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.execute("UPDATE runs SET payload = ? WHERE variant = 'claim' AND seed_index = 1",
               (b'{"u":{"data":[0.5,0.5,0.5],"shape":[3]}}',))
    db.commit()
    db.close()
    _cli(capsys, "report", *args)   # reads the store only: deletes nothing
    with ResultStore(tmp_path, readonly=True) as store:
        assert store.count() == 12
    # run: reported (which runs) before anything is recomputed, then counted in the summary line
    code, text = _cli(capsys, "run", *args, "--workers", "1", "--no-progress")
    assert code == 0
    assert "2 corrupt stored run(s) found; they will be recomputed and replaced:" in text
    assert 'synthetic.slow_bound/claim {"i":0,"sleep":0.0} seed 1: checksum mismatch' in text
    assert 'synthetic.slow_bound/claim {"i":1,"sleep":0.0} seed 1: checksum mismatch' in text
    assert "12 runs (quick): 10 reused from the store, 2 computed, 2 corrupt entries recomputed;" in text
    code, text = _cli(capsys, "run", *args, "--workers", "1", "--no-progress")
    assert "corrupt stored run" not in text and "12 reused from the store, 0 computed, 0 corrupt" in text


def test_summaries_are_cut_to_the_terminal_and_findings_take_one_short_line(tmp_path, capsys, monkeypatch):
    module = tmp_path / "pc_long_findings.py"   # a module name of its own: loaded modules are cached
    long_finding = "A long finding. " + "Evidence follows at great length, " * 100
    module.write_text(FINDINGS_MODULE.replace('finding="x is shifted by 2 on purpose"', f'finding={long_finding!r}'))
    monkeypatch.setenv("COLUMNS", "70")
    code, text = _cli(capsys, "run", "finding", "--claims-module", str(module), "--out", str(tmp_path / "o"),
                      "--workers", "1", "--no-progress")
    assert code == 1   # finding.gone no longer reproduces
    table = text[text.index("verdict "):text.index("\n\n", text.index("verdict "))].splitlines()
    assert len(table) == 5 and all(len(line) <= 70 for line in table), table
    assert table[1].startswith("FAIL (documented)     finding.false  1/1 caught  ") and table[1].endswith("...")
    assert table[2] == "                      documented finding (unpinned): A long finding."
    assert table[3].startswith("PASS (finding gone?)  finding.gone   1/1 caught  ")
    assert table[4] == "                      documented finding (unpinned): said to fail,..."   # cut at 70


def test_progress_names_the_claim_and_covers_the_verdicts(tmp_path, capsys):
    code = main(["run", "synthetic", "--claims-module", SYNTH, "--out", str(tmp_path), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 0
    assert re.search(r"runs: 100%.*\b312/312\b.*synthetic\.(mean_rate|slow_bound)", err), err[-500:]
    assert re.search(r"verdicts: 100%.*\b2/2\b.*synthetic\.slow_bound", err), err[-500:]
    n_loaded = len(load_claims([SYNTH]))   # the report covers every loaded claim
    assert re.search(rf"report: 100%.*\b{n_loaded}/{n_loaded}\b.*synthetic\.slow_bound", err), err[-500:]


WAITING_MODULE = '''
import os, time
import numpy as np
from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Sweep

def observe(params, seed):
    # Holds the sweep open until the test creates the release file (at most 60 s).
    deadline = time.time() + 60
    while params["i"] == 1 and not os.path.exists(os.environ["PC_RELEASE"]) and time.time() < deadline:
        time.sleep(0.02)
    return {"x": np.random.default_rng(seed).random(2)}

def derive_shifted(observed):
    return {"x": observed["x"] + 1.0}

CLAIMS = [Claim(id="wait.until_released", paper=Paper("t"), statement="x < 1",
                provenance=Provenance("reconstructed", "test"), observe=observe,
                sweep=Sweep(Grid(i=[0, 1]), Grid(i=[0, 1]), 3, 3), rule=BoundHolds("x", x="i"),
                bound=lambda p: 1.0, mutants=[Mutant("shifted", derive=derive_shifted, why="adds 1")])]
'''


def test_a_second_run_on_the_same_store_refuses_while_the_first_runs(tmp_path):
    """Two real processes: the second gets one line and exit status 2 (the first holds the lock),
    the first is unaffected, and a run after it reuses every run."""
    module, release, out = tmp_path / "pc_waiting.py", tmp_path / "release", tmp_path / "shared"
    module.write_text(WAITING_MODULE)
    cmd = [sys.executable, "-m", "proofs_check.cli", "run", "wait", "--workers", "1", "--claims-module",
           str(module), "--out", str(out), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PROOFS_CHECK_CODE_VERSION="lock-test", PC_RELEASE=str(release))
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60   # the i = 0 runs are stored; the first then waits for the release
        while _count(out / "results.sqlite") < 3 and time.time() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()
        second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert first.poll() is None   # the refusal came while the first was still running
        assert second.returncode == 2 and second.stdout == ""
        assert second.stderr == (f"proofs-check: the results store {out / 'results.sqlite'} is in use by another "
                                 f"proofs-check run (pid {first.pid}); wait for it to finish or give another "
                                 "--out\n")
        release.touch()
        stdout, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stdout + stderr
        assert "6 runs (quick): 0 reused from the store, 6 computed" in stdout
    finally:
        release.touch()
        if first.poll() is None:
            first.kill()
    third = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "6 runs (quick): 6 reused from the store, 0 computed" in third.stdout
