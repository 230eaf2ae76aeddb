"""Where training progress goes (pipeline/progress.py): the bar a kernel draws on the build's terminal."""

from helpers import train as train_module
from pipeline import progress
from pipeline.progress import PROGRESS_TTY_ENV


class RecordingTerminal:
    """A terminal stand-in that keeps what each flush would send in one write."""

    def __init__(self):
        self.pending, self.writes = "", []

    def isatty(self):
        return True

    def fileno(self):
        raise OSError("not a real terminal")

    def write(self, text):
        self.pending += text

    def flush(self):
        if self.pending:
            self.writes.append(self.pending)
        self.pending = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()


def draw_bar_on_shared_terminal(monkeypatch, term, total):
    """Run a progress bar of ``total`` steps on a shared terminal with TERM=``term``.

    Returns what each write sent, and those writes that hold the bar's final state.
    """
    terminal = RecordingTerminal()
    monkeypatch.setenv(PROGRESS_TTY_ENV, "/dev/pts/not-used")
    monkeypatch.setenv("TERM", term)
    monkeypatch.setattr(progress, "open_terminal", lambda path: terminal)
    with progress.terminal_bar(total, "run") as bar:
        for _ in range(total):
            bar.update()
    return terminal.writes, [w for w in terminal.writes if "100%" in w]


def test_a_shared_terminal_gets_the_bar_s_final_state_and_its_newline_in_one_write(monkeypatch):
    """Another run's whole line written between the two would erase the final state (as one CI run saw)."""
    writes, finals = draw_bar_on_shared_terminal(monkeypatch, "xterm", 3)
    assert len(finals) == 1 and finals[0].startswith("\r") and finals[0].endswith("\x1b[K\n"), writes
    assert "run: 100%" in finals[0] and "3/3" in finals[0]
    assert all("\n" not in w for w in writes if w is not finals[0]), writes  # no newline alone
    after = writes[writes.index(finals[0]) + 1:]
    assert all(not w.strip() for w in after), writes     # only tqdm clearing the next line


def test_a_dumb_terminal_gets_the_final_line_without_escape_sequences(monkeypatch):
    writes, finals = draw_bar_on_shared_terminal(monkeypatch, "dumb", 2)
    assert len(finals) == 1 and finals[0].startswith("\r") and finals[0].endswith("\n"), writes
    assert "\x1b" not in finals[0] and "2/2" in finals[0]


def test_a_kernel_draws_on_the_terminal_its_environment_names_and_elsewhere_keeps_its_bar(monkeypatch):
    old = train_module.use_progress_bar(None)
    try:
        monkeypatch.delenv(PROGRESS_TTY_ENV, raising=False)
        progress.install()
        assert train_module._default_bar is train_module.tqdm_bar        # JupyterLab, a plain kernel: as it was
        monkeypatch.setenv(PROGRESS_TTY_ENV, "/dev/pts/not-used")
        progress.install()
        assert train_module._default_bar is progress.terminal_bar
    finally:
        train_module.use_progress_bar(old)


def test_the_kernel_startup_line_installs_the_terminal_bar(monkeypatch):
    """The line pipeline.execute gives a kernel, run as IPython runs it: one expression, no name left behind."""
    old = train_module.use_progress_bar(None)
    monkeypatch.setenv(PROGRESS_TTY_ENV, "/dev/pts/not-used")
    namespace = {}
    try:
        exec(progress.KERNEL_STARTUP, namespace)
        assert train_module._default_bar is progress.terminal_bar
    finally:
        train_module.use_progress_bar(old)
    assert set(namespace) == {"__builtins__"}
