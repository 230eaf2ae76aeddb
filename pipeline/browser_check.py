"""Open an HTML file in headless Chromium with the network off, and check what a reader would see.

``check_page(html_path, screenshot_path)`` loads the page from disk and fails (``PageCheckError``,
an ``AssertionError`` with a one-line message) unless

* every ``<img>`` decoded (``naturalWidth > 0``), and
* every request the page made stayed on the machine (``file:`` or ``data:``; ``blob:`` and
  ``about:`` are in-page too). External requests are recorded and fail: Chromium is started with
  every host name resolving to nothing and every proxied connection going to a closed loopback port.

It always writes a PNG screenshot of the whole page (capped at ``MAX_SCREENSHOT_HEIGHT`` CSS
pixels) to ``screenshot_path``, failed or not, so a failure can be looked at.

Chromium is Debian's (or one named by ``BROWSER_CHECK_CHROMIUM``), driven by Playwright for Python
(the ``browser`` extra, which ``make browser`` installs; no browser download), as ``make pdf``,
``make layout-check`` and the JupyterLab test drive it (:func:`launch_chromium`).

Command line::

    python -m pipeline.browser_check report/index.html report/screenshot.png

prints one line and exits 0 on success, 1 when the page fails the check, 2 when Chromium or
Playwright is missing or Chromium could not be driven.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

# Debian's launcher; BROWSER_CHECK_CHROMIUM overrides it (e.g. /usr/lib/chromium/chromium).
INSTALL_HINT = ("install Chromium or Chrome (on Debian: `make browser`), "
                "or name one with BROWSER_CHECK_CHROMIUM=/path/to/chromium")

LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
WINDOW = (1280, 900)
MAX_SCREENSHOT_HEIGHT = 20000

#: Chromium's flags for every check (Playwright adds headless mode, its pipe and the viewport).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
)
#: Network off: nothing resolves, and anything sent to a proxy meets a closed loopback port.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)

# Runs in the page after the load event: let lazy images load, wait for pending ones, then report.
IMAGES_JS = r"""
(async () => {
  const imgs = Array.from(document.images);
  for (const im of imgs) { if (im.loading === 'lazy') im.loading = 'eager'; }
  await Promise.all(imgs.map(im => im.complete ? null : new Promise(done => {
    im.addEventListener('load', done, {once: true});
    im.addEventListener('error', done, {once: true});
    setTimeout(done, 5000);
  })));
  return imgs.map((im, i) => {
    const src = im.currentSrc || im.getAttribute('src') || '';
    return {index: i, src: src.length > 100 ? src.slice(0, 100) + '...' : src, src_length: src.length,
            alt: im.alt || '', complete: im.complete, width: im.naturalWidth, height: im.naturalHeight};
  });
})()
"""


class BrowserMissing(RuntimeError):
    """Chromium is not installed (or BROWSER_CHECK_CHROMIUM names no executable)."""


class BrowserError(RuntimeError):
    """Chromium started but could not be driven (crashed, timed out, protocol error)."""


class PageCheckError(AssertionError):
    """The page made an external request, or an image did not decode. ``result`` holds the details."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


#: Names Chromium and Chrome go by (Debian, Fedora, Google's packages, macOS's app bundles).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
                 "/Applications/Chromium.app/Contents/MacOS/Chromium",
                 "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")


def _executable(name):
    path = name if os.path.isabs(name) else shutil.which(name)
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def find_chromium():
    """Path of Chromium (or Chrome), or ``BrowserMissing`` saying how to get one.

    ``BROWSER_CHECK_CHROMIUM`` names the executable (a path or a name on ``PATH``);
    otherwise the usual names are looked up on ``PATH`` and in the usual places.
    """
    wanted = os.environ.get("BROWSER_CHECK_CHROMIUM")
    if wanted:
        path = _executable(wanted)
        if not path:
            raise BrowserMissing(f"BROWSER_CHECK_CHROMIUM={wanted} is not an executable: {INSTALL_HINT}")
        return path
    for name in BROWSER_NAMES:
        path = _executable(name)
        if path:
            return path
    raise BrowserMissing(f"no Chromium or Chrome found ({', '.join(BROWSER_NAMES[:5])}): {INSTALL_HINT}")


def launch_chromium(playwright, loopback=False):
    """Chromium (:func:`find_chromium`), launched by Playwright with :data:`CHROMIUM_FLAGS` and the network off
    (:data:`OFFLINE_FLAGS`), unless ``loopback``: then pages on this machine (a JupyterLab server) can be
    reached."""
    flags = CHROMIUM_FLAGS + (() if loopback else OFFLINE_FLAGS)
    return playwright.chromium.launch(executable_path=find_chromium(), args=list(flags))


def short_url(url, limit=100):
    """A URL cut to ``limit`` characters (data: URLs run to megabytes), with its full length."""
    return url if len(url) <= limit else f"{url[:limit]}...({len(url)} chars)"


def is_local(url):
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


def check_page(html_path, screenshot_path, timeout=30.0, full_page=True):
    """Load ``html_path`` in headless Chromium, offline; check images and requests; save a screenshot.

    Returns
    -------
    dict
        ``url`` (the file: URL loaded), ``images`` (count), ``image_sizes`` ([w, h] per image),
        ``requests`` (every URL requested; embedded data: images are not requests), ``external`` (those that were not
        local), ``broken_images``, ``js_errors`` (uncaught exceptions; reported, not failed),
        ``screenshot``, ``screenshot_size`` ([w, h] in pixels), ``seconds``.

    Raises
    ------
    PageCheckError
        (an AssertionError) with a one-line message when a request left the page's machine or an
        image did not decode. The screenshot is written first.
    BrowserMissing, BrowserError, FileNotFoundError
        when the check could not be made.
    """
    started = time.monotonic()
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"no such page: {html_path}")
    find_chromium()
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing("Playwright is not installed: `make browser` installs it (the browser extra)") from None
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                result = _drive(browser, html_path, Path(screenshot_path), timeout, full_page)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise BrowserError(f"Chromium could not be driven: {str(exc).splitlines()[0]}") from None

    result["seconds"] = round(time.monotonic() - started, 2)
    problems = []
    if result["external"]:
        problems.append(f"{len(result['external'])} external request(s): " + ", ".join(result["external"][:5]))
    if result["broken_images"]:
        problems.append(f"{len(result['broken_images'])} of {result['images']} image(s) did not decode: "
                        + ", ".join(result["broken_images"][:5]))
    if problems:
        raise PageCheckError(f"{html_path}: " + "; ".join(problems), result)
    return result


def _drive(browser, html_path, screenshot_path, timeout, full_page):
    page = browser.new_page(viewport={"width": WINDOW[0], "height": WINDOW[1]})
    requests, errors, js_errors = [], {}, []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: errors.setdefault(request.url, request.failure or "failed"))
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    url = html_path.as_uri()
    # "networkidle": no request for 500 ms after the load event, so that scripts' late requests are seen
    page.goto(url, wait_until="networkidle", timeout=timeout * 1000)
    images = page.evaluate(IMAGES_JS)
    page.wait_for_timeout(50)   # requests started by lazy images that were made eager

    height = page.evaluate("document.documentElement.scrollHeight") if full_page else WINDOW[1]
    width = page.evaluate("document.documentElement.scrollWidth")
    clip = {"x": 0, "y": 0, "width": max(1, width), "height": max(1, min(height, MAX_SCREENSHOT_HEIGHT))}
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(path=str(screenshot_path), full_page=full_page, clip=clip, timeout=timeout * 1000)

    def describe_image(im):
        return f"#{im['index']} {im['src'] or '(no src)'}" + (f" [{im['alt']}]" if im["alt"] else "")

    def describe_request(u):
        return short_url(u) + (f" ({errors[u]})" if u in errors else "")

    return {
        "html": str(html_path),
        "url": url,
        "images": len(images),
        "image_sizes": [[im["width"], im["height"]] for im in images],
        "broken_images": [describe_image(im) for im in images if not (im["complete"] and im["width"] > 0)],
        "requests": [describe_request(u) for u in requests],
        "external": [describe_request(u) for u in requests if not is_local(u)],
        "js_errors": js_errors,
        "screenshot": str(screenshot_path),
        "screenshot_size": list(png_size(png)),
    }


def png_size(data):
    """(width, height) from a PNG's IHDR; ValueError if ``data`` is no PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", help="HTML file to open")
    parser.add_argument("screenshot", help="where to write the PNG screenshot")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the page to load (default 30)")
    parser.add_argument("--viewport", action="store_true", help="screenshot the first screen only")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON after the summary")
    args = parser.parse_args(argv)
    try:
        result = check_page(args.html, args.screenshot, timeout=args.timeout, full_page=not args.viewport)
    except PageCheckError as exc:
        print(f"browser check FAILED: {exc}", file=sys.stderr)
        return 1
    except (BrowserMissing, BrowserError, FileNotFoundError) as exc:
        print(f"browser check could not run: {exc}", file=sys.stderr)
        return 2
    w, h = result["screenshot_size"]
    print(f"browser check OK: {args.html}: {result['images']} image(s) decoded, {len(result['requests'])} "
          f"request(s), all local; screenshot {args.screenshot} ({w}x{h}) in {result['seconds']:.1f} s")
    if args.json:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
