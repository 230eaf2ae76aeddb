"""Where training progress goes: the user's terminal, also when a notebook runs it.

A notebook's kernel writes its standard error into the notebook, not to the
terminal that started papermill. :func:`share_terminal` (in the process that
starts the kernel) names that terminal in the environment, which the kernel
inherits; :func:`progress_bar` (in the kernel) then draws its one-line bar
there. Standard library only, apart from tqdm when a bar is drawn.
"""

import contextlib
import os
import sys

PROGRESS_TTY_ENV = "DD2424_PROGRESS_TTY"


def share_terminal():
    """Name this process's terminal (its stderr) for the kernels it starts.

    Returns
    -------
    bool
        True if stderr is a terminal (and was shared), False otherwise.
    """
    if not sys.stderr.isatty():
        return False
    os.environ[PROGRESS_TTY_ENV] = os.ttyname(sys.stderr.fileno())
    return True


def _columns(out, default=100):
    """Width of the terminal behind ``out``; ``default`` when unknown or reported as 0."""
    try:
        return os.get_terminal_size(out.fileno()).columns or default
    except (OSError, ValueError, AttributeError):
        return default


@contextlib.contextmanager
def progress_bar(total, desc, enabled, unit="epoch"):
    """A one-line tqdm bar on the shared terminal if there is one, else on stderr.

    Yields
    ------
    tqdm.tqdm
        Disabled (drawing nothing) when ``enabled`` is false.
    """
    from tqdm import tqdm

    with contextlib.ExitStack() as stack:
        out = sys.stderr
        tty = os.environ.get(PROGRESS_TTY_ENV)
        if enabled and tty:
            with contextlib.suppress(OSError):
                out = stack.enter_context(open(tty, "w"))
        yield stack.enter_context(tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=out,
                                       mininterval=0.5, leave=True, ncols=_columns(out)))
