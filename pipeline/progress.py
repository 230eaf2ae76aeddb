"""A build's progress, as plain lines: each notebook run prints one line when it starts and one when it
ends (``pipeline.cli``), the second with the build's count so far, "k of N runs; about T left".

No bars are drawn on the terminal during a build: runs in parallel (``make -j``) print whole lines, each in
one write, so no line ever holds two runs. A training run's epoch bar stays in its executed notebook.
Standard library only.
"""

import fcntl
import os
import time


def record_done(log, total, start, now=None):
    """Count one finished run of a build in ``log`` and say how far the build is.

    Parameters
    ----------
    log : path-like
        The build's progress file: one line per finished run, appended and counted under a lock, so
        parallel runs (``make -j``) never lose or share a count.
    total : int
        The runs the build will execute (make counts them before the first one starts).
    start : float
        When the build started (seconds since the epoch).

    Returns
    -------
    str
        ``"3 of 26 runs; about 4 min left"`` (the time left from the build's pace so far).
    """
    now = time.time() if now is None else now
    fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:   # the count read under the same lock as the line written: two runs ending together count 1 and 2
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"done\n")
        with open(log, "rb") as f:
            done = f.read().count(b"\n")
    finally:
        os.close(fd)
    return progress_text(done, total, now - start)


def progress_text(done, total, elapsed):
    """``"k of N runs"``, and the time left at the pace so far (``elapsed / k`` per run), while runs remain."""
    total = max(total, done)
    text = f"{done} of {total} runs"
    if done < total and done > 0 and elapsed > 0:
        left = elapsed / done * (total - done)
        text += f"; about {_duration(left)} left"
    return text


def _duration(seconds):
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
