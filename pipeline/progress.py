"""Where training progress goes: the user's terminal, also when a notebook runs it.

A notebook's kernel writes its standard error into the notebook, not to the
terminal that started papermill. :func:`share_terminal` (in the process that
starts the kernel) names a terminal in the environment, which the kernel
inherits; the kernel starts by calling :func:`install` (``pipeline.execute``
passes it as a startup line), which makes :func:`terminal_bar` the bar of
``helpers.train.train``: its one-line tqdm bar is drawn there. The science
knows nothing of this: ``helpers.train`` draws whatever bar it was given.

Parallel runs (``make -j``) share one terminal, each ``python -m pipeline
execute`` process being one run, and two bars redrawn on one line would fight
over it. So each run claims a line number (the lowest free one: a lock file per
terminal and number, held until the process ends). The run holding line 0 has
its kernel draw the live bar on the terminal itself, on the cursor's line, as
a single run does. Any other run gives its kernel a pseudo-terminal of the same
width instead and relays what is drawn there as whole lines: the bar's state
every :data:`RELAY_EVERY` seconds and its final state (one line per seed).
Whole lines, and the lines a run prints when it starts or ends, are written in
one write each by :func:`terminal_line`, which first overwrites what the live
bar left on the cursor's line; the live bar is redrawn on the next line, and
its final state goes out with its newline in one write, so no relayed line can
erase it. So at most one bar is live, and no line ever holds two runs.
Standard library only, but for tqdm in the kernel's bar.
"""

import codecs
import contextlib
import os
import select
import sys
import tempfile
import threading
import time

#: The environment variable naming the terminal a kernel draws training bars on (set by :func:`share_terminal`,
#: read by :func:`install` in the kernel).
PROGRESS_TTY_ENV = "DD2424_PROGRESS_TTY"

#: The line a kernel started by the build runs first (``pipeline.execute``): the bar goes to the shared terminal.
KERNEL_STARTUP = "__import__('pipeline.progress').progress.install()"

#: Seconds between two relayed lines of a bar that is not on line 0.
RELAY_EVERY = float(os.environ.get("DD2424_PROGRESS_EVERY", "10"))

#: The most lines claimed on one terminal.
MAX_LINES = 64

_claimed = {}  # terminal device -> (line, file descriptor holding its lock)


def install():
    """In a kernel whose environment names a terminal (:data:`PROGRESS_TTY_ENV`): draw the training bar there
    (``helpers.train.use_progress_bar``). Elsewhere nothing changes."""
    if os.environ.get(PROGRESS_TTY_ENV):
        from helpers.train import use_progress_bar

        use_progress_bar(terminal_bar)


@contextlib.contextmanager
def terminal_bar(total, desc):
    """A one-line tqdm bar over the epochs on the terminal named by :data:`PROGRESS_TTY_ENV` (on stderr if it
    cannot be opened).

    Parallel runs write whole lines on that terminal at any moment, over the live
    bar's line, so there the bar's final state and its newline go in one write
    (:func:`write_final_line`): a line written in between cannot erase it.
    """
    from tqdm import tqdm

    with contextlib.ExitStack() as stack:
        out, shared = sys.stderr, False
        with contextlib.suppress(OSError, TypeError):
            out, shared = stack.enter_context(open_terminal(os.environ.get(PROGRESS_TTY_ENV))), True
        try:
            width = os.get_terminal_size(out.fileno()).columns or 100
        except (OSError, ValueError, AttributeError):
            width = 100
        bar = stack.enter_context(tqdm(total=total, desc=desc, unit="epoch", file=out, mininterval=0.5,
                                       leave=not shared, ncols=width))
        try:
            yield bar
        finally:
            if shared:
                write_final_line(bar, out)


def open_terminal(path):
    """The terminal ``path`` opened for writing text (line-buffered: one write per line)."""
    return open(path, "w")


def write_final_line(bar, out):
    """Draw ``bar``'s final state over the cursor's line and end the line, in one write.

    The rate shown is the average over the whole bar, as tqdm shows it when
    it leaves a bar on screen.
    """
    line = bar.format_meter(**{**bar.format_dict, "rate": None})
    erase = "" if os.environ.get("TERM") == "dumb" else "\x1b[K"   # erase what a longer state left
    out.write(f"\r{line}{erase}\n")
    out.flush()


@contextlib.contextmanager
def share_terminal():
    """Share this process's terminal (its stderr) with the kernels started inside the block.

    Yields
    ------
    bool
        True if stderr is a terminal (and was shared), False otherwise.
    """
    if not sys.stderr.isatty():
        yield False
        return
    tty = os.ttyname(sys.stderr.fileno())
    if claim_line(tty) == 0:
        os.environ[PROGRESS_TTY_ENV] = tty
        yield True
        return
    with _Relay(sys.stderr) as relay:
        os.environ[PROGRESS_TTY_ENV] = relay.path
        yield True


class _Relay(threading.Thread):
    """A pseudo-terminal for a kernel's bar, relayed to ``out`` as whole lines."""

    def __init__(self, out, every=None):
        super().__init__(daemon=True)
        self.out = out
        self.every = RELAY_EVERY if every is None else every
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        with contextlib.suppress(OSError, ImportError):
            import fcntl
            import termios

            size = fcntl.ioctl(out.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.slave, termios.TIOCSWINSZ, size)
        self.done = threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join(timeout=5)
        os.close(self.slave)
        os.close(self.master)

    def run(self):
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        drawn = ""              # the bar's latest state
        shown = ""              # the last state relayed
        last = time.monotonic()
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready and self.done.is_set():
                return      # a bar still running (an interrupted run) is not relayed
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                for piece in _pieces(decoder.decode(data)):
                    if piece == "\n":  # the bar closed (one per seed): its final state
                        if drawn.strip():
                            self.emit(drawn)
                        drawn = shown = ""
                        last = time.monotonic()
                    elif piece.strip():
                        if not drawn:  # a new bar: its first line after RELAY_EVERY seconds
                            last = time.monotonic()
                        drawn = piece
            if drawn.strip() and drawn != shown and time.monotonic() - last >= self.every:
                self.emit(drawn)
                shown, last = drawn, time.monotonic()

    def emit(self, text):
        text = text.replace("\x1b[K", "").rstrip()  # the bar's own erase-to-end-of-line
        self.out.write(terminal_line(text, self.out))
        self.out.flush()


def _pieces(text):
    """Split what tqdm draws into redraws (each starts with a carriage return) and newlines."""
    for part in text.replace("\r\n", "\n").split("\r"):
        lines = part.split("\n")
        for i, line in enumerate(lines):
            if i:
                yield "\n"
            if line:
                yield line


def claim_line(tty):
    """The lowest line number no other process has claimed on terminal ``tty``.

    The claim is a lock (``flock``) on a file per terminal and line in a
    private folder of the temporary directory; the operating system releases it
    when this process ends. Any failure (no ``fcntl``, a folder that is not
    ours) gives line 0, the behaviour of a single run.
    """
    try:
        import fcntl

        device = os.stat(tty).st_rdev
        if device in _claimed:
            return _claimed[device][0]
        folder = os.path.join(tempfile.gettempdir(), f"dd2424-progress-{os.getuid()}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        if info.st_uid != os.getuid() or not os.path.isdir(folder) or os.path.islink(folder):
            return 0
        for line in range(MAX_LINES):
            fd = os.open(os.path.join(folder, f"tty-{device}-line-{line}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _claimed[device] = (line, fd)
            return line
    except (ImportError, OSError, AttributeError):
        pass
    return 0


def terminal_line(text, stream):
    """``text`` as one line for ``stream``: on a terminal, drawn over the cursor's line.

    The cursor's line may hold a progress bar of a parallel run (or the cursor
    may stand after one): a carriage return first and an erase-to-end-of-line
    last make the text replace it instead of being appended to it.
    """
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty and os.environ.get("TERM") != "dumb":
        return f"\r{text}\x1b[K\n"
    return f"{text}\n"


# --- the whole build: k of N runs and the time left -------------------------------------------------

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
    import fcntl

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
