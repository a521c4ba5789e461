"""Claim registry: one module per paper, each defining a list ``CLAIMS``.

Claims are collected from

1. the built-in modules listed in :data:`BUILTIN_MODULES`;
2. modules advertised by installed packages under the entry-point group ``proofs_check.claims``
   (value: an importable module name);
3. user modules given explicitly (``proofs-check --claims-module my_claims.py`` or a dotted
   module name).

A user module given as a file path is imported under its file stem with its directory put on
``sys.path``, so its observe functions pickle by reference to worker processes.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path
from typing import Iterable

from ..claim import Claim

#: Built-in claim modules (one per paper).
BUILTIN_MODULES = ("proofs_check.claims.textbook", "proofs_check.claims.stepmix", "proofs_check.claims.nash",
                   "proofs_check.claims.hf_rfe", "proofs_check.claims.contrastive_ucb")
ENTRY_POINT_GROUP = "proofs_check.claims"


def import_claims_module(spec: str):
    """Import a claims module from a dotted name or a ``.py`` file path."""
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise ValueError(f"claims module file {spec!r} does not exist")
        directory = str(path.parent)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        source_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        loaded = sys.modules.get(path.stem)
        if loaded is not None and getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == path:
            # Reload only if the file changed since it was imported (tests, notebooks): reloading an
            # unchanged module would replace its functions and break pickling of existing claims.
            if getattr(loaded, "_proofs_check_source_hash", source_hash) != source_hash:
                loaded = importlib.reload(loaded)
                loaded._proofs_check_source_hash = source_hash
            return loaded
        module = importlib.import_module(path.stem)
        module._proofs_check_source_hash = source_hash
        return module
    return importlib.import_module(spec)


def load_claims(extra_modules: Iterable[str] = (), *, builtin: bool = True,
                use_entry_points: bool = True) -> dict[str, Claim]:
    """All registered claims, ``{id: Claim}`` in registration order.

    Raises
    ------
    ValueError
        If a module has no ``CLAIMS`` list, an entry is not a Claim, or two claims share an id.
    """
    specs = list(BUILTIN_MODULES) if builtin else []
    if use_entry_points:
        from importlib.metadata import entry_points  # ~0.1 s: only when claims are loaded

        specs += [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    specs += list(extra_modules)
    claims: dict[str, Claim] = {}
    for spec in specs:
        module = import_claims_module(spec)
        found = getattr(module, "CLAIMS", None)
        if found is None:
            raise ValueError(f"claims module {spec!r} defines no CLAIMS list")
        for i, claim in enumerate(found):
            if not isinstance(claim, Claim):
                raise ValueError(f"{spec}: CLAIMS[{i}] = {claim!r} is not a Claim")
            if claim.id in claims and claims[claim.id] is not claim:
                raise ValueError(f"duplicate claim id {claim.id!r} (from {spec})")
            claims[claim.id] = claim
    return claims
