"""The tutorial notebook docs/tutorials/07_verify_your_own_claim.md runs as written (so it cannot rot).

The notebook's code cells are executed in order, in one namespace, from an empty directory: a
``%%writefile [-a] FILE`` cell writes (appends) its body to FILE exactly as IPython would, every
other cell is plain Python. The cells run the ``proofs-check`` command line in subprocesses, as a
user would; the test then checks the outcomes the tutorial narrates, independently of the
notebook's own asserts.
"""
import importlib.util
import re
from pathlib import Path

from notebook_cells import code_cells, run_cell as _run_cell

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorials" / "07_verify_your_own_claim.md"


def run_cell(cell: str, namespace: dict) -> None:
    _run_cell(cell, namespace, NOTEBOOK)


def test_code_cells_parser_reads_options_and_magics(tmp_path, monkeypatch):
    text = ("intro\n```{code-cell} ipython3\n%%writefile m.py\nx = 1\n```\n"
            "```{code-cell} ipython3\n:tags: [hide-cell]\n:mystnb:\n:  code_prompt_show: s\n\ny = x_file\n```\n"
            "```python\nnot = a cell\n```\n")
    cells = code_cells(text)
    assert cells == ["%%writefile m.py\nx = 1\n", "\ny = x_file\n"]
    monkeypatch.chdir(tmp_path)
    run_cell(cells[0], {})
    run_cell("%%writefile -a m.py\ny = 2\n", {})
    assert (tmp_path / "m.py").read_text() == "x = 1\ny = 2\n"


def test_tutorial_notebook_runs_as_documented(tmp_path, monkeypatch):
    text = NOTEBOOK.read_text()
    cells = code_cells(text)
    modules = [c for c in cells if c.startswith("%%writefile")]
    first = modules[0].partition("\n")[2]
    assert len(first.splitlines()) <= 40   # the claim itself, imports aside, stays short

    # The story's commands, in order: run (mutant slips through), run (fixed), show, report.
    story = [cmd for c in code_cells(text.split("## Exercises")[0])
             for cmd in re.findall(r'proofs_check\("([^"]+)"\)', c)]
    assert [cmd.split()[0] for cmd in story] == ["run", "run", "show", "report"], story
    assert all("--claims-module my_claims.py" in cmd for cmd in story), story

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROOFS_CHECK_OUT", raising=False)
    monkeypatch.delenv("PROOFS_CHECK_CODE_VERSION", raising=False)   # the version follows my_claims.py
    namespace: dict = {"__name__": "__tutorial__"}
    has_ipython = importlib.util.find_spec("IPython") is not None
    out = tmp_path / "proofs_check_results"
    for cell in cells:
        if "from IPython" in cell and not has_ipython:
            continue                                     # display only (IPython is in the docs extra)
        if 'proofs_check("report' in cell:
            (out / "report.md").unlink()                 # the report command must rewrite it
        run_cell(cell, namespace)

    first_run, second_run = namespace["first_run"], namespace["second_run"]
    assert first_run.returncode == 1
    # the upper bound alone misses the bug
    assert re.search(r"^MUTANT NOT CAUGHT +mine.random_policy_gap +0/1 caught", first_run.stdout, re.M)
    assert second_run.returncode == 0
    assert re.search(r"^PASS +mine.random_policy_gap +1/1 caught", second_run.stdout, re.M)
    assert namespace["shown"].returncode == 0 and "evidence (quick" in namespace["shown"].stdout
    assert namespace["reported"].returncode == 0
    assert "| mine.random_policy_gap | PASS |" in (out / "report.md").read_text()
    assert (out / "figures" / "mine.random_policy_gap.png").is_file()
    # exercise 1: a mutant that keeps the quantity inside the bounds is not caught
    assert namespace["halved"].returncode == 1 and "1/2 caught" in namespace["halved"].stdout
