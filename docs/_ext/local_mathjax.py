"""Serve MathJax from the built site itself, never from a CDN.

CI (and an offline reader) can reach package registries but not a CDN, so the formulas of the
paper pages would not render. MathJax 3 ships on PyPI as ``django-static-mathjax`` (the ``docs``
extra; it only installs the files, as the package ``mathjax``, and needs no Django). This extension
copies its ``es5`` bundle — the ``tex-mml-chtml.js`` entry point Sphinx loads by default, with the
fonts and the components it loads on demand — into the build's ``_static/mathjax/``, and
``conf.py`` points ``mathjax_path`` there. The check of internal links then also checks that the
script is really there, and the browser check that it typesets without console errors.
"""
from __future__ import annotations

import shutil
from pathlib import Path

#: Where the bundle lands in the built site, relative to its ``_static`` folder (``mathjax_path``).
TARGET = "mathjax"
ENTRY = "tex-mml-chtml.js"
#: The other single-file bundles of ``es5`` (alternatives to ENTRY, never loaded by it): not copied.
_OTHER_BUNDLES = ("mml-chtml.js", "mml-svg.js", "tex-chtml.js", "tex-chtml-full.js", "tex-chtml-full-speech.js",
                  "tex-mml-svg.js", "tex-svg.js", "tex-svg-full.js", "node-main.js")


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax 3 (``pip install django-static-mathjax``)."""
    try:
        import mathjax
    except ImportError:
        raise RuntimeError("MathJax is not installed: pip install -e \".[docs]\" (django-static-mathjax "
                           "ships MathJax 3; the site must not load it from a CDN)") from None
    source = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (source / ENTRY).is_file():
        raise RuntimeError(f"no {ENTRY} in {source}: unexpected layout of the MathJax package")
    return source


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / TARGET
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(mathjax_source(), target, ignore=lambda folder, names: [
        n for n in names if Path(folder).name == "es5" and n in _OTHER_BUNDLES])


def setup(app):
    mathjax_source()                              # fail at start-up, not after the whole build
    # Load MathJax on every page, not only on pages with equations of their own: a page title
    # with math (e.g. a tutorial's) is shown in the sidebar of every page.
    app.set_html_assets_policy("always")
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
