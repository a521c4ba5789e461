"""``proofs-check mutate``: the ast mutator, the import hook (numba included), an end-to-end run on
a tiny user claims module, and the command's user errors."""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from proofs_check import cli
from proofs_check._mutate_worker import MutantFinder, install
from proofs_check.mutate import (BUILTIN_TARGETS, _relocations, _scrub, generate_mutants, module_file, mutate_family,
                                 numba_dependents, resolve_targets, write_outputs)


def mutated_lines(source: str, operator: str | None = None) -> list[str]:
    return [m.mutated for m in generate_mutants(source, "m") if operator is None or m.operator == operator]


# ---------------------------------------------------------------------------------------------
# The mutator
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, operator, expected", [
    ("y = a + b\n", "arith", ["y = a - b"]),
    ("y = a * b\n", "arith", ["y = a / b"]),
    ("y = a // b\n", "arith", ["y = a / b"]),
    ("y = a ** b\n", "arith", ["y = a * b"]),
    ("y = m & n\n", "arith", ["y = m | n"]),
    ("y += 2\n", "augassign", ["y -= 2"]),
    ("y = a < b\n", "compare", ["y = a <= b"]),
    ("y = a >= b\n", "compare", ["y = a > b"]),
    ("y = a == b\n", "compare", ["y = a != b"]),
    ("y = a is not None\n", "compare", ["y = a is None"]),
    ("y = a not in b\n", "compare", ["y = a in b"]),
    ("y = 0\n", "const", ["y = 1"]),
    ("y = 1\n", "const", ["y = 0", "y = 2"]),
    ("y = 7\n", "const", ["y = 8"]),
    ("y = 0.5\n", "const", ["y = 1.0", "y = 0.25"]),
    ("y = 1.0\n", "const", ["y = 0.0", "y = 2.0", "y = 0.5"]),
    ("y = True\n", "const", ["y = False"]),
    ("y = x[i]\n", "index", ["y = x[(i + 1)]", "y = x[(i - 1)]"]),
    ("y = x[i:j]\n", "index", ["y = x[(i + 1):j]", "y = x[(i - 1):j]", "y = x[i:(j + 1)]", "y = x[i:(j - 1)]"]),
    ("y = a + b\n", "drop_term", ["y = (a)", "y = (b)"]),
    ("y = a - b\n", "drop_term", ["y = (a)"]),
    ("y = -a\n", "drop_unary", ["y = (a)"]),
    ("y = not a\n", "drop_unary", ["y = (a)"]),
    ("y = a and b and c\n", "boolop", ["y = a or b or c"]),
    ("def f(x):\n    return x * 2\n", "return", ["return (None)"]),
    ("y = np.sqrt(x)\n", "drop_call", ["y = (x)"]),
    ("y = np.clip(x, 0, 1)\n", "drop_call", ["y = (x)"]),
    ("y = max(a, b)\n", "swap_call", ["y = min(a, b)"]),
    ("y = np.argmax(q)\n", "swap_call", ["y = np.argmin(q)"]),
])
def test_each_operator(source, operator, expected):
    assert sorted(mutated_lines(source, operator)) == sorted(expected)


def test_a_mutant_keeps_every_line_number():
    source = textwrap.dedent('''\
        def f(a, b):
            total = (a
                     + b)
            return total * 2
        ''')
    mutants = generate_mutants(source, "m")
    assert mutants
    for m in mutants:
        assert m.source.count("\n") == source.count("\n")
        compile(m.source, "<mutant>", "exec")
    dropped = [m for m in mutants if m.operator == "drop_term" and m.line == 2]
    assert dropped and all(m.source.splitlines()[3] == "    return total * 2" for m in dropped)


def test_mutants_identical_after_unparse_are_deduplicated():
    # x[0] -> x[1] comes from both the constant and the index operator; (a) -> a once, not twice.
    mutants = generate_mutants("y = x[0]\nz = (a) + (a)\n", "m")
    sources = [ast.unparse(ast.parse(m.source)) for m in mutants]
    assert len(sources) == len(set(sources))
    assert [m.mutated for m in mutants].count("y = x[1]") == 1
    assert sum(m.mutated in ("z = (a)", "z = ((a))") for m in mutants) == 1   # a + a -> a either way
    # a mutant equal to the original once unparsed is dropped: nothing here can produce one
    assert ast.unparse(ast.parse("y = x[0]\nz = (a) + (a)\n")) not in sources


def test_skip_rules():
    source = textwrap.dedent('''\
        """Module docstring 1 + 1."""
        from typing import TYPE_CHECKING
        __all__ = ["f"]
        if TYPE_CHECKING:
            x = 1 + 1


        def check_positive(n):
            if n < 1:
                raise ValueError("n + 1")
            return n > 0


        @decorate(cache=True, level=2)
        def f(n: int = 3, scale: float = 2.0) -> list[int]:
            """Docstring 2 + 2."""
            if n <= 0:
                message = f"n = {n + 1}"
                raise ValueError(message)
            assert n > 0, "n > 0"
            print("progress", n + 1)
            logger.info("n %d", n - 1)
            warnings.warn(f"{n * 2}")
            bar.update(1)
            for i in tqdm(range(n + 1)):
                pass
            return n * scale
        ''')
    mutants = generate_mutants(source, "m")
    lines = {m.line for m in mutants}
    # Only the default values (line 15) and the final return (line 27) are mutated.
    assert lines == {15, 27}, sorted((m.line, m.operator, m.mutated) for m in mutants)
    assert {m.mutated for m in mutants if m.line == 15} == {
        "def f(n: int = 4, scale: float = 2.0) -> list[int]:",     # the annotations are never touched
        "def f(n: int = 3, scale: float = 4.0) -> list[int]:",
        "def f(n: int = 3, scale: float = 1.0) -> list[int]:"}


def test_builtin_targets_match_the_claims_modules_imports():
    for family, targets in BUILTIN_TARGETS.items():
        for name in targets:
            assert module_file(name).is_file()
        assert resolve_targets(family) == targets
    assert resolve_targets("nash", override=["x.y"]) == ("x.y",)
    kernels = "mdpkit.algorithms._ucbvi_kernels"
    assert "mdpkit.learners._harness_kernels" in [n for n, _ in numba_dependents(kernels, module_file(kernels))]
    assert numba_dependents("mdpkit.algorithms.nash_mp", module_file("mdpkit.algorithms.nash_mp")) == []
    with pytest.raises(ValueError, match="no mutation targets"):
        resolve_targets("textbook")


# ---------------------------------------------------------------------------------------------
# The import hook
# ---------------------------------------------------------------------------------------------

def test_finder_serves_the_mutated_module_and_leaves_the_file_alone(tmp_path):
    package = tmp_path / "hookpkg_a"
    package.mkdir()
    (package / "__init__.py").write_text("")
    original = "def value():\n    return 1 + 1\n"
    (package / "mod.py").write_text(original)
    (package / "user.py").write_text("from .mod import value\n\ndef twice():\n    return 2 * value()\n")
    mutant = next(m for m in generate_mutants(original, "hookpkg_a.mod", str(package / "mod.py"))
                  if m.mutated == "return 1 - 1")
    modules = _relocations(mutant, {}, tmp_path / "work")
    sys.path.insert(0, str(tmp_path))
    try:
        finder = install(modules)
        import hookpkg_a.user as user

        assert user.twice() == 0          # the mutant: 1 - 1
        assert sys.modules["hookpkg_a.mod"].__file__ == modules["hookpkg_a.mod"]
        assert (package / "mod.py").read_text() == original
        with pytest.raises(RuntimeError, match="already imported"):
            install(modules)
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("hookpkg_a")]:
            del sys.modules[name]
    assert isinstance(finder, MutantFinder)


NUMBA_KERNEL = """from numba import njit


@njit(cache=True)
def bump(x):
    return x + 1
"""
NUMBA_USER = """from numba import njit

from .kern import bump


@njit(cache=True)
def tenfold(x):
    return bump(x) * 10
"""


def _numba_probe(tmp_path, modules: dict) -> list:
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from proofs_check._mutate_worker import install
        install(json.loads({json.dumps(json.dumps(modules))}))
        from nbpkg.kern import bump
        from nbpkg.user import tenfold
        print(json.dumps([bump(1), tenfold(1)]))
        """)
    # The probe reads numba's cache beside the package: a NUMBA_CACHE_DIR of the caller would move it.
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_mutated_numba_module_recompiles_and_the_shared_cache_is_untouched(tmp_path):
    pytest.importorskip("numba")
    package = tmp_path / "nbpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kern.py").write_text(NUMBA_KERNEL)
    (package / "user.py").write_text(NUMBA_USER)
    assert _numba_probe(tmp_path, {}) == [2, 20]                     # fills nbpkg/__pycache__
    cache = {p.name: p.read_bytes() for p in (package / "__pycache__").glob("*.nb*")}
    assert any(name.startswith("kern.") for name in cache) and any(name.startswith("user.") for name in cache)

    sys.path.insert(0, str(tmp_path))
    try:
        dependents = {"nbpkg.kern": numba_dependents("nbpkg.kern", package / "kern.py")}
    finally:
        sys.path.remove(str(tmp_path))
    # user.py compiles kern's bump into its own cached tenfold: it must recompile as well.
    assert [name for name, _ in dependents["nbpkg.kern"]] == ["nbpkg.user"]
    mutant = next(m for m in generate_mutants(NUMBA_KERNEL, "nbpkg.kern", str(package / "kern.py"))
                  if m.mutated == "return x - 1")
    work = tmp_path / "mutant"
    modules = _relocations(mutant, dependents, work)
    assert _numba_probe(tmp_path, modules) == [0, 0]                 # the mutant, also inside tenfold
    assert list((work / "src" / "nbpkg" / "__pycache__").glob("kern.*.nbi"))   # its own cache
    assert {p.name: p.read_bytes() for p in (package / "__pycache__").glob("*.nb*")} == cache
    assert (package / "kern.py").read_text() == NUMBA_KERNEL
    assert _numba_probe(tmp_path, {}) == [2, 20]                     # the original, from its cache


# ---------------------------------------------------------------------------------------------
# End to end on a user's claims module
# ---------------------------------------------------------------------------------------------

TINY_LEARNER = '''def estimate(x):
    """Twice x."""
    return 2.0 * x


def unused():
    return 3
'''

TINY_CLAIMS = '''from proofs_check import BoundHolds, Claim, Grid, Mutant, Paper, Provenance, Sweep

MUTATION_TARGETS = ("tiny_mut_learner",)


def observe(params, seed):
    import tiny_mut_learner

    return {"value": tiny_mut_learner.estimate(params["x"])}


def inflate(observed):
    return {"value": observed["value"] * 10}


CLAIMS = [Claim(id="tinymut.bound", paper=Paper("t"), statement="estimate(x) <= 2x + 0.1",
                provenance=Provenance("reconstructed", "test"), observe=observe,
                sweep=Sweep(Grid(x=[1.0, 2.0]), Grid(x=[1.0, 2.0]), 2, 2), rule=BoundHolds("value"),
                bound=lambda p: 2 * p["x"] + 0.1,
                mutants=[Mutant("inflated", derive=inflate, why="10x the estimate")])]
'''


@pytest.fixture
def tiny_family(tmp_path, monkeypatch):
    (tmp_path / "tiny_mut_learner.py").write_text(TINY_LEARNER)
    claims = tmp_path / "tiny_mut_claims.py"
    claims.write_text(TINY_CLAIMS)
    monkeypatch.chdir(tmp_path)
    return claims


def test_end_to_end_caught_survived_and_equivalent(tiny_family, tmp_path):
    report = mutate_family("tinymut", [str(tiny_family)], sample=100, seed=0, jobs=2, progress=False)
    by_change = {r.mutation.mutated: r for r in report.results if r.mutation.line == 3}
    # the pool: 2.0 -> 4.0, 2.0 -> 1.0, * -> /, (2.0), (x), return None; unused(): 3 -> 4, return None
    assert len(report.results) == report.pool == 8
    assert by_change["return 4.0 * x"].outcome == "caught"                 # 4x > 2x + 0.1
    assert by_change["return 4.0 * x"].claim == "tinymut.bound"
    assert by_change["return 1.0 * x"].outcome == "survived"               # smaller: the bound holds
    assert by_change["return 1.0 * x"].detail == "observations differ in tinymut.bound (4 runs)"
    assert by_change["return (None)"].outcome == "caught"                  # NaN observations: UNDECIDED
    equivalent = [r for r in report.results if r.outcome == "equivalent"]
    assert {r.mutation.line for r in equivalent} == {7}                    # unused() is never called
    assert all(r.unexecuted and "never ran" in r.detail for r in equivalent)   # and that is said
    assert not any(r.unexecuted for r in report.results if r.outcome != "equivalent")
    assert report.count("equivalent") == 2 and report.non_equivalent == 6
    assert report.score == pytest.approx(report.caught / 6)
    assert (tmp_path / "tiny_mut_learner.py").read_text() == TINY_LEARNER  # never edited
    assert not (tmp_path / "proofs_check_results").exists()               # no store of the user's

    paths = write_outputs(report, tmp_path / "out")
    rows = list(csv.DictReader(open(paths["mutants"], encoding="utf-8")))
    assert len(rows) == 8 and {r["outcome"] for r in rows} == {"caught", "survived", "equivalent"}
    assert all(r["location"].startswith("tiny_mut_learner.py:") for r in rows)
    survivors = paths["survivors"].read_text()
    assert "-    return 2.0 * x" in survivors and "+    return 1.0 * x" in survivors
    assert "equivalent: every observation" in survivors
    assert "observations differ in tinymut.bound (4 runs) (every claim still as expected)." in survivors
    assert "score = caught / non-equivalent" in paths["summary"].read_text()
    assert re.search(r"\| +of which never executed by the claims +\| 2 \|", paths["summary"].read_text())

    # a smaller sample is the prefix of the same shuffled pool (deterministic given the seed)
    small = mutate_family("tinymut", [str(tiny_family)], sample=2, seed=0, jobs=2, progress=False)
    order = [r.mutation.id for r in report.results]
    assert [r.mutation.id for r in small.results] == order[:len(small.results)]
    assert small.non_equivalent == 2


LOOPING_LEARNER = '''def estimate(x):
    k = 0
    while k < 3:
        k += 1
    values = [2.0]
    return values[0] * x + 0 * k
'''


def test_a_timeout_and_a_crash_are_caught_and_reported_apart(tiny_family, tmp_path):
    (tmp_path / "tiny_mut_learner.py").write_text(LOOPING_LEARNER)
    report = mutate_family("tinymut", [str(tiny_family)], sample=100, jobs=2, progress=False,
                           operators={"augassign", "index"}, timeout_factor=1.0, timeout_extra=5.0)
    by_change = {r.mutation.mutated: r.outcome for r in report.results}
    assert by_change == {"k -= 1": "caught (timeout)",                 # never leaves the loop
                         "return values[1] * x + 0 * k": "caught (error)",   # IndexError in observe
                         "return values[(-1)] * x + 0 * k": "equivalent"}     # the same element
    error = next(r for r in report.results if r.outcome == "caught (error)")
    assert error.claim == "tinymut.bound" and "IndexError" in error.detail
    assert report.score == 1.0 and report.non_equivalent == 2
    # values[-1] is the same element: equivalent although its line ran (not flagged as untested)
    assert not any(r.unexecuted for r in report.results)


# ---------------------------------------------------------------------------------------------
# Command-line errors
# ---------------------------------------------------------------------------------------------

def _one_line_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("proofs-check: ")
    return err


def test_cli_user_errors(capsys, tmp_path, tiny_family):
    assert "nash" in _one_line_error(capsys, ["mutate", "nashh"])                    # unknown family
    assert "no mutation targets" in _one_line_error(capsys, ["mutate", "textbook"])
    assert "cannot be found" in _one_line_error(capsys, ["mutate", "nash", "--target", "no_such_module_xyz"])
    assert "sample" in _one_line_error(capsys, ["mutate", "nash", "--sample", "0"])
    (tmp_path / "afile").write_text("x")
    assert "is a file" in _one_line_error(capsys, ["mutate", "nash", "--out", str(tmp_path / "afile")])
    assert "does not exist" in _one_line_error(capsys, ["mutate", "x", "--claims-module", "nope.py"])


def test_cli_run_prints_the_table_and_writes_the_files(capsys, tmp_path, tiny_family):
    out = tmp_path / "mutation"
    assert cli.main(["mutate", "tinymut", "--claims-module", str(tiny_family), "--operator", "const",
                     "--sample", "5", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| mutants run" in printed and "score = caught / non-equivalent" in printed
    assert "survived tiny_mut_learner-" in printed and "return 2.0 * x -> return 1.0 * x" in printed
    summary = (out / "summary.md").read_text()
    assert "--operator const" in summary and "| caught by claims" in summary
    rows = list(csv.DictReader(open(out / "mutants.csv", encoding="utf-8")))
    assert sorted(r["mutated"] for r in rows) == ["return 1.0 * x", "return 4", "return 4.0 * x"]


def test_reports_name_no_machine_paths(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.chdir(tmp_path)
    tmp = tempfile.gettempdir()
    text = f"{tmp_path}/pkg/mod.py:3: W | {tmp}/proofs_check_mutate_x1/m-3/src/pkg/mod.py:12 | {tmp}/other"
    assert _scrub(text) == "pkg/mod.py:3: W | <tmp>/pkg/mod.py:12 | <tmp>/other"
