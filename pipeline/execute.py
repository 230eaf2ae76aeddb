"""Run a parameterized notebook with papermill, strictly.

On top of ``papermill.execute_notebook`` this

* refuses parameters that the notebook's ``parameters`` cell does not define
  (papermill itself only warns);
* always uses the project's kernel;
* retries once when the kernel fails to start (a known race under load);
* turns a failing cell into one line naming the run and the executed notebook
  to open.
"""

from pathlib import Path

from helpers.errors import UserError
from pipeline.progress import share_terminal

KERNEL_NAME = "dd2424-a1"


class NotebookError(UserError):
    """A notebook failed; the message names the executed notebook."""


#: Kernel options: log errors only (each start otherwise prints a transport warning).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def notebook_parameters(path):
    """Names of the parameters defined in the notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)).keys())


def check_parameters(path, parameters):
    """Raise :class:`UserError` if ``parameters`` names one the notebook lacks."""
    known = notebook_parameters(path)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise UserError(
            f"unknown parameter(s) {', '.join(unknown)} for {path}; "
            f"it accepts: {', '.join(sorted(known))}"
        )


def execute(notebook, output, parameters=None, kernel=KERNEL_NAME, label=None, cwd=None, progress=True):
    """Execute ``notebook`` into ``output`` with ``parameters``.

    Parameters
    ----------
    notebook, output : path-like
    parameters : dict
    kernel : str
        Kernel name; the Makefile registers the project's kernel under :data:`KERNEL_NAME`.
    label : str
        What to call the run in error messages (e.g. the setting).

    Raises
    ------
    NotebookError
        When a cell fails or the kernel cannot start (after one retry).
    """
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError

    parameters = dict(parameters or {})
    check_parameters(notebook, parameters)
    if progress and share_terminal():
        # the kernel's training bar goes to this terminal, one line per run, and
        # papermill's cell bar stays off so the two do not fight
        progress = False
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    label = label or Path(notebook).stem
    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                str(notebook), str(output), parameters=parameters, kernel_name=kernel,
                cwd=str(cwd) if cwd else None, progress_bar=progress, log_output=False,
                extra_arguments=list(KERNEL_ARGUMENTS),
            )
            return output
        except papermill.PapermillExecutionError as exc:
            raise NotebookError(
                f"{label} failed in cell {exc.exec_count}: {exc.ename}: {_last_line(exc.evalue)}; "
                f"open {output} to see the traceback"
            ) from None
        except NoSuchKernel:
            raise NotebookError(
                f"no Jupyter kernel named {kernel!r}; run `make venv` to register it"
            ) from None
        except DeadKernelError as exc:  # died while running a cell: retrying would redo the work
            raise NotebookError(f"{label}: the kernel died ({exc}); open {output}") from None
        except RuntimeError as exc:  # the kernel did not start in time: a known race, retried once
            if attempt == 2:
                raise NotebookError(f"{label}: the kernel failed to start twice ({exc}); open {output}") from None


def _last_line(text):
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""
