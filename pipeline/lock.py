"""One build at a time in a checkout: an exclusive ``flock`` on ``build/build.lock``.

Every goal of the Makefile that writes what a build makes (results/, build/, data/, report/, figures/,
.venv/) takes the lock while make reads the Makefile, before it makes anything::

    python3 -m pipeline.lock LOCKFILE MAKE_PID make GOAL...

When another build holds the lock, it waits for it and says so in one line on stderr, naming that
build's process and goals; Ctrl-C while it waits starts nothing. Once it holds the lock, it writes
``MAKE_PID make GOAL...`` into the file (what a waiting build names) and leaves a small process
behind that holds the lock until the make ``MAKE_PID`` exits, however it exits, and, when that make
leads its process group (a build started from a terminal), until every process of the group has
ended (a notebook run that outlived a killed make still writes). The kernel drops a ``flock`` with
its last holder, so a build that crashed or was killed leaves no stale lock. A make started inside
the build (the search's, the tests') sees ``DD2424_BUILD_LOCK`` and does not take it again.

Prints nothing on success; an error is one line on stdout (the Makefile shows it with ``$(error)``).
Exits 0, 1 on an error, 130 when interrupted while waiting. Standard library only (it runs before
the virtual environment exists); POSIX.
"""

import fcntl
import os
import select
import signal
import sys
import time

#: The environment variable that names the lock a build holds (set by the Makefile for what it starts).
ENV = "DD2424_BUILD_LOCK"
#: How long a lock whose recorded build has ended may stay held (the holder's exit) before a wait is announced.
SETTLE_SECONDS = 1.0


def holder(path):
    """(PID, goals) recorded in the lock file at ``path``; (None, "") when it holds no record."""
    try:
        words = open(path, encoding="utf-8", errors="replace").read().split()
    except OSError:
        return None, ""
    return (int(words[0]), " ".join(words[1:])) if words and words[0].isdigit() else (None, "")


def is_running(pid):
    """True while a process ``pid`` exists."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def waiting_line(pid, goals):
    """The line a build prints while it waits for the one that holds the lock."""
    who = f"PID {pid}: {goals}" if pid else "its PID not recorded yet"
    return f"waiting: another build is running in this checkout ({who}); this one starts when it ends"


def acquire(path, announce):
    """Open ``path`` (created with its folder) and take an exclusive flock on it, waiting for it.

    ``announce(pid, goals)`` is called once when the lock is held by a running build (not when its
    recorded build has just ended and the holder is letting go). A lock file replaced meanwhile (by
    ``make clean``, say) is opened again, so two builds never hold locks on two files of one name.

    Returns
    -------
    int
        The file descriptor that holds the lock.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        _lock(fd, path, announce)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _lock(fd, path, announce, every=0.1):
    """Wait until ``fd`` holds the flock; announce a wait for a running build once.

    Each try is a non-blocking flock(), every 0.02 s while the recorded build has just ended (its holder is
    letting go), every ``every`` s once the wait is announced. Never a blocking flock(): a Ctrl-C that arrives
    after Python last checked for signals and before the call blocks would be handled only once the lock is free,
    i.e. not at all while the other build runs (seen on a loaded machine: the waiting build ignored SIGINT).
    """
    settle = time.monotonic() + SETTLE_SECONDS
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not announced:
                pid, goals = holder(path)
                if is_running(pid) or time.monotonic() > settle:
                    announce(pid, goals)
                    announced = True
            time.sleep(every if announced else 0.02)


def record(fd, pid, goals):
    """Write ``pid goals`` into the lock file (what a waiting build names)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid} {goals}\n".encode(), 0)


def wait_for_exit(pid):
    """Return when the process ``pid`` has exited (a pidfd on Linux, kqueue on macOS and BSD, else polling)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
        return
    if hasattr(select, "kqueue"):
        try:
            select.kqueue().control([select.kevent(pid, select.KQ_FILTER_PROC, select.KQ_EV_ADD,
                                                   select.KQ_NOTE_EXIT)], 1, None)
            return
        except OSError:
            pass
    while is_running(pid):
        time.sleep(0.2)


def group_is_running(pgid):
    """True while a process of the process group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_build(pid, leader):
    """Return when the make ``pid`` has exited and, if it led its process group (``leader``), the group has too."""
    wait_for_exit(pid)
    while leader and group_is_running(pid):
        time.sleep(0.1)


def hold_until_exit(fd, pid):
    """Leave a process behind that keeps ``fd``'s lock until the build of make ``pid`` ends
    (:func:`wait_for_build`), then return at once.

    The process has a session of its own (Ctrl-C in the terminal ends the build, not the lock
    before the build) and keeps no other file open (make's ``$(shell)`` reads to the end of its output).
    """
    try:
        leader = os.getpgid(pid) == pid
    except ProcessLookupError:
        leader = False
    if os.fork():
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.closerange(3, fd)
        os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
        wait_for_build(pid, leader)
    finally:
        os._exit(0)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or not argv[1].isdigit():
        print("usage: python -m pipeline.lock LOCKFILE MAKE_PID GOALS...", file=sys.stderr)
        return 2
    path, pid, goals = argv[0], int(argv[1]), " ".join(argv[2:])
    waited = []

    def announce(other, other_goals):
        waited.append(other)
        print(waiting_line(other, other_goals), file=sys.stderr, flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        fd = acquire(path, announce)
        record(fd, pid, goals)
    except KeyboardInterrupt:
        print(f"interrupted while waiting for the build that runs (PID {waited[0] if waited else '?'}); "
              "nothing was started", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: cannot take the build lock {path}: {exc.strerror or exc}")
        return 1
    hold_until_exit(fd, pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
