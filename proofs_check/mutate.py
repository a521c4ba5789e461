"""``proofs-check mutate FAMILY``: mutation testing of a family's claims.

How many realistic bugs in the algorithm code would the family's *claims* (not the unit tests)
catch? Each mutant is one small edit of one source module -- an operator or comparison swapped, a
constant perturbed, an index moved by one, a term dropped, ... (:data:`OPERATORS`) -- run through
the family's claims at the quick budget exactly as ``proofs-check run`` judges them.

Pipeline (:func:`mutate_family`)

1. **Targets.** The modules to mutate: ``--target`` on the command line, else ``MUTATION_TARGETS``
   declared by the claims module that defines the family, else the built-in mapping
   :data:`BUILTIN_TARGETS`.
2. **Mutants.** A small ``ast`` mutator (:func:`generate_mutants`) finds every mutation site
   and splices the edit into the original text (line numbers are kept, so ``file:line`` and
   tracebacks point at the original file). Docstrings, annotations, decorators, argument
   validation (``if ...: raise`` branches, ``assert``, ``check_*``/``validate_*`` functions),
   logging/progress calls, f-strings and ``__all__`` are not mutated. Mutants whose source is
   identical after ``ast.unparse`` are deduplicated (and one identical to the original dropped).
   The pool is shuffled with ``--seed``.
3. **Baseline.** The unmutated family runs once (in a subprocess, like every mutant) at the same
   budget: its wall time sets the timeout, its per-claim times order the claims (cheapest first),
   a claim whose baseline verdict is not as expected cannot catch anything and is left out (and
   reported), and the digests of its observations are the reference for equivalence.
4. **Mutants run**, each in its own subprocess (``--jobs`` at a time) with a fresh temporary
   store, never the user's. An import hook (a meta-path finder) serves the mutated source of that
   one module from a temporary file -- the repository is never edited. numba keys its on-disk
   cache on the source file, so the mutated module (and any numba module that imports it, whose
   compiled code would otherwise have the original inlined) gets its own file and recompiles;
   every other module keeps the shared cache. Claims run one at a time; the first whose verdict
   is not as expected (not ``PASS``, not a reproducing finding) catches the mutant, and the rest
   are skipped.
5. **Outcomes.** ``caught`` (a claim's verdict), ``caught (error)`` (a run raised, or the
   subprocess crashed), ``caught (timeout)`` (slower than ``timeout_factor`` x the baseline plus
   ``timeout_extra`` seconds), ``survived``, and ``equivalent``: a survivor whose observations
   equal the baseline's bit for bit on every run (its edit changed nothing any claim observes).
   Equivalent mutants are excluded from the score and sampling continues until ``--sample``
   non-equivalent mutants have run (or the pool is exhausted); with parallel jobs the result is
   the same prefix of the shuffled pool whatever the completion order.

Why not a mutation-testing library: mutmut (3.x) mutates a copy of the source tree with
trampolines and drives its own pytest runner, and cosmic-ray drives its own session database and
workers from a configuration file; neither offers its operators as a function "source in, mutated
sources out" that we could call, and both mutate files on disk, while here a mutant must be
served to one subprocess through an import hook. The operators below follow the usual set.
"""

from __future__ import annotations

import ast
import bisect
import concurrent.futures as cf
import csv
import difflib
import hashlib
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Modules mutated for each built-in family (checked against the claims modules' imports).
BUILTIN_TARGETS = {
    "stepmix": ("mdpkit.algorithms.stepmix", "mdpkit.algorithms.ucbvi", "mdpkit.algorithms._ucbvi_kernels"),
    "nash": ("mdpkit.algorithms.nash_mp", "mdpkit.algorithms.nash_mp_approx", "mdpkit.algorithms.nash_md",
             "mdpkit.algorithms.mmd", "mdpkit.algorithms.mwu", "mdpkit.algorithms._mwu_kernels",
             "mdpkit.algorithms._preference_common"),
    "hf_rfe": ("mdpkit.algorithms.hf_rfe", "mdpkit.algorithms.ucrl_rfe", "mdpkit.algorithms._linear_kernels"),
    "contrastive_ucb": ("mdpkit.algorithms.contrastive_ucb", "mdpkit.algorithms.contrastive",
                        "mdpkit.algorithms._contrastive_kernels", "mdpkit.algorithms.lsvi_ucb"),
}

#: The mutation operators (name: what it does).
OPERATORS = {
    "arith": "arithmetic operator swapped (+ -, * /, // /, ** *, % //, & |)",
    "compare": "comparison swapped (< <=, > >=, == !=, is / is not, in / not in)",
    "const": "numeric constant perturbed (0 <-> 1, int c -> c+1, float c -> 2c and c/2, True <-> False)",
    "index": "index or slice bound moved by +1 / -1",
    "drop_term": "a term dropped (x + y -> x or y, x - y -> x, x * y -> x or y, x / y -> x)",
    "drop_unary": "unary minus or `not` dropped",
    "boolop": "boolean and <-> or",
    "return": "return value replaced by None",
    "drop_call": "a call replaced by its argument (np.sqrt(x) -> x, log, exp, abs, clip, ...)",
    "swap_call": "max <-> min (also maximum/minimum, argmax/argmin, amax/amin)",
    "augassign": "augmented assignment operator swapped (+= -=, *= /=)",
}

OUTCOMES = ("caught", "caught (error)", "caught (timeout)", "survived", "equivalent")

_ARITH_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv,
               ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Pow: "**",
           ast.Mod: "%", ast.BitAnd: "&", ast.BitOr: "|"}
_COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_COMPARE_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
                   ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# Token patterns: a "<" must not be the start of "<=", a "*" not part of "**", "in" not part of "not in".
_TOKEN_RE = {"+": r"\+", "-": r"-", "*": r"(?<!\*)\*(?!\*)", "/": r"(?<!/)/(?!/)", "//": r"//",
             "**": r"\*\*", "%": r"%", "&": r"&", "|": r"\|",
             "<": r"<(?!=)", "<=": r"<=", ">": r">(?!=)", ">=": r">=", "==": r"==", "!=": r"!=",
             "is": r"\bis\b(?!\s+not\b)", "is not": r"\bis\s+not\b", "in": r"(?<!not )\bin\b",
             "not in": r"\bnot\s+in\b", "and": r"\band\b", "or": r"\bor\b"}
_UNARY_CALLS = {"sqrt", "exp", "log", "log1p", "expm1", "abs", "fabs", "square", "log2", "log10", "cbrt"}
_SWAP_CALLS = {"max": "min", "min": "max", "maximum": "minimum", "minimum": "maximum", "amax": "amin",
               "amin": "amax", "argmax": "argmin", "argmin": "argmax", "nanmax": "nanmin", "nanmin": "nanmax"}
_LOG_ROOTS = {"logging", "logger", "log", "_log", "_logger", "LOGGER", "warnings"}
_VALIDATION_FN = re.compile(r"^_?(check|validate)")


@dataclass(frozen=True)
class Mutation:
    """One mutant: an edit of one module's source.

    ``line`` is the 1-based line of the edit in the original file; the mutated source has the
    same number of lines (multi-line replacements are padded inside parentheses).
    """

    id: str
    module: str
    path: str          # the original source file
    line: int
    operator: str
    original: str      # the original line (stripped)
    mutated: str       # the same line in the mutant (stripped)
    source: str        # the whole mutated source

    @property
    def location(self) -> str:
        return f"{_display_path(self.path)}:{self.line}"

    def diff(self, original_source: str) -> str:
        """Unified diff of the mutant against the original source (2 lines of context)."""
        name = _display_path(self.path)
        return "".join(difflib.unified_diff(original_source.splitlines(True), self.source.splitlines(True),
                                            f"a/{name}", f"b/{name}", n=2))


def _display_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# The mutator
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Edit:
    start: int          # byte offsets in the UTF-8 source
    end: int
    text: str
    operator: str


class _Sites:
    """Every mutation site of one module, as byte-range edits of its source."""

    def __init__(self, source: str):
        self.source = source
        self.data = source.encode("utf-8")
        self.line_start = [0]
        for line in self.data.splitlines(keepends=True):
            self.line_start.append(self.line_start[-1] + len(line))
        self.edits: list[_Edit] = []

    # -- positions -------------------------------------------------------------------------
    def offset(self, lineno: int, col: int) -> int:
        return self.line_start[lineno - 1] + col

    def span(self, node) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8")

    def add(self, start: int, end: int, text: str, operator: str) -> None:
        self.edits.append(_Edit(start, end, text, operator))

    def replace_node(self, node, text: str, operator: str) -> None:
        """Replace an expression node by ``text`` in parentheses, padded to keep the line count."""
        start, end = self.span(node)
        pad = self.text(start, end).count("\n") - text.count("\n")
        self.add(start, end, "(" + text + "\n" * max(pad, 0) + ")", operator)

    def replace_token(self, after, before, symbol: str, new: str, operator: str) -> None:
        """Replace the token ``symbol`` found between the end of node ``after`` and the start of
        node ``before`` (parentheses, spaces and line continuations may surround it)."""
        lo, hi = self.span(after)[1], self.span(before)[0]
        gap = self.text(lo, hi).split("#", 1)[0]
        pattern = _TOKEN_RE.get(symbol) or re.escape(symbol)   # augmented assignments: "+=", "//=", ...
        match = re.search(pattern, gap)
        if match is None:   # e.g. an implicit operator we cannot locate: no mutant, never a wrong one
            return
        start = lo + len(gap[:match.start()].encode("utf-8"))
        end = lo + len(gap[:match.end()].encode("utf-8"))
        self.add(start, end, new, operator)

    # -- the walk ----------------------------------------------------------------------------
    def walk(self, node) -> None:
        if _skipped(node):
            return
        self.mutate(node)
        skip_fields = _SKIP_FIELDS.get(type(node), ())
        if isinstance(node, ast.If) and _is_raise_branch(node):
            skip_fields = ("test", "body")
        for name, value in ast.iter_fields(node):
            if name in skip_fields:
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.walk(item)
            elif isinstance(value, ast.AST):
                self.walk(value)

    def mutate(self, node) -> None:
        if isinstance(node, ast.BinOp) and not _is_string_op(node):
            op = type(node.op)
            if op in _ARITH_SWAP:
                new = _ARITH_SWAP[op]
                self.replace_token(node.left, node.right, _SYMBOL[op], _SYMBOL[new], "arith")
            if op in (ast.Add, ast.Sub, ast.Mult, ast.Div):
                self.replace_node(node, self.text(*self.span(node.left)), "drop_term")
                if op in (ast.Add, ast.Mult):
                    self.replace_node(node, self.text(*self.span(node.right)), "drop_term")
        elif isinstance(node, ast.AugAssign):
            op = type(node.op)
            if op in _ARITH_SWAP:
                self.replace_token(node.target, node.value, _SYMBOL[op] + "=", _SYMBOL[_ARITH_SWAP[op]] + "=",
                                   "augassign")
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                new = _COMPARE_SWAP.get(type(op))
                if new is not None:
                    self.replace_token(left, right, _COMPARE_SYMBOL[type(op)], _COMPARE_SYMBOL[new], "compare")
                left = right
        elif isinstance(node, ast.BoolOp):
            word, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            edits = []
            for a, b in zip(node.values, node.values[1:]):
                before = len(self.edits)
                self.replace_token(a, b, word, new, "boolop")
                edits += self.edits[before:]
                del self.edits[before:]
            if len(edits) == len(node.values) - 1:   # every operator of the chain swapped at once
                self.edits.append(_Edit(-1, -1, json.dumps([(e.start, e.end, e.text) for e in edits]), "boolop"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            self.replace_node(node, self.text(*self.span(node.operand)), "drop_unary")
        elif isinstance(node, ast.Constant):
            for value in _perturbed(node.value):
                start, end = self.span(node)
                self.add(start, end, repr(value) if value >= 0 else f"({value!r})", "const")
        elif isinstance(node, ast.Subscript):
            self.mutate_index(node.slice)
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            self.replace_node(node.value, "None", "return")
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in _UNARY_CALLS and len(node.args) == 1 and not node.keywords \
                    and not isinstance(node.args[0], ast.Starred):
                self.replace_node(node, self.text(*self.span(node.args[0])), "drop_call")
            elif name == "clip" and len(node.args) == 3 and not isinstance(node.args[0], ast.Starred):
                self.replace_node(node, self.text(*self.span(node.args[0])), "drop_call")
            if name in _SWAP_CALLS:
                start, end = self.span(node.func)
                self.add(end - len(name), end, _SWAP_CALLS[name], "swap_call")

    def mutate_index(self, index) -> None:
        elements = index.elts if isinstance(index, ast.Tuple) else [index]
        for element in elements:
            if isinstance(element, ast.Slice):
                for bound in (element.lower, element.upper):
                    if bound is not None:
                        self.shift(bound)
            elif not isinstance(element, ast.Starred):
                self.shift(element)

    def shift(self, expr) -> None:
        """``expr`` -> ``expr + 1`` and ``expr - 1`` (an int literal is shifted in place)."""
        if isinstance(expr, ast.Constant):
            if isinstance(expr.value, int) and not isinstance(expr.value, bool):
                start, end = self.span(expr)
                for value in (expr.value + 1, expr.value - 1):
                    self.add(start, end, repr(value) if value >= 0 else f"({value})", "index")
            return   # strings (mapping keys), None, Ellipsis: not indices
        start, end = self.span(expr)
        inner = self.text(start, end)
        self.add(start, end, f"({inner} + 1)", "index")
        self.add(start, end, f"({inner} - 1)", "index")


_SKIP_FIELDS = {
    ast.FunctionDef: ("decorator_list", "returns", "type_params"),
    ast.AsyncFunctionDef: ("decorator_list", "returns", "type_params"),
    ast.ClassDef: ("decorator_list", "bases", "keywords", "type_params"),
    ast.arg: ("annotation",),
    ast.AnnAssign: ("annotation",),
}


def _skipped(node) -> bool:
    """Nodes never mutated, with everything inside them."""
    if isinstance(node, (ast.Raise, ast.Assert, ast.JoinedStr, ast.Import, ast.ImportFrom, ast.Global,
                         ast.Nonlocal, ast.Delete)):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _VALIDATION_FN.match(node.name):
        return True   # argument validation: no claim feeds invalid input
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    if isinstance(node, ast.If):
        test = ast.unparse(node.test)
        if test in ("TYPE_CHECKING", "typing.TYPE_CHECKING") or "__name__" in test:
            return True
    if isinstance(node, ast.Call) and _is_logging_call(node):
        return True
    return False


def _is_raise_branch(node: ast.If) -> bool:
    """``if ...: raise`` (possibly after message-building statements): argument validation."""
    return bool(node.body) and isinstance(node.body[-1], ast.Raise)


def _is_logging_call(call: ast.Call) -> bool:
    func = call.func
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    elif isinstance(func, ast.Call):   # e.g. logging.getLogger(...).info(...)
        return _is_logging_call(func)
    if not parts:
        return False
    root, leaf = parts[-1], parts[0]
    names = {p.lower() for p in parts}
    return (root in ("print", "warn") or root in _LOG_ROOTS
            or any("tqdm" in p or "progress" in p for p in names)
            or (root in ("bar", "pbar") and leaf in ("update", "set_postfix", "set_postfix_str",
                                                     "set_description", "close", "refresh", "write")))


def _call_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_string_op(node: ast.BinOp) -> bool:
    return any(isinstance(side, ast.JoinedStr)
               or (isinstance(side, ast.Constant) and isinstance(side.value, (str, bytes)))
               for side in (node.left, node.right))


def _perturbed(value) -> list:
    """The perturbations of a numeric literal (none for strings, None, non-finite floats)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [1] if value == 0 else ([0, 2] if value == 1 else [value + 1])
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return []
        if value == 0.0:
            return [1.0]
        return ([0.0] if value == 1.0 else []) + [value * 2, value / 2]
    return []


def _apply(data: bytes, edit: _Edit) -> bytes:
    if edit.start < 0:   # a multi-edit (every operator of a boolean chain), last first
        out = data
        for start, end, text in sorted(json.loads(edit.text), reverse=True):
            out = out[:start] + text.encode("utf-8") + out[end:]
        return out
    return data[:edit.start] + edit.text.encode("utf-8") + data[edit.end:]


def _edit_line(sites: _Sites, edit: _Edit) -> int:
    return bisect.bisect_right(sites.line_start, _edit_start(edit))


def _top_level_ranges(tree: ast.Module) -> list[tuple[int, int]]:
    """(first line, last line) of each top-level statement, decorators included."""
    ranges = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        ranges.append((first, node.end_lineno))
    return ranges


def _canonical(lines: list[str], first: int, last: int) -> str | None:
    """``ast.unparse`` of lines ``first..last`` (one top-level statement), or None if invalid."""
    try:
        return ast.unparse(ast.parse("".join(lines[first - 1:last])))
    except SyntaxError:
        return None


def generate_mutants(source: str, module: str, path: str = "<string>", *, id_prefix: str = "",
                     operators=None) -> list[Mutation]:
    """Every distinct mutant of ``source``, in source order.

    Parameters
    ----------
    source : str
        The module's source text.
    module : str
        Its dotted module name (recorded in each :class:`Mutation`).
    path : str
        Its file (for ``file:line``).
    id_prefix : str
        Prefix of the mutants' ids (``{prefix}{index}``).
    operators : collection of str, optional
        Only these operators (names of :data:`OPERATORS`); default all.

    Returns
    -------
    list of Mutation
        Deduplicated on ``ast.unparse`` of the mutated module; a mutant equal to the original
        after unparsing, or that does not parse, is dropped. (An edit never changes the line
        count, so the unparse of the one top-level statement holding the edit decides: the rest
        of the module is the original's.)
    """
    tree = ast.parse(source)
    sites = _Sites(source)
    sites.walk(tree)
    ranges = _top_level_ranges(tree)
    original_lines = source.splitlines(keepends=True)
    seen = {(i, _canonical(original_lines, *r)) for i, r in enumerate(ranges)}
    mutants = []
    edits = [e for e in sites.edits if not operators or e.operator in operators]
    for edit in sorted(edits, key=lambda e: (_edit_start(e), e.operator, e.text)):
        new = _apply(sites.data, edit).decode("utf-8")
        line = _edit_line(sites, edit)
        new_lines = new.splitlines(keepends=True)
        if len(new_lines) != len(original_lines):   # cannot happen by construction; never guess
            continue
        where = next((i for i, (a, b) in enumerate(ranges) if a <= line <= b), None)
        if where is None:
            continue
        key = (where, _canonical(new_lines, *ranges[where]))
        if key[1] is None or key in seen:
            continue
        seen.add(key)
        mutants.append(Mutation(
            id=f"{id_prefix}{len(mutants)}", module=module, path=path, line=line, operator=edit.operator,
            original=original_lines[line - 1].strip(), mutated=new_lines[line - 1].strip(), source=new))
    return mutants


def _edit_start(edit: _Edit) -> int:
    return edit.start if edit.start >= 0 else min(s for s, _, _ in json.loads(edit.text))


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------

def resolve_targets(family: str, claims_modules=(), override=None) -> tuple[str, ...]:
    """The modules to mutate for ``family``: ``override`` (``--target``), else the
    ``MUTATION_TARGETS`` of a claims module defining claims of the family, else
    :data:`BUILTIN_TARGETS`.

    Raises
    ------
    ValueError
        If none of them names a target.
    """
    if override:
        return tuple(override)
    from .claims import BUILTIN_MODULES, import_claims_module

    for spec in list(claims_modules) + list(BUILTIN_MODULES):
        module = import_claims_module(spec)
        declared = getattr(module, "MUTATION_TARGETS", None)
        if declared and any(getattr(c, "id", "").split(".", 1)[0] == family for c in getattr(module, "CLAIMS", ())):
            if isinstance(declared, str) or not all(isinstance(t, str) for t in declared):
                raise ValueError(f"{spec}: MUTATION_TARGETS must be a tuple of module names, got {declared!r}")
            return tuple(declared)
    if family in BUILTIN_TARGETS:
        return BUILTIN_TARGETS[family]
    raise ValueError(f"no mutation targets for family {family!r}: declare MUTATION_TARGETS = "
                     "(\"my_pkg.my_module\", ...) in its claims module, or pass --target MODULE")


def module_file(name: str) -> Path:
    """The source file of module ``name`` (found without importing it).

    Raises
    ------
    ValueError
        If it cannot be found or is not a ``.py`` file.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"mutation target {name!r} cannot be found ({exc})") from None
    if spec is None:
        raise ValueError(f"mutation target {name!r} cannot be found on sys.path (a dotted module name, e.g. "
                         "my_pkg.my_learner)")
    if not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"mutation target {name!r} is not a Python source module ({spec.origin})")
    return Path(spec.origin)


def numba_dependents(target: str, path: Path) -> list[tuple[str, Path]]:
    """numba modules of ``target``'s top-level package that import it (transitively).

    numba's cache of a function is keyed on its own file only: a cached kernel of module B that
    calls a kernel of the mutated module A has A's *original* code compiled in. Such modules are
    served from their own temporary file too, so they recompile against the mutant.
    """
    if not _uses_numba(path.read_text(encoding="utf-8")):
        return []
    top = target.split(".", 1)[0]
    root_spec = importlib.util.find_spec(top)
    if root_spec is None or not root_spec.submodule_search_locations:
        return []
    root = Path(list(root_spec.submodule_search_locations)[0])
    modules = {}
    for file in sorted(root.rglob("*.py")):
        rel = file.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = file
    relocated = {target}
    changed = True
    while changed:
        changed = False
        for name, file in modules.items():
            if name in relocated:
                continue
            source = file.read_text(encoding="utf-8")
            if _uses_numba(source) and _imports_any(source, name, file.name == "__init__.py", relocated):
                relocated.add(name)
                changed = True
    return [(name, modules[name]) for name in sorted(relocated - {target})]


def _uses_numba(source: str) -> bool:
    return re.search(r"^\s*(from numba\b|import numba\b)", source, re.MULTILINE) is not None


def _imports_any(source: str, module: str, is_package: bool, names: set) -> bool:
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(alias.name in names for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            if full in names or any(f"{full}.{alias.name}" in names for alias in node.names):
                return True
    return False


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

@dataclass
class MutantResult:
    mutation: Mutation
    outcome: str
    claim: str = ""        # the catching claim
    detail: str = ""       # its verdict label, the error, or the equivalence note
    seconds: float = 0.0
    unexecuted: bool = False   # equivalent, and its statement never ran in the baseline's runs


@dataclass
class MutationReport:
    family: str
    targets: tuple
    pool: int
    seed: int
    sample: int
    budget: str
    baseline_seconds: float
    timeout: float
    claims: list            # claim ids in the order run
    excluded: dict          # claim id -> baseline verdict label (not as expected: cannot catch)
    results: list = field(default_factory=list)
    originals: dict = field(default_factory=dict)   # module -> original source

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def non_equivalent(self) -> int:
        return len(self.results) - self.count("equivalent")

    @property
    def caught(self) -> int:
        return self.count("caught") + self.count("caught (error)") + self.count("caught (timeout)")

    @property
    def score(self) -> float:
        return self.caught / self.non_equivalent if self.non_equivalent else float("nan")


def _worker_env() -> dict:
    env = dict(os.environ)
    env.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                       "NUMBA_NUM_THREADS")})
    env.pop("PROOFS_CHECK_CODE_VERSION", None)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _run_worker(spec: dict, workdir: Path, timeout: float | None) -> tuple[dict | None, str, float]:
    """Run :mod:`proofs_check._mutate_worker` on ``spec``: (result or None, stderr tail, seconds)."""
    spec_path = workdir / "spec.json"
    result_path = workdir / "result.json"
    spec = dict(spec, result=str(result_path), store=str(workdir / "store"))
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    log_path = workdir / "worker.log"
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "proofs_check._mutate_worker", str(spec_path)],
                                stdout=log, stderr=subprocess.STDOUT, env=_worker_env(), start_new_session=True)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return {"timeout": True}, "", time.perf_counter() - start
        except BaseException:
            _kill(proc)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    seconds = time.perf_counter() - start
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    if proc.returncode != 0 or not result_path.is_file():
        return None, f"exit status {proc.returncode}: " + " | ".join(tail), seconds
    return json.loads(result_path.read_text(encoding="utf-8")), "", seconds


_LIVE: set = set()              # worker subprocesses started by this process and still running
_LIVE_LOCK = threading.Lock()


def _kill_live() -> None:
    """Kill every worker subprocess we started that is still running (on an interrupt)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        if proc.poll() is None:
            _kill(proc)


def _kill(proc) -> None:
    """Kill the worker we started and its process group (it was started in a new session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _relocations(mutation: Mutation | None, dependents: dict, workdir: Path) -> dict:
    """Write the mutated module (and its numba dependents, unchanged) under ``workdir``: {name: file}."""
    if mutation is None:
        return {}
    files = {mutation.module: mutation.source}
    for name, path in dependents.get(mutation.module, []):
        files[name] = Path(path).read_text(encoding="utf-8")
    out = {}
    for name, source in files.items():
        file = workdir / "src" / Path(*name.split(".")).with_suffix(".py")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(source, encoding="utf-8")
        out[name] = str(file)
    return out


def mutate_family(family: str, claims_modules=(), *, targets=None, sample: int = 30, seed: int = 0, jobs: int = 2,
                  budget: str = "quick", timeout_factor: float = 3.0, timeout_extra: float = 60.0,
                  operators=None, progress: bool = True, log=None) -> MutationReport:
    """Mutation testing of ``family``'s claims (see the module docstring).

    Parameters
    ----------
    family : str
        A family (claim id prefix), e.g. ``"nash"`` or a user family loaded from ``claims_modules``.
    claims_modules : sequence of str
        Extra claims modules (as ``--claims-module``).
    targets : sequence of str, optional
        Modules to mutate (overrides ``MUTATION_TARGETS`` and the built-in mapping).
    sample : int
        Number of non-equivalent mutants to run (fewer if the pool is exhausted).
    seed : int
        Seed of the pool's shuffle.
    jobs : int
        Mutant subprocesses run in parallel (each runs its claims with one worker).
    budget : {"quick", "full"}
    timeout_factor, timeout_extra : float
        A mutant's subprocess is killed (``caught (timeout)``) after
        ``timeout_factor * baseline_seconds + timeout_extra`` seconds (the extra covers numba
        recompiling the mutated module).
    operators : collection of str, optional
        Only mutants of these operators (names of :data:`OPERATORS`); default all.
    progress : bool
        A progress bar on stderr naming the mutants being run.
    log : callable, optional
        ``log(message)`` for status lines (default: stderr when ``progress``).

    Raises
    ------
    ValueError
        Unknown family, a target that cannot be found, bad arguments, or a baseline that cannot
        run or passes no claim.
    """
    from .claims import load_claims
    from .runner import select_claims

    for name, value, low in (("sample", sample, 1), ("jobs", jobs, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if budget not in ("quick", "full"):
        raise ValueError(f"budget must be 'quick' or 'full', got {budget!r}")
    if not (timeout_factor > 0 and timeout_extra >= 0):
        raise ValueError(f"timeout_factor must be > 0 and timeout_extra >= 0, got {timeout_factor!r}, "
                         f"{timeout_extra!r}")
    unknown = sorted(set(operators or ()) - set(OPERATORS))
    if unknown:
        raise ValueError(f"unknown mutation operator(s) {', '.join(unknown)}; known: {', '.join(OPERATORS)}")
    say = log or ((lambda msg: print(msg, file=sys.stderr)) if progress else (lambda msg: None))
    claims_modules = [str(Path(m).resolve()) if m.endswith(".py") else m for m in claims_modules]
    claims = load_claims(claims_modules)
    family = family.rstrip(".")
    selected = select_claims(claims, [family])
    if any(c.id.split(".", 1)[0] != family for c in selected) and "." not in family:
        raise ValueError(f"{family!r} is not a family")
    target_names = resolve_targets(family.split(".", 1)[0], claims_modules, targets)
    files = {name: module_file(name) for name in target_names}
    originals = {name: path.read_text(encoding="utf-8") for name, path in files.items()}
    dependents = {name: numba_dependents(name, path) for name, path in files.items()}
    pool = []
    for name in target_names:
        short = name.rsplit(".", 1)[-1].lstrip("_")
        pool += generate_mutants(originals[name], name, str(files[name]), id_prefix=f"{short}-", operators=operators)
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    say(f"mutate {family}: {len(pool)} distinct mutants of {len(target_names)} modules; baseline run of "
        f"{len(selected)} claims ({budget} budget) ...")

    base_spec = {"claims_modules": claims_modules, "budget": budget, "sys_path": [p for p in sys.path if p]}
    with tempfile.TemporaryDirectory(prefix="proofs_check_mutate_") as tmp:
        tmp = Path(tmp)
        (tmp / "baseline").mkdir()
        baseline, error, base_seconds = _run_worker(
            dict(base_spec, claims=[c.id for c in selected], modules={}, early_stop=False, digests=True,
                 coverage=[str(files[name]) for name in target_names]), tmp / "baseline", None)
        if baseline is None:
            raise ValueError(f"the unmutated family does not run: {error}")
        per_claim = {c["id"]: c for c in baseline["claims"]}
        ok_claims = [cid for cid in per_claim if per_claim[cid]["ok"]]
        excluded = {cid: per_claim[cid]["label"] for cid in per_claim if not per_claim[cid]["ok"]}
        if not ok_claims:
            raise ValueError(f"no claim of {family!r} is as expected on the unmutated code "
                             f"({', '.join(f'{k}: {v}' for k, v in excluded.items())}); nothing can catch a mutant")
        ordered = sorted(ok_claims, key=lambda cid: (per_claim[cid]["seconds"], cid))
        reference = {k: v for k, v in baseline["digests"].items() if k.split("|", 1)[0] in ok_claims}
        timeout = timeout_factor * base_seconds + timeout_extra
        say(f"baseline: {base_seconds:.1f} s, {len(ok_claims)} claims as expected"
            + (f", {len(excluded)} left out (not as expected on the unmutated code: "
               + ", ".join(f"{k} {v}" for k, v in excluded.items()) + ")" if excluded else "")
            + f"; timeout per mutant {timeout:.0f} s")
        report = MutationReport(family, tuple(target_names), len(pool), seed, sample, budget, base_seconds, timeout,
                                ordered, excluded, originals=originals)
        executed = {file: set(lines) for file, lines in baseline.get("executed", {}).items()}
        spec = dict(base_spec, claims=ordered, early_stop=True, digests=True)
        done: dict = {}
        _drive(pool, order, spec, dependents, reference, timeout, jobs, sample, tmp, done, progress)
        # The reported set is the prefix of the shuffled pool holding `sample` non-equivalent mutants.
        non_equivalent = 0
        for index in order:
            if index not in done or non_equivalent >= sample:
                break
            report.results.append(_mark_unexecuted(done[index], executed, originals))
            non_equivalent += done[index].outcome != "equivalent"
    return report


def _mark_unexecuted(result: MutantResult, executed: dict, originals: dict) -> MutantResult:
    """An equivalent mutant whose statement never ran as Python in the baseline's runs (and is not
    in a numba-compiled function, which tracing cannot see) is untested code, not a harmless edit:
    say so (``unexecuted``), so the gap stays visible."""
    m = result.mutation
    if result.outcome != "equivalent" or m.path not in executed:
        return result
    first, last, compiled = _statement_of(originals[m.module], m.line)
    if compiled or executed[m.path] & set(range(first, last + 1)):
        return result
    result.unexecuted = True
    result.detail += "; its statement never ran in the claims' runs (untested code, not a harmless edit)"
    return result


_STATEMENTS: dict = {}


def _statement_of(source: str, line: int) -> tuple[int, int, bool]:
    """Lines of the innermost statement holding ``line``, and whether it is in a numba-compiled function."""
    key = hashlib.sha256(source.encode()).hexdigest()
    if key not in _STATEMENTS:
        tree = ast.parse(source)
        statements, compiled = [], []
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt):
                statements.append((node.lineno, node.end_lineno))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    "jit" in ast.unparse(d) or "vectorize" in ast.unparse(d) for d in node.decorator_list):
                compiled.append((node.lineno, node.end_lineno))
        _STATEMENTS[key] = (statements, compiled)
    statements, compiled = _STATEMENTS[key]
    holding = [s for s in statements if s[0] <= line <= s[1]]
    first, last = min(holding, key=lambda s: s[1] - s[0]) if holding else (line, line)
    return first, last, any(a <= line <= b for a, b in compiled)


def _drive(pool, order, spec, dependents, reference, timeout, jobs, sample, tmp, done, progress) -> None:
    from tqdm.auto import tqdm

    lock = threading.Lock()
    running: dict = {}
    bar = tqdm(total=min(sample, len(pool)), desc="mutants", unit="mutant", disable=not progress, file=sys.stderr)

    def run_one(index: int) -> MutantResult:
        mutation = pool[index]
        workdir = tmp / mutation.id
        workdir.mkdir()
        try:
            modules = _relocations(mutation, dependents, workdir)
            result, error, seconds = _run_worker(dict(spec, modules=modules, target=mutation.module), workdir,
                                                 timeout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return _classify(mutation, result, error, seconds, reference, timeout)

    def needed() -> bool:
        # Enough when the finished prefix of the pool order holds `sample` non-equivalent mutants,
        # counting those still running as non-equivalent (most are).
        count = 0
        for index in order:
            if index in done:
                count += done[index].outcome != "equivalent"
            elif index in running:
                count += 1
            else:
                return count < sample
            if count >= sample:
                return False
        return False

    cursor = 0
    with cf.ThreadPoolExecutor(max_workers=jobs) as executor:
        futures = {}
        try:
            while True:
                while len(futures) < jobs and cursor < len(order) and needed():
                    index = order[cursor]
                    cursor += 1
                    with lock:
                        running[index] = pool[index]
                    futures[executor.submit(run_one, index)] = index
                    bar.set_postfix_str(" ".join(f"{m.id} {Path(m.path).name}:{m.line} {m.operator}"
                                                 for m in running.values()), refresh=True)
                if not futures:
                    break
                finished, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    index = futures.pop(fut)
                    with lock:
                        running.pop(index, None)
                    done[index] = r = fut.result()
                    if r.outcome != "equivalent":
                        bar.update(1)
                    if progress:
                        bar.write(f"  {r.mutation.id} {r.mutation.location} {r.mutation.operator}: {r.outcome}"
                                  + (f" by {r.claim}" if r.claim else "") + f" ({r.seconds:.0f} s)", file=sys.stderr)
        except BaseException:
            for fut in futures:
                fut.cancel()
            _kill_live()   # the threads wait on their subprocesses: end them now, not at their timeout
            raise
        finally:
            bar.close()


def _classify(mutation, result, error, seconds, reference, timeout) -> MutantResult:
    if result is None:
        return MutantResult(mutation, "caught (error)", detail=error, seconds=seconds)
    if result.get("timeout"):
        return MutantResult(mutation, "caught (timeout)", detail=f"killed after {timeout:.0f} s", seconds=seconds)
    for claim in result["claims"]:
        if not claim["ok"]:
            if claim["errors"]:
                first = next(iter(claim["errors"].items()))
                return MutantResult(mutation, "caught (error)", claim["id"], f"{first[0]}: {first[1]}"[:300], seconds)
            return MutantResult(mutation, "caught", claim["id"], claim["label"], seconds)
    if result["digests"] == reference:
        return MutantResult(mutation, "equivalent", detail="equivalent: every observation equals the unmutated "
                            "run's bit for bit" + ("" if result.get("imported", True) else
                                                   " (the mutated module was never imported)"), seconds=seconds)
    return MutantResult(mutation, "survived", detail=_differences(result["digests"], reference), seconds=seconds)


def _differences(digests: dict, reference: dict) -> str:
    """Which claims' runs (``claim`` or ``claim:mutant``) a survivor changed, and how many."""
    changed: dict = {}
    for key in sorted(set(digests) | set(reference)):
        if digests.get(key) != reference.get(key):
            claim, variant = key.split("|")[:2]
            name = claim if variant == "claim" else f"{claim}:{variant}"
            changed[name] = changed.get(name, 0) + 1
    return "observations differ in " + ", ".join(f"{k} ({v} runs)" for k, v in changed.items())


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def format_table(report: MutationReport) -> str:
    """The per-family table (markdown)."""
    rows = [("mutants run", len(report.results)), ("caught by claims", report.count("caught")),
            ("caught (error)", report.count("caught (error)")), ("caught (timeout)", report.count("caught (timeout)")),
            ("survived", report.count("survived")), ("equivalent (excluded)", report.count("equivalent")),
            ("  of which never executed by the claims", sum(r.unexecuted for r in report.results)),
            ("score = caught / non-equivalent", f"{report.caught}/{report.non_equivalent} = {report.score:.0%}"
             if report.non_equivalent else "n/a"),
            ("caught by a claim's verdict alone", f"{report.count('caught')}/{report.non_equivalent}"
             if report.non_equivalent else "n/a")]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'family ' + report.family:<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    return "\n".join(lines)


def _scrub(text: str) -> str:
    """``text`` without machine-specific paths: the working directory and temporary directories
    (an error's traceback names them) become relative and ``<tmp>``."""
    text = text.replace(str(Path.cwd().resolve()) + os.sep, "")
    return re.sub(re.escape(tempfile.gettempdir()) + r"/[^\s:'\"]*?/src/", "<tmp>/", text).replace(
        tempfile.gettempdir() + os.sep, "<tmp>/")


def write_outputs(report: MutationReport, out: Path, command: str = "") -> dict:
    """Write ``summary.md``, ``mutants.csv`` and ``survivors.md`` under ``out``; returns their paths."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory")
    out.mkdir(parents=True, exist_ok=True)
    per_claim: dict = {}
    for r in report.results:
        if r.outcome in ("caught", "caught (error)") and r.claim:
            per_claim[r.claim] = per_claim.get(r.claim, 0) + 1
    per_operator: dict = {}
    for r in report.results:
        if r.outcome != "equivalent":
            row = per_operator.setdefault(r.mutation.operator, [0, 0])
            row[0] += 1
            row[1] += r.outcome.startswith("caught")
    seconds = [r.seconds for r in report.results]
    summary = [f"# Mutation testing: {report.family}", ""]
    if command:
        summary += [f"Command: `{command}`", ""]
    summary += [
        f"Budget `{report.budget}`, seed {report.seed}, sample {report.sample} non-equivalent mutants drawn from a "
        f"pool of {report.pool} distinct mutants of " + ", ".join(f"`{t}`" for t in report.targets) + ".",
        f"Baseline (unmutated) run: {report.baseline_seconds:.1f} s; timeout per mutant {report.timeout:.0f} s; "
        f"time per mutant: mean {sum(seconds) / max(len(seconds), 1):.1f} s, max {max(seconds, default=0):.1f} s "
        "(indicative: includes numba recompiling the mutated module).", "",
        format_table(report), "",
        "Claims, in the order run (cheapest first; the first whose verdict is not as expected catches the mutant): "
        + ", ".join(f"`{c}`" for c in report.claims) + ".", ""]
    if report.excluded:
        summary += ["Left out (their verdict on the unmutated code is not as expected, so they cannot catch a "
                    "mutant): " + ", ".join(f"`{k}` ({v})" for k, v in report.excluded.items()) + ".", ""]
    if per_claim:
        summary += ["| catching claim | mutants |", "|---|---|"]
        summary += [f"| `{k}` | {v} |" for k, v in sorted(per_claim.items(), key=lambda kv: (-kv[1], kv[0]))] + [""]
    if per_operator:
        summary += ["| operator | caught / run (non-equivalent) |", "|---|---|"]
        summary += [f"| {k} | {v[1]}/{v[0]} |" for k, v in sorted(per_operator.items())] + [""]
    summary += ["Files: `mutants.csv` (every mutant run), `survivors.md` (survivors and equivalent mutants with "
                "their diffs)."]
    paths = {"summary": out / "summary.md", "mutants": out / "mutants.csv", "survivors": out / "survivors.md"}
    paths["summary"].write_text("\n".join(summary) + "\n", encoding="utf-8")
    with open(paths["mutants"], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "location", "operator", "original", "mutated", "outcome", "catching_claim", "detail",
                         "seconds"])
        for r in report.results:
            m = r.mutation
            writer.writerow([m.id, m.location, m.operator, m.original, m.mutated, r.outcome, r.claim,
                             _scrub(" ".join(r.detail.split())), f"{r.seconds:.1f}"])
    left = [r for r in report.results if r.outcome in ("survived", "equivalent")]
    text = [f"# Survivors: {report.family}", "",
            "Survivors count against the score; equivalent mutants (every observation identical to the unmutated "
            "run's) do not. The `reason` of a survivor is for a human to fill in: why no claim sees it (a gap in "
            "the claims, or an edit that cannot change any outcome).", "",
            "| id | location | operator | change | outcome | reason |", "|---|---|---|---|---|---|"]
    for r in left:
        m = r.mutation
        reason = _scrub(r.detail) if r.outcome == "equivalent" else ""
        change = f"`{m.original}` -> `{m.mutated}`".replace("|", "\\|")
        text.append(f"| {m.id} | {m.location} | {m.operator} | {change} | {r.outcome} | {reason} |")
    for r in left:
        text += ["", f"## {r.mutation.id} ({r.outcome}) {r.mutation.location}", ""]
        if r.outcome == "survived":
            text += [_scrub(r.detail) + " (every claim still as expected).", ""]
        text += ["```diff", r.mutation.diff(report.originals.get(r.mutation.module, "")).rstrip(), "```"]
    paths["survivors"].write_text("\n".join(text) + "\n", encoding="utf-8")
    return paths


def add_mutate_parser(sub, common) -> None:
    """The ``mutate`` subcommand of ``proofs-check`` (``common`` gives --out and --claims-module)."""
    p = sub.add_parser("mutate", parents=[common],
                       help="mutation testing: how many mutants of the family's algorithm modules its claims catch",
                       description="Mutants of the family's algorithm modules (operator/comparison swaps, constants, "
                                   "index +-1, dropped terms, ...), each run through the family's claims at the quick "
                                   "budget in its own subprocess; writes summary.md, mutants.csv and survivors.md to "
                                   "--out (default paper_figs/mutation/FAMILY).")
    p.add_argument("family", help="the claim family (e.g. nash, or your own with --claims-module)")
    p.add_argument("--target", action="append", default=[], metavar="MODULE",
                   help="module to mutate (dotted name); repeatable; overrides MUTATION_TARGETS and the built-in map")
    p.add_argument("--sample", type=int, default=30, help="non-equivalent mutants to run (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="mutant subprocesses in parallel (default 2)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--quick", dest="budget", action="store_const", const="quick", help="quick budget (default)")
    budget.add_argument("--full", dest="budget", action="store_const", const="full", help="full budget")
    p.add_argument("--timeout-factor", type=float, default=3.0,
                   help="a mutant is killed after this many times the baseline's time, plus --timeout-extra "
                        "(default 3)")
    p.add_argument("--timeout-extra", type=float, default=60.0,
                   help="seconds added to the timeout, for numba recompiling the mutant (default 60)")
    p.add_argument("--operator", action="append", default=[], choices=sorted(OPERATORS),
                   help="only mutants of this operator; repeatable (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cli_main(args) -> int:
    """``proofs-check mutate``: 0 when done (whatever the score), 2 on a user error (one line)."""
    family = args.family.rstrip(".")
    out = Path(args.out) if args.out is not None else Path("paper_figs") / "mutation" / family
    if out.exists() and not out.is_dir():
        print(f"proofs-check: --out {out} is a file, not a directory", file=sys.stderr)
        return 2
    try:
        report = mutate_family(family, args.claims_module, targets=args.target or None, sample=args.sample,
                               seed=args.seed, jobs=args.jobs, budget=args.budget or "quick",
                               timeout_factor=args.timeout_factor, timeout_extra=args.timeout_extra,
                               operators=set(args.operator) or None, progress=not args.no_progress)
    except (ValueError, ImportError) as exc:
        print(f"proofs-check: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nproofs-check: interrupted; nothing written", file=sys.stderr)
        return 130
    command = " ".join(["proofs-check mutate", family] + [f"--claims-module {m}" for m in args.claims_module]
                       + [f"--target {t}" for t in args.target] + [f"--operator {o}" for o in args.operator]
                       + [f"--sample {args.sample}", f"--seed {args.seed}"]
                       + (["--full"] if args.budget == "full" else []))
    paths = write_outputs(report, out, command)
    print(format_table(report))
    survivors = [r for r in report.results if r.outcome == "survived"]
    for r in survivors:
        print(f"  survived {r.mutation.id} {r.mutation.location} {r.mutation.operator}: "
              f"{r.mutation.original} -> {r.mutation.mutated}")
    print(f"written: {paths['summary']}, {paths['mutants']}, {paths['survivors']}")
    return 0


def digest_observed(observed: dict) -> str:
    """SHA-256 of one run's observed arrays (keys, dtypes, shapes, bytes): equal iff bit-identical."""
    import numpy as np

    h = hashlib.sha256()
    for key in sorted(observed):
        array = np.ascontiguousarray(observed[key])
        h.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        h.update(array.tobytes())
    return h.hexdigest()


__all__ = ["BUILTIN_TARGETS", "OPERATORS", "Mutation", "MutationReport", "MutantResult", "digest_observed",
           "format_table", "generate_mutants", "module_file", "mutate_family", "numba_dependents",
           "resolve_targets", "write_outputs"]
