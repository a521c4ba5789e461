"""The tutorial in docs/verify_your_own_claim.md runs as written (so it cannot rot).

Every ``proofs-check ...`` command the tutorial shows is run exactly as written, from the
directory holding ``my_claims.py`` with the default results directory.
"""
import re
import shlex
from pathlib import Path

from proofs_check.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "verify_your_own_claim.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _commands():
    """``proofs-check`` commands in the doc's plain code blocks and inline code, in order."""
    text = re.sub(r"```python\n.*?```", "", DOC.read_text(), flags=re.S)
    found = re.findall(r"```\n(proofs-check [^`]*?)\n```|`(proofs-check [^`]+)`", text)
    return [shlex.split(" ".join((block or inline).split()))[1:] for block, inline in found]


def test_tutorial_snippets_run_as_documented(tmp_path, capsys, monkeypatch):
    first, second = _python_blocks()
    assert len(first.splitlines()) <= 40   # the claim itself, imports aside, stays short
    run, *later = _commands()
    assert run[0] == "run" and [c[0] for c in later] == ["show", "report"], (run, later)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROOFS_CHECK_OUT", raising=False)
    module = tmp_path / "my_claims.py"
    module.write_text(first)
    assert main(run) == 1
    text = capsys.readouterr().out
    assert re.search(r"^MUTANT NOT CAUGHT +mine.random_policy_gap +0/1 caught", text, re.M)  # upper bound alone misses the bug

    module.write_text(first + "\n" + second)
    assert main(run) == 0
    text = capsys.readouterr().out
    assert re.search(r"^PASS +mine.random_policy_gap +1/1 caught", text, re.M)
    out = tmp_path / "proofs_check_results"
    (out / "report.md").unlink()
    show, report = later
    assert main(show) == 0
    assert "evidence (quick" in capsys.readouterr().out
    assert main(report) == 0
    assert "| mine.random_policy_gap | PASS |" in (out / "report.md").read_text()
    assert (out / "figures" / "mine.random_policy_gap.png").is_file()
