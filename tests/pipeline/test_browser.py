"""The page in headless Chromium with the network off (pipeline/browser.py, through pipeline/layout_check.py): every
image decodes, and no request leaves the machine.

Needs Chromium or Chrome and Playwright (``make browser`` installs Debian's Chromium and the browser
extra; ``BROWSER_CHECK_CHROMIUM=/path`` names another Chromium). Without one these tests are skipped with one line saying so, unless
``BROWSER_TESTS=required`` (CI sets it): then they fail.
"""

import base64
import struct
import zlib

import pytest

from pipeline import browser
from pipeline.browser import BrowserMissing
from pipeline.layout_check import measure, policy_problems
from tests.conftest import require_playwright_chromium

pytestmark = pytest.mark.browser   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)


@pytest.fixture(scope="module")
def chromium():
    return require_playwright_chromium("browser test")


def png_bytes(width, height, rgb):
    """A valid RGB PNG of one colour, made by hand."""
    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def data_uri(payload):
    return "data:image/png;base64," + base64.b64encode(payload).decode()


def write_page(path, body):
    path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>t</title></head>"
                    f"<body><h1>Test page</h1>{body}</body></html>\n")
    return path


def good_body():
    """Two embedded PNG images, 40x30 and 64x16."""
    return (f'<p><img alt="red" src="{data_uri(png_bytes(40, 30, (220, 30, 30)))}"></p>'
            f'<p><img alt="blue" src="{data_uri(png_bytes(64, 16, (30, 30, 220)))}"></p>')


@pytest.fixture
def good_page(tmp_path):
    return write_page(tmp_path / "good.html", good_body())


@pytest.fixture
def broken_page(tmp_path):
    # starts like a PNG, then garbage: the browser cannot decode it
    body = '<img alt="broken" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgBub3QgYSBwbmcgYXQgYWxs">'
    return write_page(tmp_path / "broken.html", body)


def opened(page):
    """What layout-check finds on ``page`` at 1280 px, and its problems besides the policy (these pages have none)."""
    m = measure(page, widths=(1280,))[1280]
    return m, [p for p in policy_problems(m) if "Content-Security-Policy" not in p]


def test_embedded_and_local_images_pass(chromium, tmp_path):
    (tmp_path / "pic.png").write_bytes(png_bytes(8, 6, (30, 200, 30)))
    page = write_page(tmp_path / "good.html", good_body() + '<img alt="file" src="pic.png">')
    m, found = opened(page)
    assert m["images"] == 3 and m["undecoded"] == 0 and m["external"] == [] and found == []


@pytest.mark.parametrize("body, url", [
    ('<img alt="remote" src="http://example.invalid/x.png">', "http://example.invalid/x.png"),
    ('<script src="https://example.invalid/lib.js"></script>', "https://example.invalid/lib.js"),
    # a request made by script after the page has loaded counts too
    ("<script>setTimeout(() => fetch('https://example.invalid/data.json').catch(() => {}), 50)</script>",
     "https://example.invalid/data.json"),
], ids=["img", "script", "fetch"])
def test_a_request_that_would_leave_the_machine_fails(chromium, tmp_path, body, url):
    m, found = opened(write_page(tmp_path / "external.html", good_body() + body))
    assert m["external"] == [url]
    assert found[0] == f"1 requests would leave the machine, e.g. {url}", found


def test_an_image_that_does_not_decode_fails(chromium, broken_page):
    m, found = opened(broken_page)
    assert m["undecoded"] == 1 and m["external"] == [] and found[-1] == "1 images do not decode", found


def test_missing_chromium_says_how_to_install(monkeypatch, good_page, tmp_path):
    monkeypatch.setenv("BROWSER_CHECK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(BrowserMissing, match="make browser"):
        measure(good_page)


def test_chromium_is_found_under_other_names_and_missing_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("BROWSER_CHECK_CHROMIUM", raising=False)
    monkeypatch.setattr(browser, "BROWSER_NAMES", browser.BROWSER_NAMES[:5])  # no /Applications
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BrowserMissing, match="no Chromium or Chrome found .*BROWSER_CHECK_CHROMIUM"):
        browser.find_chromium()
    fedora = tmp_path / "chromium-browser"
    fedora.write_text("#!/bin/sh\n")
    fedora.chmod(0o755)
    monkeypatch.setenv("PATH", f"{empty}:{tmp_path}")
    assert browser.find_chromium() == str(fedora)
