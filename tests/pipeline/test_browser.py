"""The report as a reader sees it: headless Chromium, network off (pipeline/browser_check.py).

Needs Chromium or Chrome and Playwright (``make browser`` installs Debian's Chromium and the browser
extra; ``BROWSER_CHECK_CHROMIUM=/path`` names another Chromium). Without one these tests are skipped with one line saying so, unless
``BROWSER_TESTS=required`` (CI sets it): then they fail.
"""

import base64
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from pipeline import browser_check
from pipeline.browser_check import BrowserMissing, PageCheckError, check_page, png_size
from tests.conftest import require_playwright_chromium

pytestmark = pytest.mark.browser   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)

CHECK_SCRIPT = Path(browser_check.__file__).resolve()


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


def assert_png(path):
    data = Path(path).read_bytes()
    width, height = png_size(data)
    assert width > 0 and height > 0
    import matplotlib.pyplot as plt

    pixels = plt.imread(path)  # a full decode, not just the header
    assert pixels.shape[:2] == (height, width)
    return width, height


def test_embedded_and_local_images_pass(chromium, tmp_path):
    (tmp_path / "pic.png").write_bytes(png_bytes(8, 6, (30, 200, 30)))
    page = write_page(tmp_path / "good.html", good_body() + '<img alt="file" src="pic.png">')
    shot = tmp_path / "shots" / "good.png"
    result = check_page(page, shot)
    assert result["images"] == 3
    assert result["image_sizes"] == [[40, 30], [64, 16], [8, 6]]
    assert result["broken_images"] == [] and result["external"] == []
    # the page and its file image are requests (embedded data: images are not, to Playwright)
    assert result["requests"] == [page.resolve().as_uri(), (tmp_path / "pic.png").resolve().as_uri()]
    assert assert_png(shot) == tuple(result["screenshot_size"])
    assert result["screenshot_size"][0] >= 800


@pytest.mark.parametrize("body, url", [
    ('<img alt="remote" src="http://example.invalid/x.png">', "http://example.invalid/x.png"),
    ('<script src="https://example.invalid/lib.js"></script>', "https://example.invalid/lib.js"),
    # a request made by script after the page has loaded counts too
    ("<script>setTimeout(() => fetch('https://example.invalid/data.json').catch(() => {}), 50)</script>",
     "https://example.invalid/data.json"),
], ids=["img", "script", "fetch"])
def test_external_request_fails(chromium, tmp_path, body, url):
    page = write_page(tmp_path / "external.html", good_body() + body)
    shot = tmp_path / "external.png"
    with pytest.raises(PageCheckError, match="external request") as info:
        check_page(page, shot)
    message = str(info.value)
    assert "\n" not in message and url in message
    assert any(u.startswith(url) for u in info.value.result["external"])
    assert_png(shot)  # the screenshot is written even when the check fails


def test_undecodable_image_fails(chromium, broken_page, tmp_path):
    with pytest.raises(PageCheckError, match=r"1 of 1 image\(s\) did not decode") as info:
        check_page(broken_page, tmp_path / "broken.png")
    assert "\n" not in str(info.value)
    assert info.value.result["external"] == []
    assert info.value.result["broken_images"][0].startswith("#0 data:image/png")


def test_missing_chromium_says_how_to_install(monkeypatch, good_page, tmp_path):
    monkeypatch.setenv("BROWSER_CHECK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(BrowserMissing, match="make browser"):
        check_page(good_page, tmp_path / "x.png")


@pytest.mark.parametrize("which, code", [("good", 0), ("broken", 1)])
def test_command_line(chromium, request, tmp_path, which, code):
    page = request.getfixturevalue(f"{which}_page")
    shot = tmp_path / "cli.png"
    run = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(page), str(shot)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == code, run.stderr
    out = run.stdout if code == 0 else run.stderr
    assert len(out.strip().splitlines()) == 1, out
    assert out.startswith("browser check OK" if code == 0 else "browser check FAILED")
    assert_png(shot)


def test_chromium_is_found_under_other_names_and_missing_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("BROWSER_CHECK_CHROMIUM", raising=False)
    monkeypatch.setattr(browser_check, "BROWSER_NAMES", browser_check.BROWSER_NAMES[:5])  # no /Applications
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BrowserMissing, match="no Chromium or Chrome found .*BROWSER_CHECK_CHROMIUM"):
        browser_check.find_chromium()
    fedora = tmp_path / "chromium-browser"
    fedora.write_text("#!/bin/sh\n")
    fedora.chmod(0o755)
    monkeypatch.setenv("PATH", f"{empty}:{tmp_path}")
    assert browser_check.find_chromium() == str(fedora)
