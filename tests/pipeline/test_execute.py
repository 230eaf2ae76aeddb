"""Notebook runs: plain lines on the terminal (two per run, also in parallel), Ctrl-C and SIGTERM
(one line, nothing partial, no kernel left), a failing cell, retries only of a kernel start."""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.paths import ROOT
from tests.conftest import training_is_running

pytestmark = pytest.mark.e2e   # a tier `make test` runs and `make test-fast` leaves out (pyproject.toml)


def test_a_run_on_a_terminal_prints_two_plain_lines_and_its_training_bar_stays_in_the_notebook(tmp_path, tiny_data_dir):
    import json

    master, slave = pty.openpty()
    output = tmp_path / "t.ipynb"
    proc = subprocess.Popen(train_command(output, "tty run", tmp_path, tiny_data_dir, 30), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    screen = Screen(400)
    read_terminal(master, screen, lambda: proc.poll() is not None, timeout=240)
    read_terminal(master, screen, lambda: False, timeout=1)          # what is left
    os.close(master)
    proc.wait(timeout=60)
    text = screen.raw.decode().replace("\r\n", "\n")               # the terminal's newlines
    assert proc.returncode == 0, text
    assert text.count("\n") == 2 and "\r" not in text and "\x1b" not in text, repr(text)   # no bar, nothing redrawn
    start, done = text.splitlines()
    assert start == f"[tty run] notebooks/train.ipynb -> {output}" and done.startswith("[tty run] done in "), text
    text = json.dumps(json.loads(output.read_text())["cells"])
    assert "30/30" in text and "epoch" in text                        # the training bar, in the notebook


# --- helpers -------------------------------------------------------------------------------

def tiny_notebook(path, *cells):
    """A notebook with a ``parameters`` cell (``x = 1``) and ``cells``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "dd2424-a1", "display_name": "Python (dd2424-a1)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))
    return path


class Screen:
    """A tiny terminal: printable characters, CR, LF, ESC[nA (up) and ESC[K (erase to the end of the line)."""

    def __init__(self, cols):
        import codecs

        self.cols, self.lines, self.row, self.col = cols, [""], 0, 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""
        self.raw = b""          # every byte received

    def feed(self, data):
        import re

        self.raw += data
        text, self.pending = self.pending + self.decoder.decode(data), ""
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[(\d*)([A-Za-z])", text[i:])
                if not m:
                    self.pending = text[i:]
                    return
                if m.group(2) == "A":
                    self.row = max(0, self.row - int(m.group(1) or 1))
                elif m.group(2) == "K":
                    self._grow()
                    self.lines[self.row] = self.lines[self.row][:self.col]
                i += len(m.group(0))
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.row += 1
            elif ch >= " ":
                if self.col >= self.cols:
                    self.row, self.col = self.row + 1, 0
                self._grow()
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[:self.col] + ch + line[self.col + 1:]
                self.col += 1
            i += 1
        self._grow()

    def _grow(self):
        while len(self.lines) <= self.row:
            self.lines.append("")


def read_terminal(master, screen, until, timeout=240):
    """Feed what arrives on ``master`` into ``screen`` until ``until()`` or EOF; call ``on_chunk`` per chunk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.feed(chunk)
        if until():
            return


def train_command(output, label, tmp_path, tiny_data_dir, n_epochs, seeds="[1]"):
    return [sys.executable, "-m", "pipeline", "execute", "notebooks/train.ipynb", str(output), "--label", label,
            "-p", "run", f'{{"lam": 0, "eta": 0.01, "n_batch": 10, "n_epochs": {n_epochs}}}',
            "-p", "seeds", seeds, "-p", "variant", label, "-p", "data_dir", str(tiny_data_dir),
            "-p", "results_dir", str(tmp_path / "results"), "-p", "n_val", "50"]


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def default_signals():
    """In the child: default SIGINT and SIGTERM, even when pytest runs with them ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def kernel_pids(parent):
    out = subprocess.run(["pgrep", "-P", str(parent), "-f", "ipykernel_launcher"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead
        return fh.read().split(")")[-1].split()[0] != "Z"


# --- Ctrl-C and SIGTERM ----------------------------------------------------------------------

@pytest.mark.parametrize("signum,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_training_is_one_line_and_leaves_nothing(tmp_path, tiny_data_dir, signum, status):
    output = tmp_path / "out" / "train.ipynb"
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen(train_command(output, "run", tmp_path, tiny_data_dir, 100000), cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True, preexec_fn=default_signals)
    try:
        assert wait_until(lambda: training_is_running(output), 180), "training did not start"
        kernels = kernel_pids(proc.pid)
        assert kernels
        os.killpg(proc.pid, signum)  # as the terminal does on Ctrl-C: the whole process group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err
    assert err.decode() == "interrupted: nothing partial was kept; run the same command again to resume\n"
    assert out.decode().count("\n") == 1                          # the start line only
    assert list(output.parent.iterdir()) == []                    # no executed notebook, no temporary one
    assert not (tmp_path / "results").exists()
    assert list((tmp_path / "tmp").iterdir()) == []               # the kernel's sockets and connection file
    time.sleep(0.5)
    assert not any(alive(pid) for pid in kernels)


# --- a failing cell, retries -------------------------------------------------------------------

def test_a_failing_cell_keeps_the_executed_notebook_under_its_name(tmp_path):
    import json

    from pipeline.execute import NotebookError, execute

    nb = tiny_notebook(tmp_path / "nb.ipynb", "y = x + 1", "raise ValueError('no good')")
    output = tmp_path / "out" / "nb.ipynb"
    with pytest.raises(NotebookError, match=r"nb failed in cell 4: ValueError: no good; open .*out/nb.ipynb to see"):
        execute(nb, output, {"x": 2})
    assert [p.name for p in output.parent.iterdir()] == ["nb.ipynb"]
    executed = json.loads(output.read_text())
    assert executed["metadata"]["papermill"]["output_path"] == str(output)
    assert oct(output.stat().st_mode & 0o777) != oct(0o600)      # not the temporary file's private mode


def test_only_a_kernel_that_failed_to_start_is_retried(tmp_path, monkeypatch):
    import papermill

    from pipeline import execute as ex

    nb = tiny_notebook(tmp_path / "nb.ipynb")
    calls = []

    def fails_to_start(kw):
        kw["kernel_manager_class"](kernel_name=ex.KERNEL_NAME)     # as nbclient makes it, before the start
        raise RuntimeError("Kernel didn't respond in 120 seconds")

    def starts_second_time(notebook, output, **kw):
        calls.append(output)
        if len(calls) == 1:
            fails_to_start(kw)
        kw["kernel_manager_class"](kernel_name=ex.KERNEL_NAME)
        kw["on_notebook_start"](notebook=None)
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", starts_second_time)
    assert ex.execute(nb, tmp_path / "out.ipynb") == tmp_path / "out.ipynb"
    assert len(calls) == 2 and (tmp_path / "out.ipynb").read_text() == "{}"

    def other_error(notebook, output, **kw):               # before any kernel, or once the cells began
        calls.append(output)
        if len(calls) == 2:
            kw["kernel_manager_class"](kernel_name=ex.KERNEL_NAME)
            kw["on_notebook_start"](notebook=None)
        raise RuntimeError("something else")

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", other_error)
    for n in (1, 2):
        with pytest.raises(RuntimeError, match="something else"):
            ex.execute(nb, tmp_path / "out2.ipynb")
        assert len(calls) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "out.ipynb"]  # no temporary file left

    def never_starts(notebook, output, **kw):
        calls.append(output)
        fails_to_start(kw)

    calls.clear()
    monkeypatch.setattr(papermill, "execute_notebook", never_starts)
    with pytest.raises(ex.NotebookError, match=r"nb: the Jupyter kernel 'dd2424-a1' failed to start twice "
                                               r"\(RuntimeError: Kernel didn't respond"):
        ex.execute(nb, tmp_path / "out3.ipynb")
    assert len(calls) == 2


def test_a_real_kernel_that_cannot_start_is_retried_once_then_named(tmp_path, monkeypatch, capfd):
    """A kernel whose start fails inside nbclient (here: it exits before it answers)."""
    from pipeline import execute as ex

    monkeypatch.setattr(ex, "KERNEL_ARGUMENTS", [*ex.KERNEL_ARGUMENTS, "--IPKernelApp.exec_lines=["
                        "'import os; os.write(2, b\\'no luck\\\\n\\'); os._exit(3)']"])
    with pytest.raises(ex.NotebookError, match=r"nb: the Jupyter kernel 'dd2424-a1' failed to start twice") as raised:
        ex.execute(tiny_notebook(tmp_path / "nb.ipynb"), tmp_path / "out.ipynb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]
    # what the kernel wrote on its standard error is named in the message, and was not on the terminal
    assert str(raised.value).endswith("; the kernel said: no luck)"), raised.value
    assert "no luck" not in capfd.readouterr().err


@pytest.mark.parametrize("long_tmp", [False, True], ids=["unix sockets", "tcp"])
def test_what_a_kernel_logs_stays_off_the_terminal_and_its_folder_goes_with_the_run(tmp_path, capfd, monkeypatch,
                                                                                      request, long_tmp):
    """An ipykernel logs on its own standard error, not into a cell's output: "KeyboardInterrupt caught in kernel."
    when jupyter_client interrupts it to shut it down while it still answers a request, asyncio's complaints as a
    signal stops it. Here a cell logs a line there itself (as the kernel's log does). Under a temporary folder too
    long for socket paths the kernel talks over local TCP, its standard error kept all the same."""
    import tempfile

    from pipeline import execute as ex

    tmp = tmp_path / ("t" * 90) if long_tmp else Path(tempfile.mkdtemp(prefix="t"))   # pytest's own: long already
    tmp.mkdir(exist_ok=True)
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    made, kept = [], []
    monkeypatch.setattr(ex, "_kernel_folder", lambda real=ex._kernel_folder: made.append(real()) or made[-1])
    rmtree = shutil.rmtree

    def remove(path, **kwargs):                            # what the kernel's file held when its folder went
        kept.extend(p.read_text() for p in Path(path).glob(ex.KERNEL_STDERR))
        rmtree(path, **kwargs)

    monkeypatch.setattr(ex.shutil, "rmtree", remove)
    nb = tiny_notebook(tmp_path / "nb.ipynb", "get_ipython().kernel.log.error('a line of the kernel log')",
                       "from ipykernel.kernelapp import IPKernelApp; print(IPKernelApp.instance().transport)")
    ex.execute(nb, tmp_path / "out.ipynb")
    assert "a line of the kernel log" not in capfd.readouterr().err
    assert [fits for _, fits in made] == [not long_tmp]
    assert len(kept) == 1 and "a line of the kernel log" in kept[0], kept      # in its file instead
    printed = json.loads((tmp_path / "out.ipynb").read_text())["cells"][-1]["outputs"][0]["text"]
    assert "".join(printed).strip() == ("tcp" if long_tmp else "ipc")
    assert list(tmp.iterdir()) == []                       # the kernel's folder, removed with the run


def test_a_kernel_that_never_answers_is_named_by_what_it_said_not_by_the_interrupt_that_shut_it_down(
        tmp_path, monkeypatch):
    """jupyter_client interrupts a kernel to shut it down; one still starting (here: it hangs in its site
    customisation, before ipykernel ignores SIGINT) dies of KeyboardInterrupt, which is not its last word."""
    from pipeline import execute as ex

    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(
        "import os, sys, time\nif any(a.endswith('kernel.json') for a in sys.argv):\n"
        "    os.write(2, b'stuck in an import\\n')\n    time.sleep(600)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "hook"))
    monkeypatch.setattr(ex, "START_TIMEOUT", 3)
    with pytest.raises(ex.NotebookError, match="failed to start twice") as raised:
        ex.execute(tiny_notebook(tmp_path / "nb.ipynb"), tmp_path / "out.ipynb")
    assert str(raised.value).endswith("; the kernel said: stuck in an import)"), raised.value


# --- parallel runs on one terminal ---------------------------------------------------------------

def test_parallel_runs_on_one_terminal_print_whole_lines_two_each(tmp_path, tiny_data_dir):
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm"}
    outputs = {name: tmp_path / f"{name}.ipynb" for name in ("alpha", "beta")}
    procs = [subprocess.Popen(train_command(output, name, tmp_path, tiny_data_dir, 1500, "[1, 2]"),
                              cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
             for name, output in outputs.items()]
    os.close(slave)
    screen = Screen(400)
    both_training = []

    def watch():
        if all(training_is_running(output) for output in outputs.values()):
            both_training.append(True)
        return all(p.poll() is not None for p in procs)

    try:
        read_terminal(master, screen, watch)
        read_terminal(master, screen, lambda: False, timeout=1)
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        os.close(master)
    lines = [line for line in screen.lines if line.strip()]
    assert [p.returncode for p in procs] == [0, 0], lines
    assert both_training, lines                                        # they did run side by side
    assert len(lines) == 4, lines                                      # a start and a done line each, nothing else
    for name, output in outputs.items():
        assert f"[{name}] notebooks/train.ipynb -> {output}" in lines, lines
        assert sum(line.startswith(f"[{name}] done in ") for line in lines) == 1, lines
