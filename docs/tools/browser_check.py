"""Open built pages in headless Chromium and check they render: every image loaded
(``naturalWidth > 0``), every formula (``.math``) typeset by MathJax without a MathJax error, no
console error, no uncaught exception, no failed resource load.
A screenshot of each page is kept (``docs/_build/screenshots/*.png``).

Uses Debian's ``chromium`` (``apt-get install chromium``; nothing is downloaded at run time),
driven through the Chrome DevTools Protocol over a websocket (``websocket-client``). The site is
served from ``127.0.0.1`` on a free port for the duration of the check. Usage::

    python docs/tools/browser_check.py docs/_build/html index.html tutorials/07_verify_your_own_claim.html ...

A page given as ``PAGE:N`` must also show at least N images. Exit status 1 if any page fails.
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 900)
MAX_SCREENSHOT_HEIGHT = 5000     # px; long pages are cut there (the checks still cover all of it)

# Waits for every <img> to finish (load or error), then reports what each one rendered.
IMAGES_JS = """
(async () => {
  const images = Array.from(document.images);
  for (const img of images) { img.loading = 'eager'; }
  await Promise.all(images.map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return images.map(img => ({src: img.currentSrc || img.src, naturalWidth: img.naturalWidth,
                             complete: img.complete}));
})()
"""

# Waits for MathJax (if the page loads it) to finish typesetting, then counts the formulas
# (Sphinx marks them ".math") left untypeset and MathJax's own error nodes.
MATH_JS = """
(async () => {
  const formulas = Array.from(document.querySelectorAll('.math'));
  const loaded = !!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise);
  if (loaded) { await window.MathJax.startup.promise; }
  return {formulas: formulas.length, loaded: loaded,
          untypeset: formulas.filter(e => !e.querySelector('mjx-container')).length,
          errors: document.querySelectorAll('mjx-merror').length};
})()
"""


@dataclass
class PageResult:
    page: str
    images: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    screenshot: str = ""
    formulas: int = 0            # formulas on the page (all typeset, or a problem is listed)

    @property
    def ok(self) -> bool:
        return not self.problems


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        # Chromium asks every server for /favicon.ico on its own; the site declares none, so that
        # request says nothing about the pages (a favicon a page does link is checked by check_links).
        if self.path == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").is_file():
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 -- signature fixed by the base class
        pass


class _Server:
    """The built site on http://127.0.0.1:<free port>/ in a background thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def find_chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError("no Chromium found (install Debian's package: apt-get install -y chromium)")


class _Browser:
    """One headless Chromium with one page, spoken to over the DevTools Protocol."""

    def __init__(self, executable: str, timeout: float = 60.0):
        import websocket  # websocket-client (the docs extra)

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="docs-chromium-")
        args = [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", "about:blank"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"Chromium did not start (exit code {self.process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                              suppress_origin=True)
        self._next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        message_id = self._next_id
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"{method}: no answer within {self.timeout} s")

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for i, message in enumerate(self.events):
                if message["method"] == event:
                    return self.events.pop(i)
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no {event} within {self.timeout} s")

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def _problems_from_events(events: list[dict]) -> list[str]:
    problems = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            problems.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            problems.append(f"uncaught exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            problems.append(f"console error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"failed to load a resource: {params.get('errorText')} (request {params.get('requestId')})")
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            if response.get("status", 200) >= 400:
                problems.append(f"HTTP {response.get('status')} for {response.get('url')}")
    return problems


def check_page(browser: _Browser, base_url: str, page: str, min_images: int, screenshots: Path) -> PageResult:
    result = PageResult(page)
    browser.events.clear()
    browser.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=WINDOW[1],
                 deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url=base_url + page)
    browser.wait_for("Page.loadEventFired")
    evaluated = browser.call("Runtime.evaluate", expression=IMAGES_JS, awaitPromise=True, returnByValue=True)
    if "exceptionDetails" in evaluated:
        result.problems.append(f"image check script failed: {evaluated['exceptionDetails'].get('text')}")
    result.images = evaluated.get("result", {}).get("value") or []
    math = browser.call("Runtime.evaluate", expression=MATH_JS, awaitPromise=True,
                        returnByValue=True).get("result", {}).get("value") or {}
    result.formulas = math.get("formulas", 0)
    if math.get("untypeset"):
        result.problems.append(f"formulas not typeset: {math['untypeset']} of {math['formulas']} "
                               f"(MathJax {'loaded' if math.get('loaded') else 'not loaded'})")
    if math.get("errors"):
        result.problems.append(f"MathJax errors in {math['errors']} formulas")
    time.sleep(0.3)              # late console messages (scripts run after load)
    browser.call("Runtime.evaluate", expression="1")   # drain pending events
    result.problems += _problems_from_events(browser.events)
    for image in result.images:
        if not image["complete"] or image["naturalWidth"] <= 0:
            result.problems.append(f"image not rendered: {image['src']}")
    if len(result.images) < min_images:
        result.problems.append(f"{len(result.images)} images, expected at least {min_images}")
    height = browser.call("Runtime.evaluate", expression="document.documentElement.scrollHeight",
                          returnByValue=True)["result"]["value"]
    height = max(WINDOW[1], min(int(height), MAX_SCREENSHOT_HEIGHT))
    browser.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=height,
                 deviceScaleFactor=1, mobile=False)
    shot = browser.call("Page.captureScreenshot", format="png")
    name = page.replace("/", "__").removesuffix(".html") + ".png"
    path = screenshots / name
    path.write_bytes(base64.b64decode(shot["data"]))
    result.screenshot = str(path)
    return result


def check_pages(root: Path, pages: list[tuple[str, int]], screenshots: Path) -> list[PageResult]:
    root = Path(root).resolve()
    for page, _ in pages:
        if not (root / page).is_file():
            raise ValueError(f"page {page!r} is not in the built site {str(root)!r}")
    screenshots.mkdir(parents=True, exist_ok=True)
    browser = _Browser(find_chromium())
    try:
        with _Server(root) as server:
            return [check_page(browser, server.url, page, n, screenshots) for page, n in pages]
    finally:
        browser.close()


def _tiny_png() -> bytes:
    """A valid 2x2 PNG (so the self-test needs no image library)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xa0" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def self_test(workdir: Path) -> list[str]:
    """Show that the check can fail: a clean page must pass, a page with a missing image, a
    console error and an uncaught exception must fail with each of them reported.

    Returns the list of what went wrong with the *checker* (empty: it works)."""
    site = Path(workdir) / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "dot.png").write_bytes(_tiny_png())
    (site / "good.html").write_text("<!doctype html><title>good</title><img src='dot.png' alt=''>")
    (site / "bad.html").write_text(
        "<!doctype html><title>bad</title><img src='dot.png' alt=''><img src='missing.png' alt=''>"
        "<span class='math'>\\(x^2\\)</span>"
        "<script>console.error('self-test error'); throw new Error('self-test exception');</script>")
    good, bad = check_pages(site, [("good.html", 1), ("bad.html", 0)], Path(workdir) / "shots")
    failures = []
    if not good.ok:
        failures.append(f"a clean page was reported: {good.problems}")
    expected = {"image not rendered": "missing.png", "console.error": "self-test error",
                "uncaught exception": "self-test exception", "formulas not typeset": "1 of 1"}
    for kind, needle in expected.items():
        if not any(p.startswith(kind) and needle in p for p in bad.problems):
            failures.append(f"not reported on the broken page: {kind} ({needle}); got {bad.problems}")
    return failures


def _page_spec(text: str) -> tuple[str, int]:
    page, _, count = text.partition(":")
    return page, int(count) if count else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="built HTML site (docs/_build/html)")
    parser.add_argument("pages", nargs="+", type=_page_spec, help="page paths relative to root, PAGE[:MIN_IMAGES]")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="screenshot directory (default: ROOT/../screenshots)")
    args = parser.parse_args(argv)
    screenshots = args.screenshots or args.root.resolve().parent / "screenshots"
    results = check_pages(args.root, args.pages, screenshots)
    for result in results:
        status = "ok" if result.ok else "FAIL"
        print(f"browser {status}: {result.page}: {len(result.images)} images rendered, "
              f"screenshot {os.path.relpath(result.screenshot)}")
        for problem in result.problems:
            print(f"    {problem}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
