"""Progress on a terminal: the training bar of a notebook run reaches the user's terminal."""

import os
import pty
import select
import subprocess
import sys

from helpers.paths import ROOT


def test_training_progress_reaches_the_terminal_on_one_line(tmp_path, tiny_data_dir):
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "execute", "notebooks/train.ipynb", str(tmp_path / "t.ipynb"),
         "--label", "tty run", "-p", "lam", "0", "-p", "eta", "0.01", "-p", "n_batch", "10", "-p", "n_epochs", "30",
         "-p", "data_dir", str(tiny_data_dir), "-p", "results_dir", str(tmp_path / "r"), "-p", "n_val", "50"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "30/30" in text and "epoch" in text          # the training bar, finished
    assert "Executing" not in text                        # papermill's cell bar stays off
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    assert len(lines) <= 4, lines                         # start line, bar, done line
    assert "[tty run] done in" in text
