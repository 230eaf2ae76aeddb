"""Run a parameterized notebook with papermill, strictly and quietly.

On top of ``papermill.execute_notebook`` this

* refuses parameters that the notebook's ``parameters`` cell does not define
  (papermill itself only warns);
* always uses the project's kernel, and talks to it over Unix-domain sockets
  in a folder of the run's own (jupyter_client's ``ipc`` transport): parallel
  runs (``make -j``) never race for a TCP port (only where that folder's path
  is too long for a socket's does the kernel use local TCP);
* retries once when the kernel fails to start, and only then;
* writes the executed notebook under a temporary name (``.tmp-*``) and renames
  it into place: a run that succeeds, or fails in a cell, leaves the executed
  notebook (a failing cell's message names it), an interrupted one nothing;
* on Ctrl-C (SIGINT) or SIGTERM interrupts the running cell, lets the kernel
  shut down in order (killing it if it has not stopped after
  :data:`INTERRUPT_GRACE` seconds, or at a second signal) and raises
  :class:`Interrupted`: no traceback, no partial file;
* keeps the kernel's own standard error off the terminal, in a file of its
  private folder (jupyter_client interrupts a kernel to shut it down, and an
  ipykernel still answering its last request logs ``KeyboardInterrupt caught
  in kernel.``); its last line is named when the kernel fails to start or dies;
* turns a failing cell into one line naming the run and the executed notebook
  to open.
"""

import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from helpers.errors import UserError
from helpers.files import default_mode

KERNEL_NAME = "dd2424-a1"

#: Kernel options: log errors only (each start otherwise prints a transport warning).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]

#: Seconds a kernel gets to start (twelve at once on two busy cores take about 30 s).
START_TIMEOUT = 120

#: The file, in a kernel's private folder, that holds its standard error.
KERNEL_STDERR = "kernel.stderr"

#: Seconds an interrupted cell gets to stop before its kernel is killed.
INTERRUPT_GRACE = 5.0

class NotebookError(UserError):
    """A notebook failed; the message names the executed notebook."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped a notebook run; nothing partial was kept."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


class _Stopped(Exception):
    """Raised instead of starting a cell after a signal (an Exception, so asyncio ends in order)."""


def notebook_parameters(path):
    """Names of the parameters defined in the notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)).keys())


def check_parameters(path, parameters, all_parameters=False):
    """Raise :class:`UserError` if ``parameters`` names one the notebook lacks (or, with
    ``all_parameters``, lacks one the notebook has: a build never runs on a notebook's defaults)."""
    known = notebook_parameters(path)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise UserError(
            f"unknown parameter(s) {', '.join(unknown)} for {path}; "
            f"it accepts: {', '.join(sorted(known))}"
        )
    missing = sorted(known - set(parameters))
    if all_parameters and missing:
        raise UserError(f"{path} has parameter(s) the build does not set: {', '.join(missing)}; "
                        f"set them in its rule (pipeline/rules.py or the Makefile)")


def execute(notebook, output, parameters=None, kernel=KERNEL_NAME, label=None, cwd=None, all_parameters=False):
    """Execute ``notebook`` into ``output`` with ``parameters``.

    Parameters
    ----------
    notebook, output : path-like
    parameters : dict
    kernel : str
        Kernel name; the Makefile registers the project's kernel under :data:`KERNEL_NAME`.
    label : str
        What to call the run in error messages (e.g. the setting).
    all_parameters : bool
        Also refuse a run that leaves one of the notebook's parameters unset.

    No progress bar is drawn (the caller prints a line when the run starts and ends), and the
    kernel's own output goes into the executed notebook only.

    Raises
    ------
    NotebookError
        When a cell fails, the kernel dies, or the kernel cannot start (after one retry).
    Interrupted
        On SIGINT or SIGTERM (in the main thread); ``output`` is then left as it was
        before the run, or absent, and no kernel is left running.
    """
    # papermill and Jupyter load here, not with the module: every `python -m pipeline` command imports it
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError

    parameters = dict(parameters or {})
    check_parameters(notebook, parameters, all_parameters)

    output = Path(output)
    folder = output.parent.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    label = label or Path(notebook).stem
    # papermill writes the notebook as it goes: into a temporary file, renamed once the run is over
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{output.name}.", suffix=".ipynb")
    os.close(fd)
    tmp = Path(tmp)
    kept = False
    with _Run() as run:
        try:
            for attempt in (1, 2):
                run.begin_attempt()
                try:
                    # papermill's own nbclient engine; what is the project's reaches nbclient as its public
                    # options (engine keyword arguments): the kernel manager class and three hooks
                    papermill.execute_notebook(
                        str(notebook), str(tmp), parameters=parameters, kernel_name=kernel,
                        cwd=str(cwd) if cwd else None, progress_bar=False, log_output=False,
                        start_timeout=START_TIMEOUT, extra_arguments=list(KERNEL_ARGUMENTS), **run.client_options(),
                    )
                    break
                except (_Stopped, papermill.PapermillExecutionError, DeadKernelError, NoSuchKernel):
                    raise
                except Exception as exc:
                    run.check()
                    if not run.failed_to_start():
                        raise
                    if attempt == 2:
                        raise NotebookError(f"{label}: the Jupyter kernel {kernel!r} failed to start twice "
                                            f"({type(exc).__name__}: {exc}{run.last_words()})") from None
            run.check()
            kept = _keep(tmp, output)
            return output
        except _Stopped:
            run.check()
            raise
        except papermill.PapermillExecutionError as exc:
            run.check()  # a cell stopped by our own interrupt is no failure of the notebook
            kept = _keep(tmp, output)
            raise NotebookError(
                f"{label} failed in cell {exc.exec_count}: {exc.ename}: {_last_line(exc.evalue)}; "
                f"open {output} to see the traceback"
            ) from None
        except DeadKernelError as exc:  # died while running a cell: retrying would redo the work
            run.check()
            kept = _keep(tmp, output)
            raise NotebookError(f"{label}: the kernel died ({exc}{run.last_words()}); open {output}") from None
        except NoSuchKernel:
            raise NotebookError(f"no Jupyter kernel named {kernel!r}; run `make venv` to register it") from None
        finally:
            if not kept:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def _keep(tmp, output):
    """Rename the executed notebook ``tmp`` to ``output``, recording ``output`` as its path."""
    text = tmp.read_text(encoding="utf-8")
    if text:
        # papermill records where it wrote the notebook: the final name, not the temporary one
        old, new = (f'"output_path": {json.dumps(str(p), ensure_ascii=False)}' for p in (tmp, output))
        text = text.replace(old, new, 1)
        tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, default_mode())
    os.replace(tmp, output)
    return True


def _last_line(text):
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""


# --- signals and the kernel ----------------------------------------------------------------

class _Run:
    """One notebook run's signal handling and kernel bookkeeping, wired into nbclient through its public
    options (:meth:`client_options`): the kernel manager class and the hooks around the notebook and its cells.

    SIGINT and SIGTERM (the first of them): during a cell, the kernel is
    interrupted (the cell ends with KeyboardInterrupt and papermill stops in
    order), and killed after :data:`INTERRUPT_GRACE` seconds if it has not
    stopped; once the cells have begun and between them, no further cell starts (the kernel shuts down in
    order); before (the kernel starting) and at a second signal, the kernel is
    killed and :class:`Interrupted` raised at once. A signal the process
    ignores (e.g. SIGINT in a background job) stays ignored.
    """

    def __init__(self):
        self.signum = None
        self.count = 0
        self.managers = []      # every kernel manager of this run (one per attempt)
        self.made_before = 0    # how many there were when the latest attempt began
        self.in_cells = False   # the kernel has started and papermill runs the cells
        self.in_cell = False    # a cell is executing in the kernel
        self.timer = None
        self.saved = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                old = signal.getsignal(signum)
                if old is signal.SIG_IGN or old is None:
                    continue
                self.saved[signum] = old
                signal.signal(signum, self.on_signal)
        # kernel start errors are raised (and retried once), not logged by nbclient on papermill's logger
        self.logger = logging.getLogger("papermill")
        self.logger_state = self.logger.propagate, self.logger.handlers[:]
        self.logger.propagate, self.logger.handlers = False, [logging.NullHandler()]
        return self

    def __exit__(self, *exc):
        for signum, old in self.saved.items():
            signal.signal(signum, old)
        self.logger.propagate, self.logger.handlers = self.logger_state
        if self.timer is not None:
            self.timer.cancel()
        for km in self.managers:
            self.kill(km)  # normally dead already: shut down by nbclient
            shutil.rmtree(km.kernel_folder, ignore_errors=True)

    def client_options(self):
        """nbclient's options for this run (papermill passes them on): a kernel manager class that registers
        each manager with this run, and the hooks that tell it where the run is."""
        run = self

        class RunKernelManager(kernel_manager_class()):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                run.managers.append(self)

        return {"kernel_manager_class": RunKernelManager, "on_notebook_start": self.notebook_started,
                "on_cell_execute": self.cell_starts, "on_cell_executed": self.cell_ended}

    def notebook_started(self, notebook):
        self.in_cells = True

    def cell_starts(self, cell, cell_index):
        if self.signum is not None:
            raise _Stopped()
        self.in_cell = True

    def cell_ended(self, cell, cell_index, execute_reply):
        self.in_cell = False

    def begin_attempt(self):
        self.made_before, self.in_cells, self.in_cell = len(self.managers), False, False

    def failed_to_start(self):
        """A kernel manager was made for the latest attempt, and the cells never began: its kernel failed to
        start (or to answer in time)."""
        return len(self.managers) > self.made_before and not self.in_cells

    def last_words(self):
        """"; the kernel said: LINE" with the last line of the latest kernel's standard error, or ""."""
        words = self.managers[-1].last_words() if self.managers else ""
        return f"; the kernel said: {words}" if words else ""

    def check(self):
        """Raise :class:`Interrupted` if a signal arrived during the run."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    def on_signal(self, signum, frame):
        self.count += 1
        if self.signum is None:
            self.signum = signum
        km = self.managers[-1] if self.managers else None
        if self.count == 1 and self.in_cells:
            if self.in_cell and km is not None and self.send(km, signal.SIGINT):
                self.timer = threading.Timer(INTERRUPT_GRACE, self.kill, (km,))
                self.timer.daemon = True
                self.timer.start()
            return
        for km in self.managers:
            self.kill(km)
        raise Interrupted(self.signum)

    @staticmethod
    def send(km, signum):
        """Send ``signum`` to the kernel's process group; False if there is no live kernel."""
        provisioner = getattr(km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is None or process.poll() is not None:
            return False
        try:
            pgid = getattr(provisioner, "pgid", None)
            if pgid:
                os.killpg(pgid, signum)
            else:
                os.kill(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    @classmethod
    def kill(cls, km):
        """Kill the kernel at once (SIGKILL: it prints nothing)."""
        if cls.send(km, signal.SIGKILL):
            with contextlib.suppress(Exception):
                km.provisioner.process.wait(timeout=5)


def _kernel_folder():
    """A new private folder for a kernel's files; True beside it if its socket paths fit (sun_path: 108 bytes on
    Linux, 104 on macOS), else the kernel talks over local TCP."""
    folder = tempfile.mkdtemp(prefix="dd2424-kernel-")
    return folder, len(os.path.join(folder, "k-00")) <= 100


@functools.cache
def kernel_manager_class():
    """The project's kernel manager: jupyter_client's AsyncKernelManager with a private folder per kernel for its
    Unix-domain sockets (public options ``transport``, ``ip``, ``connection_file``) and its standard error
    (:data:`KERNEL_STDERR`; ``start_kernel``'s public ``stderr``)."""
    from jupyter_client import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            folder, fits = _kernel_folder()
            kwargs.update(connection_file=os.path.join(folder, "kernel.json"))
            if fits:
                kwargs.update(transport="ipc", ip=os.path.join(folder, "k"))
            super().__init__(**kwargs)
            self.kernel_folder = folder
            self.said = None   # how much of its standard error the kernel had written when its shutdown began

        async def start_kernel(self, **kwargs):
            # The kernel's own standard error into its folder, not onto the terminal between the runs' lines: the
            # "KeyboardInterrupt caught in kernel." of a shutdown, asyncio's "Task was destroyed but it is pending!"
            # as SIGTERM stops it, a crash's last words (:meth:`last_words`). Its cells' output reaches the notebook.
            if "stderr" in kwargs:
                return await super().start_kernel(**kwargs)
            with open(os.path.join(self.kernel_folder, KERNEL_STDERR), "wb") as err:
                return await super().start_kernel(stderr=err, **kwargs)

        async def shutdown_kernel(self, now=False, restart=False):
            # jupyter_client interrupts a kernel to shut it down: a kernel that never answered (still importing,
            # say) then dies of KeyboardInterrupt, which is no last word of its own
            with contextlib.suppress(OSError):
                self.said = os.path.getsize(os.path.join(self.kernel_folder, KERNEL_STDERR))
            await super().shutdown_kernel(now=now, restart=restart)

        def last_words(self):
            """The last line the kernel wrote on its standard error (before its shutdown began), or ""."""
            try:
                with open(os.path.join(self.kernel_folder, KERNEL_STDERR), "rb") as err:
                    return _last_line(err.read(self.said).decode("utf-8", "replace"))
            except OSError:
                return ""

    return KernelManager
