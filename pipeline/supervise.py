"""One line when a build is stopped: the make a user starts runs the build under this supervisor.

``make report`` (or search, results, ...) does not build itself: once it has taken the build lock and
checked the settings, it runs::

    python3 -m pipeline.supervise --parent-is-make -- make --no-print-directory GOAL...

which runs that make (the build) in a process group of its own and relays its standard error, whole
lines at a time. Stopped, every process of a build says so: each notebook run its "interrupted" line,
make one "*** [target] Interrupt" (or "Error 130") per run and "Waiting for unfinished jobs". Here the
build's lines of that kind are held back, and the supervisor prints one line instead, whatever got the
signal:

* the user's make and everything it started (Ctrl-C: the terminal's foreground group, or a ``kill`` of
  the group): the supervisor is in that group; it passes the signal on to the build's group;
* the user's make alone (``kill PID``): make passes SIGTERM on to its child, the supervisor; SIGINT it
  keeps to itself, but its handler of it resets the signal, which the supervisor sees in ``/proc``;
* a process of the build alone (a notebook run): its "interrupted" line tells, and make's line about the
  job its status (``Error 143``: SIGTERM; 130: SIGINT).

It waits for the build's group to end (nothing is left writing), prints the one line, and then stops
the user's make with the same signal, after which it exits 0: make, already stopping or stopped now,
then has no failed job to report and ends silently, with the signal's status. When that make ignores
the signal (started in the background by a script) or this cannot be checked (no ``/proc``), the
supervisor exits with 128 + the signal instead and make adds its own one line.

A build that fails for another reason keeps its messages, but for make's "*** [target] Error N" lines of
the build: the user's make reports the failure in one such line itself.

The build's standard error is a pipe; a piece of a line is relayed as it is when no newline follows
within :data:`HOLD_SECONDS` (the download's bar, redrawn in place). Standard library only: it runs
before the virtual environment exists; POSIX.
"""

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import time

#: The line of an interrupted build (``pipeline.cli`` prints it in each process that was stopped).
INTERRUPTED = "interrupted: nothing partial was kept; run the same command again to resume"
#: Make's own lines about a job that failed or was stopped, and about waiting for the others.
MAKE_JOB_LINE = re.compile(r"^g?make(\[\d+\])?: \*\*\* (\[.*\] (Error \d+|Interrupt|Terminated|Killed|Hangup)"
                           r"( \(core dumped\))?|Waiting for unfinished jobs\.\.\.\.)\s*$")
#: Make's lines as it stops: a target it removes, and a child it could no longer wait for (a sub-make
#: whose job the same signal ended first).
MAKE_STOPPING = re.compile(r"^g?make(\[\d+\])?: \*\*\* (Deleting (intermediate )?file |wait: No child processes)")
#: Seconds a piece of a line is held for its newline before it is relayed as it is (the download's bar, the one
#: line the build redraws).
HOLD_SECONDS = 0.2
#: Seconds to wait for the build's last processes once its make has ended.
GROUP_GRACE_SECONDS = 30.0
#: The signals that stop a build: the supervisor passes them on while it runs and ignores them once it is over.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Make's words for a job a signal stopped, and that signal (a job that exited 128 + N was stopped by signal N).
STOP_WORDS = {"Interrupt": signal.SIGINT, "Terminated": signal.SIGTERM, "Hangup": signal.SIGHUP,
              **{f"Error {128 + sig}": sig for sig in STOP_SIGNALS}}


class Filter:
    """Decides, line by line, what of the build's standard error reaches the user.

    Attributes
    ----------
    interrupted : bool
        A process of the build said it was stopped, or make said a job was.
    signal : signal.Signals or None
        The signal that stopped the first job make said was stopped, when its line tells (``Terminated``,
        ``Error 143``: a notebook run stopped alone ends with 128 + its signal).
    """

    def __init__(self):
        self.interrupted = False
        self.signal = None
        self.held = []   # make's lines about failed jobs, shown only if the build was not stopped

    def line(self, text):
        """The text to relay for one whole line (with its newline), or "" to hold it back (make's lines about
        deleted targets and lost children are shown after a failure that was no stop)."""
        bare = text.rstrip("\r\n")
        if bare.endswith(INTERRUPTED):
            self.interrupted = True
            return ""
        if MAKE_JOB_LINE.match(bare):
            stop = re.search(r"\] (Interrupt|Terminated|Hangup|Error 129|Error 1[34][0-9])$", bare)
            if stop:
                self.interrupted = True
                self.signal = self.signal or STOP_WORDS.get(stop.group(1))
            return ""
        if MAKE_STOPPING.match(bare):
            self.held.append(text)
            return ""
        return text


def signal_mask(pid, field):
    """The set of signals in ``field`` (``SigIgn``: ignored, ``SigCgt``: caught) of the process ``pid``, read
    from ``/proc``; None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    mask = int(line.split()[1], 16)
                    return {sig for sig in range(1, 65) if (mask >> (sig - 1)) & 1}
    except (OSError, ValueError):
        pass
    return None


def parent_takes(pid, sig):
    """True when the process ``pid`` does not ignore ``sig``, as far as ``/proc`` tells (False when it cannot)."""
    ignored = signal_mask(pid, "SigIgn")
    return ignored is not None and sig not in ignored


class ParentWatch:
    """Tells when the user's make has started to stop on SIGINT sent to it alone: make does not pass SIGINT
    on to what it started, but its handler resets the signal to the default, which ``/proc`` shows."""

    def __init__(self, pid):
        caught = signal_mask(pid, "SigCgt") if pid else None
        self.pid = pid if caught and signal.SIGINT in caught else None

    def stopped(self):
        """SIGINT when the parent's handler of it has run since, else None."""
        if self.pid is None:
            return None
        caught = signal_mask(self.pid, "SigCgt")
        if caught is not None and signal.SIGINT not in caught:
            self.pid = None
            return signal.SIGINT
        return None


def relay(fd, out, keep, child, tick=lambda: None):
    """Copy the build's standard error from ``fd`` to ``out`` through ``keep`` (a :class:`Filter`) until the
    build's make ``child`` has ended and nothing is left to read; ``tick`` is called at least every
    :data:`HOLD_SECONDS`."""
    pending, since = b"", None
    while True:
        tick()
        ready, _, _ = select.select([fd], [], [], HOLD_SECONDS)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                out.write(keep.line(line.decode("utf-8", "replace") + "\n"))
            since = time.monotonic() if pending else None
        elif child.poll() is not None and not _group_alive(child.pid):
            break
        if pending and since is not None and time.monotonic() - since >= HOLD_SECONDS:
            out.write(pending.decode("utf-8", "replace"))   # a bar redrawn in place: no newline will come soon
            pending, since = b"", None
        out.flush()
    if pending:
        out.write(keep.line(pending.decode("utf-8", "replace")))
    out.flush()


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def supervise(command, parent=None):
    """Run ``command`` (the build's make) in a process group of its own, relay its standard error, and end as
    described in the module's docstring.

    Returns
    -------
    int
        The exit status for the supervisor.
    """
    received, started = [], []

    def stop(signum, frame):
        if signum not in received:      # the first of each: the build ignores repeats while it cleans up
            received.append(signum)
            for pgid in started:
                try:
                    os.killpg(pgid, signum)
                except ProcessLookupError:
                    pass

    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, stop)
    read, write = os.pipe()
    try:
        # close_fds off: make's jobserver reaches the build (the supervisor's own descriptors are not inheritable)
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        child = subprocess.Popen(command, stderr=write, close_fds=False, **group)
    except OSError as exc:
        print(f"error: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        os.close(write)
    started.append(child.pid)
    if received:                        # stopped while it started
        os.killpg(child.pid, received[0])
    keep, watch = Filter(), ParentWatch(parent)

    def tick():
        sig = watch.stopped()
        if sig:
            stop(sig, None)

    relay(read, sys.stderr, keep, child, tick)
    status = child.wait()
    deadline = time.monotonic() + GROUP_GRACE_SECONDS
    while _group_alive(child.pid) and time.monotonic() < deadline:   # a run still removing what it began
        time.sleep(0.05)
    os.close(read)
    stopped = received or keep.interrupted or status < 0
    if not stopped:
        if status != 0:
            sys.stderr.writelines(keep.held)
        return status
    sig = received[0] if received else -status if status < 0 and -status in (signal.SIGTERM, signal.SIGHUP) \
        else keep.signal or signal.SIGINT
    sys.stderr.write(INTERRUPTED + "\n")
    sys.stderr.flush()
    # The build is over: a signal now changes nothing. Make passes SIGTERM on to its children (this process);
    # arriving while Python shuts down, after it has reset its handlers to the default, it would end this
    # process by the signal, and make would add "*** [report] Terminated". An ignored signal stays ignored.
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    if parent and parent_takes(parent, sig):
        try:
            os.kill(parent, sig)
            return 0
        except ProcessLookupError:
            pass
    return 128 + sig


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipeline.supervise", description=__doc__.split("\n")[0])
    parser.add_argument("--parent-is-make", action="store_true",
                        help="the process that started this one is the user's make: stop it with the build's signal "
                             "(make must start this command itself, without a shell between)")
    parser.add_argument("--check", action="store_true", help="print ok when this Python can supervise a build")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.check:
        print("ok")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    return supervise(command, os.getppid() if args.parent_is_make else None)


if __name__ == "__main__":
    sys.exit(main())
