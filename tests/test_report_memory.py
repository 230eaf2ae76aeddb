"""bench/report_memory.py: the peak memory of a command's whole process tree."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "report_memory.py"
MIB = 2 ** 20

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def report_memory():
    spec = importlib.util.spec_from_file_location("report_memory_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A parent that starts two children, each holding 150 MiB of its own (written, so resident) for 1.5 s.
HOLD = "import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
FAMILY = (f"import subprocess, sys; ps = [subprocess.Popen([sys.executable, '-c', {HOLD!r}]) for _ in range(2)]; "
          "[p.wait() for p in ps]; sys.exit(3)")


def test_the_peak_counts_every_process_of_the_tree(report_memory, tmp_path):
    result = report_memory.measure([sys.executable, "-c", FAMILY], every=0.05)
    assert result["returncode"] == 3
    assert result["peak_pss_sum"] >= 2 * 150 * MIB                 # both children, not just the parent
    assert result["peak_rss_single"] < 2 * 150 * MIB               # no single process held both
    assert result["peak_kernels"] == 0


def test_the_command_line_prints_one_line_writes_json_and_passes_the_exit_status(report_memory, tmp_path, capsys):
    out = tmp_path / "peaks.json"
    status = report_memory.main(["--json", str(out), "--", sys.executable, "-c", "import sys; sys.exit(5)"])
    assert status == 5
    line = capsys.readouterr().out
    assert line.startswith("exit 5, ") and "peak summed PSS" in line and line.count("\n") == 1
    assert json.loads(out.read_text())["returncode"] == 5
    assert report_memory.main([]) == 2
