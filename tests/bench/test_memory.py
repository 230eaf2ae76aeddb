"""bench/memory.py: /proc readings, and the peak memory of a command's whole process tree."""

import json
import os
import sys
from pathlib import Path

import pytest

from bench import memory

MIB = 2 ** 20

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")


# A parent that starts two children, each holding 150 MiB of its own (written, so resident) for 1.5 s.
HOLD = "import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
FAMILY = (f"import subprocess, sys; ps = [subprocess.Popen([sys.executable, '-c', {HOLD!r}]) for _ in range(2)]; "
          "[p.wait() for p in ps]; sys.exit(3)")


def test_the_peak_counts_every_process_of_the_tree():
    result = memory.measure([sys.executable, "-c", FAMILY], every=0.05)
    assert result["returncode"] == 3
    assert result["peak_pss_sum"] >= 2 * 150 * MIB                 # both children, not just the parent
    assert result["peak_rss_single"] < 2 * 150 * MIB               # no single process held both
    assert result["peak_kernels"] == 0


def test_the_command_line_prints_one_line_writes_json_and_passes_the_exit_status(tmp_path, capsys):
    out = tmp_path / "peaks.json"
    status = memory.main(["--json", str(out), "--", sys.executable, "-c", "import sys; sys.exit(5)"])
    assert status == 5
    line = capsys.readouterr().out
    assert line.startswith("exit 5, ") and "peak summed PSS" in line and line.count("\n") == 1
    assert json.loads(out.read_text())["returncode"] == 5
    assert memory.main([]) == 2


def test_the_readers_see_this_process_and_the_system():
    own = memory.smaps_kib(os.getpid(), ("Pss", "Rss", "Anonymous"))
    assert set(own) == {"Pss", "Rss", "Anonymous"} and 0 < own["Pss"] <= own["Rss"]
    assert memory.smaps_kib(2 ** 22 + 1) == {}                       # no such process: nothing, no error
    assert memory.used_kib() > 0
    assert memory.process_tree(os.getpid())[0] == os.getpid()
