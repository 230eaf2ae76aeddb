"""Memory of processes from /proc, and the peak memory of a whole command, e.g. a ``make report``.

    .venv/bin/python -m bench.memory make report JOBS=8

:func:`measure` samples every 0.2 s, until the command ends:

- the summed PSS of the command's process tree (``/proc/PID/smaps_rollup``): a page
  shared by k processes counts 1/k in each, so the memory-mapped data cache that
  parallel runs share counts once;
- the largest single RSS (counts the shared cache in full in every process that maps it);
- the system's used memory (MemTotal - MemAvailable) minus its value before the start
  (the page cache is not "used"; anything else running meanwhile counts too);
- the most Jupyter kernels alive at once.

The command line prints one line and, with ``--json FILE``, writes the peaks there.
``bench/bench.py`` reads the same /proc fields for its parallel runs. Linux only.
Standard library only.
"""

import json
import os
import subprocess
import sys
import time

GIB = 2 ** 30
KIB = 1024


def used_kib():
    """The system's used memory in KiB: MemTotal - MemAvailable (page cache that can be dropped is not used)."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return info["MemTotal"] - info["MemAvailable"]


def smaps_kib(pid, keys=("Pss", "Anonymous")):
    """Fields of /proc/PID/smaps_rollup in KiB: Pss (shared pages divided among their users),
    Rss, Anonymous (the process's own memory); {} if the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in keys:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def process_tree(root):
    """``root`` and every process descended from it (pids)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def is_kernel(pid):
    try:
        with open(f"/proc/{pid}/cmdline", errors="replace") as f:
            return "ipykernel" in f.read()
    except OSError:
        return False


def measure(command, every=0.2, output=subprocess.DEVNULL):
    """Run ``command`` (a list) and return its peaks (bytes) and wall time.

    Returns
    -------
    dict
        ``returncode``, ``seconds``, ``peak_pss_sum``, ``peak_rss_single``,
        ``peak_used_delta``, ``peak_kernels``.
    """
    before = used_kib()
    peaks = {"peak_pss_sum": 0, "peak_rss_single": 0, "peak_used_delta": 0, "peak_kernels": 0}
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=output, stderr=output)
    while True:
        done = proc.poll() is not None
        tree = process_tree(proc.pid)
        sizes = [smaps_kib(pid, ("Pss", "Rss")) for pid in tree]
        peaks["peak_pss_sum"] = max(peaks["peak_pss_sum"], KIB * sum(s.get("Pss", 0) for s in sizes))
        peaks["peak_rss_single"] = max(peaks["peak_rss_single"], KIB * max((s.get("Rss", 0) for s in sizes), default=0))
        peaks["peak_used_delta"] = max(peaks["peak_used_delta"], KIB * (used_kib() - before))
        peaks["peak_kernels"] = max(peaks["peak_kernels"], sum(is_kernel(pid) for pid in tree))
        if done:
            break
        time.sleep(every)
    return {"command": command, "returncode": proc.returncode, "seconds": time.monotonic() - start, **peaks}


def format_peaks(result):
    return (f"exit {result['returncode']}, {result['seconds']:.1f} s: peak summed PSS "
            f"{result['peak_pss_sum'] / GIB:.2f} GiB; largest single RSS {result['peak_rss_single'] / GIB:.2f} GiB; "
            f"system used-memory delta peak {result['peak_used_delta'] / GIB:.2f} GiB; "
            f"most kernels at once {result['peak_kernels']}")


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    json_file = None
    if args[:1] == ["--json"] and len(args) >= 2:
        json_file, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("the peak memory of a command and every process it starts", file=sys.stderr)
        print("usage: python -m bench.memory [--json FILE] [--] COMMAND [ARGS...]", file=sys.stderr)
        return 2
    result = measure(args)
    print(format_peaks(result))
    if json_file:
        with open(json_file, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
