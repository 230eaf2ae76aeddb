"""One build at a time (pipeline/lock.py): the lock is taken, recorded, held until the build's make ends (a killed
one too, and the processes of its group), waited for with one line, and given up by Ctrl-C while waiting."""

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers.paths import ROOT
from pipeline.lock import holder, waiting_line

LOCK = [sys.executable, "-m", "pipeline.lock"]


def stand_in(leader=False):
    """A process standing in for a build's make: it runs until its stdin is closed (or it is killed)."""
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                            start_new_session=leader)


def is_free(path):
    """True when nobody holds the flock on ``path`` (taken and let go at once)."""
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


def until_free(path, timeout=20):
    """Wait until the lock on ``path`` is let go (an event: the holder's exit); False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_free(path):
            return True
        time.sleep(0.05)
    return False


def take(path, make_pid, goals="make report"):
    return subprocess.run([*LOCK, str(path), str(make_pid), *goals.split()], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


@pytest.mark.parametrize("end", ["exits", "is killed"])
def test_the_lock_is_recorded_and_held_until_the_build_s_make_ends_however_it_ends(tmp_path, end):
    path = tmp_path / "build" / "build.lock"
    make = stand_in()
    try:
        r = take(path, make.pid)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        assert holder(path) == (make.pid, "make report")
        assert not is_free(path)                              # held by the process left behind, the command returned
    finally:
        make.kill() if end == "is killed" else make.stdin.close()
        make.wait()
    assert until_free(path)


def test_a_lock_held_by_a_make_that_leads_its_group_is_held_until_the_group_ends(tmp_path):
    """A make killed alone (its notebook run still writing): the lock is kept until that run ends too."""
    path = tmp_path / "build.lock"
    code = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'], "
            "stdin=subprocess.PIPE); print(child.pid, flush=True); sys.stdin.read()")
    make = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    run = int(make.stdout.readline())                        # the group's other process, as a notebook run
    try:
        assert take(path, make.pid).returncode == 0
        make.kill()
        make.wait()
        assert not until_free(path, timeout=1)                 # one second after the make died, still held
    finally:
        os.kill(run, signal.SIGKILL)
    assert until_free(path)


def waiter(path, make_pid, goals="make test"):
    """The lock taken for a second build, from a process whose stderr the test reads."""
    return subprocess.Popen([*LOCK, str(path), str(make_pid), *goals.split()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=default_signals)


def default_signals():
    """In the child: default SIGINT and SIGTERM, even when the tests run with them ignored (nohup, CI)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def read_line(stream, timeout=60):
    """The next line of ``stream``, or "" when none comes within ``timeout`` s (a test that fails, not one that hangs)."""
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def hold(path, pid, goals="make report"):
    """Hold the lock in this process, recorded as ``pid goals``; returns the open file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    f.truncate(0)
    f.write(f"{pid} {goals}\n")
    f.flush()
    return f


def test_a_second_build_waits_saying_so_in_one_line_then_takes_the_lock_when_it_is_let_go(tmp_path):
    path = tmp_path / "build.lock"
    first, second = stand_in(), stand_in()
    held = hold(path, first.pid)
    try:
        proc = waiter(path, second.pid)
        assert read_line(proc.stderr) == waiting_line(first.pid, "make report") + "\n"
        assert proc.poll() is None and holder(path) == (first.pid, "make report")      # it waits, taking nothing
        held.close()                                                                    # the first build ends
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out, err) == (0, "", "")
        assert holder(path) == (second.pid, "make test") and not is_free(path)
    finally:
        held.close()
        for p in (first, second):
            p.stdin.close()
            p.wait()
    assert until_free(path)
    assert waiting_line(first.pid, "make report") == (f"waiting: another build is running in this checkout (PID "
                                                      f"{first.pid}: make report); this one starts when it ends")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_while_waiting_it_starts_nothing_and_says_so_in_one_line(tmp_path, sig):
    path = tmp_path / "build.lock"
    first = stand_in()
    held = hold(path, first.pid)
    try:
        proc = waiter(path, os.getpid())
        assert read_line(proc.stderr).startswith("waiting: ")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and out == ""
        assert err == f"interrupted while waiting for the build that runs (PID {first.pid}); nothing was started\n"
        assert holder(path) == (first.pid, "make report")
    finally:
        held.close()
        first.stdin.close()
        first.wait()


def test_a_lock_file_replaced_while_waiting_is_opened_anew_never_taken_beside_its_new_holder(tmp_path):
    """make clean keeps build.lock; should the file be replaced anyway, the waiting build does not hold the old
    file's lock beside a build that holds the new file's."""
    path = tmp_path / "build.lock"
    first, third = stand_in(), stand_in()
    old = hold(path, first.pid)
    try:
        proc = waiter(path, os.getpid())
        assert read_line(proc.stderr).startswith(f"waiting: another build is running in this checkout (PID {first.pid}")
        path.unlink()
        new = hold(path, third.pid)                                     # a third build took the new file
        old.close()
        assert read_line(proc.stderr).startswith(f"waiting: another build is running in this checkout (PID {third.pid}")
        new.close()
        assert proc.wait(timeout=30) == 0 and holder(path)[0] == os.getpid()
    finally:
        old.close()
        for p in (first, third):
            p.stdin.close()
            p.wait()


def test_a_lock_that_cannot_be_taken_is_one_line(tmp_path):
    (tmp_path / "build").write_text("a file where the folder should be")
    r = take(tmp_path / "build" / "build.lock", os.getpid())
    assert r.returncode == 1 and r.stderr == ""
    assert r.stdout.startswith(f"error: cannot take the build lock {tmp_path / 'build' / 'build.lock'}: ")
    assert len(r.stdout.splitlines()) == 1


def test_a_lock_its_recorded_build_has_left_is_waited_for_silently_a_moment_then_said(tmp_path):
    """The make that holds the lock has ended and its holder is letting go: no line for that moment; a lock still
    held after it (a process of the ended build still runs) is announced."""
    import pipeline.lock

    path = tmp_path / "build.lock"
    ended = stand_in()
    ended.stdin.close()
    ended.wait()
    held = hold(path, ended.pid)
    try:
        start = time.monotonic()
        proc = waiter(path, os.getpid())
        assert read_line(proc.stderr) == waiting_line(ended.pid, "make report") + "\n"
        assert time.monotonic() - start >= pipeline.lock.SETTLE_SECONDS
        held.close()
        assert proc.wait(timeout=30) == 0
    finally:
        held.close()


def test_the_wait_never_blocks_in_flock_where_a_ctrl_c_could_go_unseen(tmp_path, monkeypatch):
    """A signal that arrives after Python last checked for one and before a blocking flock() is handled only when
    the lock is free: the waiting build would ignore Ctrl-C while the other build runs (it did, once, on a loaded
    machine). So every try is non-blocking, and the wait between tries a sleep that a signal ends."""
    from pipeline import lock

    path = tmp_path / "build.lock"
    held = hold(path, os.getpid())
    calls = []
    real_flock = fcntl.flock

    def flock(fd, op):
        calls.append(op)
        assert op & fcntl.LOCK_NB, "a blocking flock()"
        if len(calls) == 5:
            held.close()                      # let go after a few tries
        return real_flock(fd, op)

    monkeypatch.setattr(lock.fcntl, "flock", flock)
    said = []
    fd = lock.acquire(str(path), lambda pid, goals: said.append(pid))
    os.close(fd)
    assert said == [os.getpid()] and len(calls) >= 5
