"""The tutorial in docs/verify_your_own_claim.md runs as written (so it cannot rot)."""
import re
from pathlib import Path

from proofs_check.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "verify_your_own_claim.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_tutorial_snippets_run_as_documented(tmp_path, capsys):
    first, second = _python_blocks()
    assert len(first.splitlines()) <= 40   # "in 20 lines": the claim itself, imports aside, stays short
    module = tmp_path / "my_claims.py"
    module.write_text(first)
    out = tmp_path / "results"
    args = ["run", "mine", "--claims-module", str(module), "--workers", "1", "--out", str(out), "--no-progress"]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "MUTANT NOT CAUGHT  mine.random_policy_gap" in text     # upper bound alone misses the bug

    module.write_text(first + "\n" + second)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "PASS               mine.random_policy_gap" in text and "mutant off_by_one: caught" in text
    assert main(["show", "mine.random_policy_gap", "--claims-module", str(module), "--out", str(out)]) == 0
    assert "evidence (quick" in capsys.readouterr().out
    assert (out / "report.md").is_file() and (out / "figures" / "mine.random_policy_gap.png").is_file()
