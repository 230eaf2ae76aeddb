"""Exploring as a student does: JupyterLab in Chromium, the training notebook with quick = True, Run All.

Playwright (the ``browser`` extra, installed by ``make browser``) drives Debian's Chromium (no browser
download). Skipped with a reason where either is missing, a failure when ``BROWSER_TESTS=required`` (CI).
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest

from helpers.paths import ROOT

pytestmark = pytest.mark.browser   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)

VENV_BIN = ROOT / ".venv" / "bin"
TOKEN = "dd2424-test"


@pytest.fixture(scope="module")
def browser():
    from pipeline.browser import launch_chromium
    from tests.conftest import require_playwright_chromium

    require_playwright_chromium("JupyterLab test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p, loopback=True)     # JupyterLab is on this machine
        yield b
        b.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a folder with a copy of the training notebook, its settings in tmp_path."""
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "train.ipynb", root / "train.ipynb")
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    # Every cell drawn, not only those on the screen (JupyterLab 4 draws a long notebook's cells as they scroll
    # into view), so that the test sees every cell's prompt.
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                             f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--ServerApp.open_browser=False"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).read()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield url, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def edited_parameters(values):
    """The training notebook's own parameters cell with some values replaced, one assignment a line (its
    comments dropped): what a student types, whatever parameters the notebook has."""
    import nbformat

    cell = next(c for c in nbformat.read(str(ROOT / "notebooks" / "train.ipynb"), as_version=4).cells
                if c.cell_type == "code")
    lines = []
    for line in cell.source.splitlines():
        name, sep, value = line.split("#")[0].partition("=")
        if sep and name.strip().isidentifier():
            lines.append(f"{name.strip()} = {values.get(name.strip(), value.strip())}")
    return "\n".join(lines)


def test_the_training_notebook_runs_all_in_jupyterlab_with_quick_true(browser, lab, tiny_data_dir, tmp_path):
    url, root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/train.ipynb?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-mod-idle", timeout=60_000)
    # as a student edits the parameters cell: quick = True, the data (tiny here) and a results folder
    params = page.locator(".jp-CodeCell").first
    params.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(edited_parameters({"n_val": "50", "quick": "True", "data_dir": json.dumps(str(tiny_data_dir)),
                                                 "results_dir": json.dumps(str(tmp_path / "results"))}))
    n_code = sum(c.cell_type == "code" for c in nbformat.read(str(root / "train.ipynb"), as_version=4).cells)

    def any_cell_started():
        return any(p.strip() not in ("[ ]:", "") for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts())

    for attempt in range(2):   # on a busy machine the first Run All can come before the kernel listens
        page.click("text=Run", timeout=10_000)                  # the menu bar's Run menu
        page.click("text=Run All Cells", timeout=10_000)
        wait_until = time.time() + 30
        while time.time() < wait_until and not any_cell_started():
            time.sleep(0.5)
        if any_cell_started():
            break
    deadline = time.time() + 180
    while time.time() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if len(prompts) == n_code and all(p.strip().startswith("[") and p.strip()[1:-2].isdigit() for p in prompts):
            break
        time.sleep(0.5)
    page.screenshot(path=str(tmp_path / "jupyterlab.png"), full_page=True)
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    assert len(prompts) == n_code and all(p.strip()[1:-2].isdigit() for p in prompts), f"not every cell ran: {prompts}"
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    assert not [e for e in errors if "Traceback" in e or "Error" in e], errors
    assert page.locator(".jp-RenderedImage img").count() >= 3          # the images, the curves, the rows of W
    text = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "cost of this mini-batch" in text and "saved to" in text
    assert list((tmp_path / "results" / "explore").glob("*_ep5/summary.json"))   # quick: 5 epochs, in its folder
