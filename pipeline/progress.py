"""Where training progress goes: the user's terminal, also when a notebook runs it.

A notebook's kernel writes its standard error into the notebook, not to the
terminal that started papermill. :func:`share_terminal` (in the process that
starts the kernel) names that terminal in the environment, which the kernel
inherits; :func:`progress_bar` (in the kernel) then draws its one-line bar
there. Standard library only, apart from tqdm when a bar is drawn.
"""

import os
import sys

from helpers import PROGRESS_TTY_ENV


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
