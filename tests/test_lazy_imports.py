"""Heavy dependencies load only when used: ``import mdpkit`` and the CLI's start-up stay light.

Each check runs a fresh interpreter (``sys.modules`` of the test process is already full) and
inspects which modules the import pulled in. Timings are measured in benchmarks/bench_import.py,
not here.
"""
import json
import subprocess
import sys

import pytest

HEAVY = ("cvxpy", "matplotlib", "numba", "scipy", "distributed", "tqdm")


def loaded_after(statement: str, modules=HEAVY) -> list[str]:
    """The entries of ``modules`` present in ``sys.modules`` after running ``statement`` in a new process."""
    code = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {list(modules)!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_mdpkit_loads_no_heavy_dependency():
    assert loaded_after("import mdpkit") == []


def test_cli_startup_loads_neither_solvers_nor_plotting():
    # `proofs-check --help` imports proofs_check.cli; numpy is allowed (claims and the store use it).
    assert loaded_after("import proofs_check.cli") == []


@pytest.mark.parametrize("module", ["mdpkit.solvers.lp", "mdpkit.audit"])
def test_lp_modules_do_not_import_cvxpy_or_scipy_optimize(module):
    assert loaded_after(f"import {module}", ("cvxpy", "scipy.optimize", "matplotlib")) == []


def test_mwu_kernel_module_loads_on_first_run():
    kernel = "mdpkit.algorithms._mwu_kernels"
    assert loaded_after("from mdpkit.algorithms import mwu", (kernel,)) == []
    assert loaded_after("from mdpkit.algorithms import mwu\nimport mdpkit\n"
                        "mwu.run(mdpkit.envs.random_preference_game(3, 0.0, seed=0), iters=2)",
                        (kernel,)) == [kernel]


@pytest.mark.parametrize("package", ["mdpkit", "mdpkit.solvers", "mdpkit.algorithms", "proofs_check"])
def test_every_public_name_resolves_lazily(package):
    module = __import__(package, fromlist=["__all__"])
    for name in module.__all__:
        assert getattr(module, name) is not None, name
        assert name in dir(module)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        getattr(module, "no_such_name")


def test_lazy_names_are_the_defining_modules_objects():
    import mdpkit
    from mdpkit.solvers import exact, lp

    assert mdpkit.solve is exact.solve and mdpkit.solve_lp is lp.solve_lp
    assert mdpkit.solvers.solve is exact.solve
    assert mdpkit.envs.riverswim(S=3, H=2).S == 3          # submodules too


def test_star_import_resolves_every_name():
    assert loaded_after("from mdpkit import *\nassert solve_lp and TabularMDP and algorithms", ("cvxpy",)) == []


def test_loading_every_builtin_claim_imports_no_solver_kernel_or_plotting():
    """``proofs-check list`` and an unchanged ``report`` only read the claims: the claims modules
    import their experiments (algorithms, instances, numba kernels, scipy) inside the observe
    functions."""
    heavy = HEAVY + ("mdpkit.algorithms", "mdpkit._kernels", "mdpkit.envs.lowrank", "mdpkit.lowrank")
    assert loaded_after("from proofs_check.claims import load_claims\nassert len(load_claims()) > 40", heavy) == []
