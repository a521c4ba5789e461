"""API-reference helpers: resolve re-exported names, skip third-party docstrings, and list the
docstring warnings known to come from code outside the docs (so ``-W`` stays meaningful).

1. **Re-exported names.** Docstrings say ``:class:`~mdpkit.TabularMDP``` or, inside a package,
   ``:class:`Setting```; the object is documented once, where it is defined
   (``mdpkit.mdp.TabularMDP``). On a missing reference the target is imported (absolute, then
   relative to the current module and its parents) and looked up under its defining module's
   name; failing that, a name that is the unique suffix of one documented object resolves to it.
   A target that resolves to a private object (a ``_``-prefixed module or name, not part of the
   documented API) is rendered as plain text. Anything else stays a nitpicky warning.
2. **Third-party docstrings.** A method that overrides a third-party one without a docstring of
   its own (``TabularEnv.step`` over ``gymnasium.Env.step``, ``InlineExecutor.submit`` over
   ``concurrent.futures.Executor.submit``) would inherit that library's docstring, written for
   another documentation toolchain; it is replaced by a one-line pointer to the original.
3. **numpydoc's own warnings** (a section it cannot parse is dropped from the page, and reported
   only as a Python ``UserWarning``) are turned into Sphinx warnings, so ``-W`` sees them.
4. **Known docstring warnings.** :data:`KNOWN_WARNINGS` lists warnings raised by docstrings in
   ``mdpkit/`` and ``proofs_check/`` that the docs cannot fix (the code has other owners). They
   are printed as "known docstring warning" and do not fail ``-W``; every other warning does. An
   entry that no longer matches anything is reported at the end of the build so it gets removed.
"""
from __future__ import annotations

import importlib
import inspect
import logging
import re

from docutils import nodes
from sphinx.util import logging as sphinx_logging

OWN_PACKAGES = ("mdpkit", "proofs_check")

#: (location substring, message substring, why it is not fixed here). Each is a docstring defect
#: in code owned outside docs/; fix the docstring, then delete the entry.
KNOWN_WARNINGS: list[tuple[str, str, str]] = [
    ("mdpkit.algorithms.contrastive", 'Undefined substitution referenced: "theta"',
     "THETA_BOUND's '#: |theta| bound' comment: |theta| is reST substitution syntax (write ``|theta|``)"),
    ("docstring of mdpkit.envs:", "Malformed table",
     "mdpkit/envs/__init__.py: the table's first column is narrower than its longest entries"),
    ("proofs_check.claims.textbook.rst", "start-string without end-string",
     "observe_mc_error: autosummary's one-line summary stops at 'i.i.d.' inside ``...``"),
    ("proofs_check.claims.hf_rfe.rst", "start-string without end-string",
     "fine_checkpoints: autosummary's one-line summary stops at 'j = 0 ..' inside ``...``"),
    ("mdpkit/learners/", "Unknown section Attributes (after ``start``)",
     "UCBVI, QLearningUCB, NumbaUCBVI: numpydoc knows no section 'Attributes (after ``start``)' and "
     "drops it, so those attributes are missing from the reference (name it 'Attributes' and say "
     "'set by start()' in the descriptions)"),
    ("docstring of mdpkit.algorithms.stepmix", "more than one target found for cross-reference 'ucbvi'",
     "stepmix module docstring: :mod:`ucbvi` is ambiguous (mdpkit.algorithms.ucbvi or "
     "mdpkit.learners.ucbvi); Sphinx links the first, write :mod:`~mdpkit.algorithms.ucbvi`"),
]

#: Built pages on which the defects above render as docutils "problematic" markup, whose links
#: (``#id1``, ``#id3`` ...) point to system messages that are not rendered; docs/build.py lets the
#: link check pass those links on these pages only.
KNOWN_PROBLEMATIC_PAGES = (
    "api/generated/mdpkit.algorithms.contrastive.html",
    "api/generated/mdpkit.envs.html",
    "api/generated/proofs_check.claims.textbook.html",
    "api/generated/proofs_check.claims.hf_rfe.html",
)

_matched: set[int] = set()
_printed: set[str] = set()
_logger = sphinx_logging.getLogger(__name__)


def _location_text(location) -> str:
    """The "path:line" Sphinx prints for a record's location (a node, a (docname, line) or text)."""
    if location is None:
        return ""
    if isinstance(location, nodes.Node):
        from sphinx.util.logging import get_node_location

        return get_node_location(location) or ""
    if isinstance(location, tuple):
        return ":".join(str(part) for part in location if part is not None)
    return str(location)


class _KnownWarningFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        text = record.getMessage()
        location = _location_text(getattr(record, "location", None))
        for i, (where, what, _why) in enumerate(KNOWN_WARNINGS):
            if what in text and (where in location or where in text):
                _matched.add(i)
                line = f"{location}: {text.splitlines()[0]}" if location else text.splitlines()[0]
                if line in _printed:       # one filter per Sphinx handler: print each once
                    return False
                _printed.add(line)
                print(f"known docstring warning (not failing the build; see docs/_ext/api_refs.py): "
                      f"{line}")
                return False
        return True


def _install_filter(app) -> None:
    # Sphinx counts (and, with -W, fails on) warnings in its handlers' filters; ours must run first.
    for handler in logging.getLogger("sphinx").handlers:
        handler.filters.insert(0, _KnownWarningFilter())


def _numpydoc_warnings_to_sphinx(app) -> None:
    """numpydoc reports a docstring section it cannot parse (and then drops) as a Python
    UserWarning, which ``-W`` would not see; route those through Sphinx's logger as warnings."""
    import warnings

    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if "numpydoc" in str(filename):
            _logger.warning("numpydoc: %s", message, type="numpydoc", subtype="docstring")
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.filterwarnings("always", category=UserWarning, module=r"numpydoc\..*")


def _report_stale(app, exception) -> None:
    if exception is None:
        for i, (where, what, why) in enumerate(KNOWN_WARNINGS):
            if i not in _matched:
                print(f"note: known-warning entry matched nothing in this build (an incremental build "
                      f"re-reads only changed pages; if a clean build says so too, delete it from "
                      f"docs/_ext/api_refs.py): "
                      f"{where!r}: {what!r} ({why})")


# --- 2. third-party docstrings -------------------------------------------------------------------
def _third_party_origin(name: str, obj) -> str | None:
    """``module.Class.attr`` whose docstring ``obj`` inherits, if that class is third-party."""
    if getattr(obj, "__doc__", None) is not None or "." not in name:
        return None
    owner_name, attr = name.rsplit(".", 1)
    owner = _import_object(owner_name)
    if not inspect.isclass(owner):
        return None
    for base in owner.__mro__[1:]:
        member = base.__dict__.get(attr)
        if member is not None and getattr(member, "__doc__", None):
            if base.__module__.split(".")[0] in OWN_PACKAGES:
                return None
            return f"{base.__module__}.{base.__qualname__}.{attr}"
    return None


def _drop_third_party_docstring(app, what, name, obj, options, lines) -> None:
    if what in ("method", "attribute", "property") and lines:
        origin = _third_party_origin(name, obj)
        if origin is not None:
            lines[:] = [f"Overrides ``{origin}``; see that library's documentation."]


# --- 1. re-exported names ------------------------------------------------------------------------
def _import_object(dotted: str):
    """The object named ``dotted`` (module path then attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 -- any import failure means "not this split"
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _canonical_name(obj, attr_path: list[str]) -> str | None:
    if inspect.ismodule(obj):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return None


def _is_private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    if not target:
        return None
    module = node.get("py:module") or ""
    klass = node.get("py:class") or ""
    domain = env.get_domain("py")
    objects = domain.objects

    candidates = [target]
    if module:
        if klass:
            candidates.append(f"{module}.{klass}.{target}")
        parts = module.split(".")
        candidates += [".".join(parts[:i] + [target]) for i in range(len(parts), 0, -1)]
    for candidate in candidates:
        head, *rest = candidate.split(".")
        if head not in OWN_PACKAGES:
            continue
        obj = _import_object(candidate)
        if obj is None:
            # A documented attribute (dataclass field, constant) is not an importable object.
            owner = _import_object(candidate.rsplit(".", 1)[0]) if "." in candidate else None
            name = _canonical_name(owner, []) if owner is not None else None
            canonical = f"{name}.{candidate.rsplit('.', 1)[1]}" if name else None
        else:
            canonical = _canonical_name(obj, rest)
        if canonical is None:
            continue
        if canonical in objects:
            return _make_ref(app, env, node, contnode, canonical, domain)
        if _is_private(canonical):
            return contnode          # private: not part of the documented API, plain text
    if _is_private(target):
        return contnode
    suffix = "." + target
    matches = [name for name in objects if name.endswith(suffix)]
    if module and len(matches) > 1:
        # Prefer the current module's, then the current package's objects.
        here = [name for name in matches if name.startswith(module + ".")]
        matches = here or matches
    if module and len(matches) > 1:
        # Prefer the current package's objects when a short name exists in several packages.
        package = module.split(".")[0] + "."
        local = [name for name in matches if name.startswith(package)]
        matches = local or matches
    if len(matches) == 1:
        return _make_ref(app, env, node, contnode, matches[0], domain)
    return None


def _make_ref(app, env, node, contnode, fullname, domain):
    entry = domain.objects[fullname]
    return _reference(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, fullname)


def _reference(builder, fromdoc, todoc, anchor, contnode, title):
    from sphinx.util.nodes import make_refnode

    return make_refnode(builder, fromdoc, todoc, anchor, contnode, title)


def setup(app):
    app.connect("builder-inited", _install_filter)
    app.connect("builder-inited", _numpydoc_warnings_to_sphinx)
    app.connect("build-finished", _report_stale)
    app.connect("autodoc-process-docstring", _drop_third_party_docstring)
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
