"""Open an HTML file in headless Chromium with the network off, and check what a reader would see.

``check_page(html_path, screenshot_path)`` loads the page from disk and fails (``PageCheckError``,
an ``AssertionError`` with a one-line message) unless

* every ``<img>`` decoded (``naturalWidth > 0``), and
* every request the page made stayed on the machine (``file:`` or ``data:``; ``blob:`` and
  ``about:`` are in-page too). External requests are blocked *and* recorded: the page is told it is
  offline (DevTools ``Network.emulateNetworkConditions``), every host name resolves to nothing and
  every proxied connection goes to a closed loopback port.

It always writes a PNG screenshot of the whole page (capped at ``MAX_SCREENSHOT_HEIGHT`` CSS
pixels) to ``screenshot_path``, failed or not, so a failure can be looked at.

Chromium is driven through its DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4), so no TCP port is opened and nothing beyond the standard library and
Debian's ``chromium`` package is needed (no chromedriver, no browser download).

Command line::

    python tests/browser_check.py report/index.html report/screenshot.png

prints one line and exits 0 on success, 1 when the page fails the check, 2 when Chromium is missing
or could not be driven.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

# Debian's launcher; BROWSER_CHECK_CHROMIUM overrides it (e.g. /usr/lib/chromium/chromium).
INSTALL_HINT = ("install Chromium or Chrome (on Debian: `make browser`), "
                "or name one with BROWSER_CHECK_CHROMIUM=/path/to/chromium")

LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
WINDOW = (1280, 900)
MAX_SCREENSHOT_HEIGHT = 20000
QUIET_SECONDS = 0.3  # no request in flight for this long after the load event: the page is done

CHROMIUM_FLAGS = (
    "--headless",
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
    # network off: nothing resolves, and anything sent to a proxy meets a closed loopback port
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
    "--remote-debugging-pipe",
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
    """Chromium, launched by Playwright with :data:`CHROMIUM_FLAGS` (the pdf, layout and JupyterLab checks).

    Playwright sets the headless mode, its own pipe and the viewport. The network stays off, unless
    ``loopback``: then pages on this machine (a JupyterLab server) can be reached.
    """
    drop = ("--headless", "--remote-debugging", "--window-size") + (("--proxy", "--host-resolver") if loopback else ())
    return playwright.chromium.launch(executable_path=find_chromium(),
                                      args=[f for f in CHROMIUM_FLAGS if not f.startswith(drop)])


def short_url(url, limit=100):
    """A URL cut to ``limit`` characters (data: URLs run to megabytes), with its full length."""
    return url if len(url) <= limit else f"{url[:limit]}...({len(url)} chars)"


def is_local(url):
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


class _DevTools:
    """The DevTools protocol over Chromium's pipe: JSON messages ending in NUL, fds 3 (in) and 4 (out)."""

    def __init__(self, executable, user_data_dir, log_file):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def move_pipes():  # in the child, before exec: the pipe ends become fds 3 and 4 (inheritable)
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            close_fds=False, preexec_fn=move_pipes, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events = []  # (method, params, sessionId), in arrival order

    def send(self, method, params=None, session=None):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def pump(self, seconds):
        """Read events for up to ``seconds``; returns when nothing arrives before then."""
        deadline = time.monotonic() + seconds
        while (message := self._read_message(deadline)) is not None:
            if "method" in message:
                self.events.append((message["method"], message.get("params", {}), message.get("sessionId")))

    def call(self, method, params=None, session=None, timeout=30.0):
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message is None:
                raise BrowserError(f"no answer to {method} within {timeout:g} s")
            if "method" in message:
                self.events.append((message["method"], message.get("params", {}), message.get("sessionId")))
            elif message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message', message['error'])}")
                return message.get("result", {})

    def wait_for(self, method, session, timeout, since=0):
        """Wait for an event (from ``self.events[since:]`` on); returns its params, or None on time-out."""
        seen = since
        deadline = time.monotonic() + timeout
        while True:
            for name, params, sid in self.events[seen:]:
                if name == method and sid == session:
                    return params
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            message = self._read_message(deadline)
            if message is not None and "method" in message:
                self.events.append((message["method"], message.get("params", {}), message.get("sessionId")))

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait(timeout=5)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


def _requests(events, session):
    """URLs the page asked for, in order: (url, error or None). Every kind of request is counted."""
    urls, errors = {}, {}
    for method, params, sid in events:
        if sid != session:
            continue
        if method == "Network.requestWillBeSent":
            urls.setdefault(params["requestId"], params["request"]["url"])
            # a redirect reuses the request id with the new URL
            if "redirectResponse" in params:
                urls[params["requestId"] + f"#{len(urls)}"] = params["request"]["url"]
        elif method == "Network.webSocketCreated":
            urls[params["requestId"]] = params["url"]
        elif method == "Network.loadingFailed":
            errors[params["requestId"]] = params.get("errorText") or "failed"
    return [(url, errors.get(rid)) for rid, url in urls.items()]


def _in_flight(events, session):
    started, ended = set(), set()
    for method, params, sid in events:
        if sid != session:
            continue
        if method == "Network.requestWillBeSent":
            started.add(params["requestId"])
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            ended.add(params["requestId"])
    return started - ended


def check_page(html_path, screenshot_path, timeout=30.0, full_page=True):
    """Load ``html_path`` in headless Chromium, offline; check images and requests; save a screenshot.

    Returns
    -------
    dict
        ``url`` (the file: URL loaded), ``images`` (count), ``image_sizes`` ([w, h] per image),
        ``requests`` (every URL requested, data: URLs shortened), ``external`` (those that were not
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
    screenshot_path = Path(screenshot_path)
    executable = find_chromium()

    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        profile = Path(tmp, "profile")
        profile.mkdir()
        log_path = Path(tmp, "chromium.log")
        with open(log_path, "wb") as log_file:
            try:
                browser = _DevTools(executable, profile, log_file)
            except OSError as exc:
                raise BrowserMissing(f"cannot start {executable} ({exc}): {INSTALL_HINT}") from None
        try:
            result = _drive(browser, html_path, screenshot_path, timeout, full_page)
        except BrowserError as exc:
            tail = " | ".join(line.strip() for line in log_path.read_text(errors="replace").splitlines()[-3:])
            raise BrowserError(f"{exc}; chromium log: {tail}") from None
        finally:
            browser.close()

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
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for method, params in (
        ("Network.enable", {}),
        ("Network.emulateNetworkConditions",
         {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        ("Network.setCacheDisabled", {"cacheDisabled": True}),
        ("Page.enable", {}),
        ("Runtime.enable", {}),
    ):
        browser.call(method, params, session)

    url = html_path.as_uri()
    since = len(browser.events)
    navigation = browser.call("Page.navigate", {"url": url}, session, timeout)
    if navigation.get("errorText"):
        raise BrowserError(f"could not open {url}: {navigation['errorText']}")
    if browser.wait_for("Page.loadEventFired", session, timeout, since) is None:
        raise BrowserError(f"{url} did not finish loading within {timeout:g} s")
    # let requests that the load event did not wait for (scripts, fetches) finish or fail
    deadline = time.monotonic() + min(timeout, 10.0)
    while time.monotonic() < deadline:
        before = len(browser.events)
        browser.pump(QUIET_SECONDS)
        if len(browser.events) == before and not _in_flight(browser.events, session):
            break

    evaluated = browser.call("Runtime.evaluate", {"expression": IMAGES_JS, "awaitPromise": True,
                                                  "returnByValue": True}, session, timeout)
    if "exceptionDetails" in evaluated:
        raise BrowserError(f"image check script failed: {evaluated['exceptionDetails'].get('text')}")
    images = evaluated["result"]["value"]
    browser.pump(0.05)  # requests started by lazy images that were made eager

    requests = _requests(browser.events, session)
    js_errors = [params["exceptionDetails"].get("exception", {}).get("description")
                 or params["exceptionDetails"].get("text")
                 for method, params, sid in browser.events
                 if method == "Runtime.exceptionThrown" and sid == session]

    metrics = browser.call("Page.getLayoutMetrics", {}, session)
    content = metrics.get("cssContentSize") or metrics["contentSize"]
    width = max(1, int(content["width"]))
    height = max(1, int(content["height"])) if full_page else WINDOW[1]
    height = min(height, MAX_SCREENSHOT_HEIGHT)
    shot = browser.call("Page.captureScreenshot",
                        {"format": "png", "captureBeyondViewport": full_page, "fromSurface": True,
                         "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
                        session, timeout)
    png = base64.b64decode(shot["data"])
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    screenshot_path.write_bytes(png)

    def describe_image(im):
        return f"#{im['index']} {im['src'] or '(no src)'}" + (f" [{im['alt']}]" if im["alt"] else "")

    return {
        "html": str(html_path),
        "url": url,
        "images": len(images),
        "image_sizes": [[im["width"], im["height"]] for im in images],
        "broken_images": [describe_image(im) for im in images if not (im["complete"] and im["width"] > 0)],
        "requests": [short_url(u) + (f" ({err})" if err else "") for u, err in requests],
        "external": [short_url(u) + (f" ({err})" if err else "") for u, err in requests if not is_local(u)],
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
