"""Chromium, found and driven for the checks and the PDF: offline, through Playwright, no browser download.

Chromium is Debian's (or one named by ``BROWSER_CHECK_CHROMIUM``), driven by Playwright for Python (the
``browser`` extra, which ``make browser`` installs). :func:`chromium` gives it launched with the network off for
``make layout-check`` (:mod:`pipeline.layout_check`) and ``make pdf`` (:mod:`pipeline.pdf`);
:func:`launch_chromium` also serves the JupyterLab test, which reaches a server on this machine.
"""

import contextlib
import os
import shutil
from urllib.parse import urlsplit

# Debian's launcher; BROWSER_CHECK_CHROMIUM overrides it (e.g. /usr/lib/chromium/chromium).
INSTALL_HINT = ("install Chromium or Chrome (on Debian: `make browser`), "
                "or name one with BROWSER_CHECK_CHROMIUM=/path/to/chromium")

LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})

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


class BrowserMissing(RuntimeError):
    """Chromium is not installed (or BROWSER_CHECK_CHROMIUM names no executable)."""


class BrowserError(RuntimeError):
    """Chromium started but could not be driven (crashed, timed out, protocol error)."""


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


def is_local(url):
    """True for a URL that stays on the machine (``file:``, ``data:``; ``blob:`` and ``about:`` are in-page)."""
    return urlsplit(url).scheme.lower() in LOCAL_SCHEMES


@contextlib.contextmanager
def chromium():
    """Chromium launched offline (:func:`launch_chromium`), closed on leaving; ``BrowserMissing`` when it or
    Playwright is not installed, ``BrowserError`` (one line) when it could not be driven."""
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
                yield browser
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise BrowserError(f"Chromium could not be driven: {str(exc).splitlines()[0]}") from None
