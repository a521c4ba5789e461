"""Check that every local ``href``/``src`` in a built HTML site resolves: the file exists and, for
``page.html#anchor``, the page has an element with that ``id`` (or an ``<a name>``).

External links (``http:``, ``https:``, ``mailto:``, ``data:`` ...) are listed but not fetched: the
build must not depend on the network. Usage::

    python docs/tools/check_links.py docs/_build/html

Exit status 1 and one line per broken link (page, attribute, target, reason) if any is broken.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"),
                   ("iframe", "src"), ("source", "src"), ("video", "src"), ("audio", "src")}


@dataclass(frozen=True)
class BrokenLink:
    page: str
    attribute: str
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.attribute}={self.target!r}: {self.reason}"


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: set[str] = set()
        self.links: list[tuple[str, str]] = []      # (tag.attribute, value)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.anchors.add(value)
            if (tag, name) in LINK_ATTRIBUTES:
                self.links.append((f"{tag}.{name}", value))


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def check_site(root: Path) -> tuple[list[BrokenLink], int, int]:
    """Check every ``*.html`` under ``root``; returns (broken links, local links checked, external)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a directory")
    pages = {path.resolve(): _parse(path) for path in sorted(root.rglob("*.html"))}
    anchors_cache: dict[Path, set[str]] = {}
    broken: list[BrokenLink] = []
    n_local = n_external = 0
    for page, parsed in pages.items():
        rel_page = str(page.relative_to(root))
        for attribute, value in parsed.links:
            parts = urlsplit(value.strip())
            if parts.scheme or parts.netloc:
                n_external += 1
                continue
            n_local += 1
            if parts.path:
                target = (page.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = page
            try:
                target.relative_to(root)
            except ValueError:
                broken.append(BrokenLink(rel_page, attribute, value, "points outside the site"))
                continue
            if not target.is_file():
                broken.append(BrokenLink(rel_page, attribute, value, "no such file"))
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                if target not in anchors_cache:
                    anchors_cache[target] = pages[target].anchors if target in pages else _parse(target).anchors
                if fragment not in anchors_cache[target]:
                    broken.append(BrokenLink(rel_page, attribute, value, f"no id {fragment!r} in the page"))
    return broken, n_local, n_external


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "_build" / "html"
    broken, n_local, n_external = check_site(root)
    for link in broken:
        print(f"BROKEN {link}")
    print(f"links: {n_local} local checked, {len(broken)} broken; {n_external} external not fetched")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
