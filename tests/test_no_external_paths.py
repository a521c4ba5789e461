"""No tracked file of the repository cites a path outside it.

Code, docs, claims, reports and paper figures must stand on their own in a clean clone: a
citation of the sibling folder of paper digests and design notes, a path above the repository, or an absolute path of the
machine it was written on points at nothing for a reader, a user or CI. Papers are cited by
their page and anchor in ``docs/papers/``. Every file ``git ls-files`` lists is searched (binary
files, e.g. PNG figures and SQLite stores, are skipped).
"""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXTERNAL = {
    "a sibling folder shared/ (e.g. its papers/ or DESIGN notes)": re.compile(r"(?<![\w/.-])shared/[\w.-]"),
    "a path above the repository (../ then the digests folder)": re.compile(r"\.\./+shared\b"),
    "an absolute path of a workstation": re.compile(r"(?<![\w.-])/(?:wor[k]|roo[t]|hom[e]/\w+|User[s])/"),
}


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (git ls-files failed): nothing defines the tracked files")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def external_citations(text: str) -> list[tuple[int, str, str]]:
    """``(line number, what, line)`` for every line of ``text`` that cites a path outside the repo."""
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in EXTERNAL.items():
            if pattern.search(line):
                hits.append((number, what, line.strip()))
    return hits


def test_patterns_catch_what_they_should_and_only_that():
    outside = "shared"   # spelt apart so that this file cites nothing itself
    cited = [f"see {outside}/papers/nash-mp.md §2", f"(``{outside}/DESIGN.md``)", f"cp ../{outside}/x .",
             "open('/" + "work/main/README.md')", "/" + "root/.cache/thing", "/" + "home/alice/notes.md"]
    clean = ["docs/papers/nash.md#nash-step-size", "tmp_path / 'shared'", "shared-memory arrays",
             "a shared machine", "mdpkit/_shared/x.py", "https://example.org/work/item", "sharey=True"]
    assert all(external_citations(text) for text in cited), [t for t in cited if not external_citations(t)]
    assert not any(external_citations(text) for text in clean), [t for t in clean if external_citations(t)]


def test_no_tracked_file_cites_a_path_outside_the_repository():
    found = []
    for path in tracked_files():
        if not path.is_file():          # deleted in the work tree, not yet committed
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:        # binary (figures, stores)
            continue
        for number, what, line in external_citations(data.decode("utf-8", errors="replace")):
            found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line[:120]}")
    assert not found, f"{len(found)} citations of paths outside the repository:\n" + "\n".join(found)
