"""Subprocess of ``proofs-check mutate``: run a family's claims against one mutant (or none).

``python -m proofs_check._mutate_worker SPEC.json``. The spec names the claims (in order), the
budget, a fresh store directory, and ``modules``: ``{dotted name: file}`` served by
:class:`MutantFinder` instead of the installed source. The finder is installed before anything of
the package under test is imported, so every import of those names -- by the claims, by the
algorithms, by other modules -- gets the mutated source. Results go to ``SPEC["result"]`` as JSON:
per claim run, its verdict label, whether it is as expected, errors, and wall seconds; and the
digests of every run's observations (for the equivalence check).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import sys
import time


class MutantFinder(importlib.abc.MetaPathFinder):
    """A meta-path finder serving ``{module name: source file}`` from the given files.

    The file lives outside the repository (a temporary directory), so the repository is never
    edited, and numba's on-disk cache -- keyed on the source file of each function -- gives the
    mutated module a cache of its own.
    """

    def __init__(self, modules: dict):
        self.modules = dict(modules)

    def find_spec(self, fullname, path=None, target=None):
        file = self.modules.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


def install(modules: dict) -> MutantFinder:
    """Put a :class:`MutantFinder` first on ``sys.meta_path``.

    Raises
    ------
    RuntimeError
        If one of the modules is already imported (it would not be replaced).
    """
    already = [name for name in modules if name in sys.modules]
    if already:
        raise RuntimeError(f"cannot serve a mutant of already imported module(s) {', '.join(already)}")
    finder = MutantFinder(modules)
    sys.meta_path.insert(0, finder)
    return finder


def _trace_lines(files) -> dict:
    """Record the lines of ``files`` that Python executes from now on: ``{file: set of lines}``.

    Only frames of those files get a line tracer; numba-compiled code never runs as Python and is
    not seen (the caller knows which functions are compiled).
    """
    import os

    wanted = {os.path.realpath(f): f for f in files}
    executed = {f: set() for f in files}
    by_code_file: dict = {}

    def local(frame, event, arg):
        if event == "line":
            executed[by_code_file[frame.f_code.co_filename]].add(frame.f_lineno)
        return local

    def on_call(frame, event, arg):
        name = frame.f_code.co_filename
        if name not in by_code_file:
            by_code_file[name] = wanted.get(os.path.realpath(name)) if name and name[0] != "<" else None
        if by_code_file[name] is None:
            return None
        executed[by_code_file[name]].add(frame.f_lineno)
        return local

    sys.settrace(on_call)
    return executed


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    for entry in reversed(spec.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    install(spec["modules"])
    executed = _trace_lines(spec["coverage"]) if spec.get("coverage") else None

    from proofs_check.claims import load_claims
    from proofs_check.mutate import digest_observed
    from proofs_check.runner import InlineExecutor, run_claims
    from proofs_check.claim import params_key
    from proofs_check.store import ResultStore

    # The user's modules alone when they define every claim to run (the built-in ones cost ~1 s).
    claims = {}
    if spec["claims_modules"]:
        claims = load_claims(spec["claims_modules"], builtin=False, use_entry_points=False)
    if not all(cid in claims for cid in spec["claims"]):
        claims = load_claims(spec["claims_modules"])
    out = {"claims": [], "digests": {}}
    with ResultStore(spec["store"]) as store:
        for claim_id in spec["claims"]:
            print(f"claim {claim_id}", flush=True)
            start = time.perf_counter()
            sweep = run_claims([claims[claim_id]], store=store, budget=spec["budget"], executor=InlineExecutor(),
                               power=False)  # mutation testing reads the verdict, not its power
            result = sweep.results[0]
            verdict = result.verdict
            out["claims"].append({"id": claim_id, "label": verdict.label, "ok": bool(verdict.ok),
                                  "errors": dict(result.errors), "seconds": time.perf_counter() - start})
            if spec["digests"]:
                for variant, runs in result.runs.items():
                    if variant != "claim" and not any(m.name == variant and m.derive is None
                                                      for m in claims[claim_id].mutants):
                        continue   # derived runs follow from the claim's runs
                    for run in runs:
                        key = f"{claim_id}|{variant}|{params_key(run.params)}|{run.seed_index}"
                        out["digests"][key] = digest_observed(run.observed)
            if not verdict.ok and spec["early_stop"]:
                break
    if executed is not None:
        sys.settrace(None)
        out["executed"] = {file: sorted(lines) for file, lines in executed.items()}
    out["imported"] = spec.get("target") in sys.modules if spec.get("target") else True
    with open(spec["result"] + ".tmp", "w", encoding="utf-8") as f:
        json.dump(out, f)
    import os

    os.replace(spec["result"] + ".tmp", spec["result"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
