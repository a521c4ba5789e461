"""Build the documentation site and check it — the one command CI runs::

    python docs/build.py

1. ``sphinx-build -b html -n -W --keep-going``: the claims catalogue is generated from the
   registered claims, MyST notebooks are executed (a failing cell fails the build), every
   warning fails the build and every cross-reference must resolve (nitpicky);
2. every local ``href``/``src`` of the built HTML must resolve to a file and anchor
   (``docs/tools/check_links.py``; external links are not fetched);
3. headless Chromium opens the home page, every tutorial, every claims-catalogue page and one
   paper page: every image must render, every formula be typeset by the site's own MathJax (no
   CDN) and no console error may occur; screenshots go to
   ``docs/_build/screenshots/`` (``docs/tools/browser_check.py``).

Output: ``docs/_build/html/index.html``. By default every page is re-read and every notebook
re-executed; ``--incremental`` rebuilds only what changed (for editing). ``--no-browser`` skips
step 3 (no Chromium needed); ``--clean`` removes ``docs/_build`` first. Exit status 0 only if
every step passes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BUILD = DOCS / "_build"
HTML = BUILD / "html"
sys.path.insert(0, str(DOCS / "tools"))
sys.path.insert(0, str(DOCS / "_ext"))

#: The build must stay within this on 2 cores (the issue's acceptance); reported, not enforced
#: here, since a shared machine makes single timings noisy.
TARGET_SECONDS = 300


def build_html(incremental: bool = False) -> int:
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-n", "-W", "--keep-going", "-T",
               str(DOCS), str(HTML), "-d", str(BUILD / "doctrees")]
    if not incremental:
        # Re-read every page and re-execute every notebook: an unchanged notebook must still run
        # against the current code (the execution cache keys on the notebook's text only).
        command[6:6] = ["-E", "-D", "nb_execution_mode=force"]
    print("$", " ".join(command), flush=True)
    # The notebooks' kernels inherit this environment: an MPLBACKEND such as CI's "Agg" would
    # replace Jupyter's inline backend, and every plt.show() would then display nothing.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    return subprocess.run(command, cwd=DOCS.parent, env=env).returncode


def check_links() -> int:
    from api_refs import KNOWN_PROBLEMATIC_PAGES
    from check_links import check_site

    broken, n_local, n_external = check_site(HTML)
    known = [b for b in broken if b.page in KNOWN_PROBLEMATIC_PAGES and re.fullmatch(r"#id\d+", b.target)]
    for link in known:
        print(f"known (docstring defect listed in docs/_ext/api_refs.py) {link}")
    failing = [b for b in broken if b not in known]
    for link in failing:
        print(f"BROKEN {link}")
    print(f"links: {n_local} local checked, {len(failing)} broken, {len(known)} known; "
          f"{n_external} external not fetched")
    return 1 if failing else 0


def browser_pages() -> list[tuple[str, int]]:
    """Home page, every tutorial (docs/tutorials/*), getting
    started, every claims page (with at least as many images as stored figures), the API
    index and one module page, and one paper page (its formulas typeset by the local MathJax)."""
    tutorials = sorted(p.relative_to(HTML).as_posix() for p in (HTML / "tutorials").glob("*.html")
                       if p.name != "index.html") if (HTML / "tutorials").is_dir() else []
    # A tutorial that plots must show its figures (at least one image on the page).
    plots = {page: int("plt." in (DOCS / page).with_suffix(".md").read_text()) for page in tutorials}
    pages = [("index.html", 1)] + [(page, plots[page]) for page in tutorials]
    pages += [("getting_started.html", 0), ("api/index.html", 0), ("api/generated/mdpkit.solvers.exact.html", 0)]
    pages += [("papers/nash.html", 0)]      # formulas: MathJax served from the site must typeset them
    figures = DOCS / "claims" / "figures"
    for page in sorted((HTML / "claims").glob("*.html")):
        family = page.stem
        n_figures = len(list(figures.glob(f"{family}.*.png"))) if family != "index" else 0
        pages.append((page.relative_to(HTML).as_posix(), n_figures))
    return pages


def check_browser() -> int:
    import tempfile

    from browser_check import check_pages, self_test

    with tempfile.TemporaryDirectory() as workdir:
        checker_failures = self_test(Path(workdir))
    for failure in checker_failures:
        print(f"browser self-test FAILED: {failure}")
    print(f"browser self-test (a broken page must fail the check): "
          f"{'FAILED' if checker_failures else 'ok'}")

    results = check_pages(HTML, browser_pages(), BUILD / "screenshots")
    for result in results:
        print(f"browser {'ok' if result.ok else 'FAIL'}: {result.page}: {len(result.images)} images "
              f"rendered, {result.formulas} formulas typeset, screenshot {Path(result.screenshot).relative_to(DOCS.parent)}")
        for problem in result.problems:
            print(f"    {problem}")
    return 0 if all(r.ok for r in results) and not checker_failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the documentation site and check it.")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless-Chromium check")
    parser.add_argument("--clean", action="store_true", help="remove docs/_build first")
    parser.add_argument("--incremental", action="store_true",
                        help="re-read only changed pages and reuse cached notebook outputs (faster, "
                             "for editing; a notebook broken by a code change can then go unnoticed)")
    args = parser.parse_args(argv)
    if args.clean and BUILD.exists():
        shutil.rmtree(BUILD)
    start = time.perf_counter()
    steps = [("sphinx build (-n -W --keep-going, notebooks executed)",
              lambda: build_html(incremental=args.incremental)),
             ("internal links", check_links)]
    if not args.no_browser:
        steps.append(("headless Chromium", check_browser))
    failed = []
    for name, step in steps:
        print(f"== docs: {name}", flush=True)
        step_start = time.perf_counter()
        status = step()
        print(f"   {name}: {'ok' if status == 0 else 'FAILED'} ({time.perf_counter() - step_start:.0f} s)",
              flush=True)
        if status != 0:
            failed.append(name)
            if name.startswith("sphinx build"):
                break           # nothing to check without a complete site
    seconds = time.perf_counter() - start
    print(f"docs build and checks: {seconds:.0f} s (target <= {TARGET_SECONDS} s on 2 cores); "
          f"{'FAILED: ' + ', '.join(failed) if failed else 'all passed'}; site: {HTML / 'index.html'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
