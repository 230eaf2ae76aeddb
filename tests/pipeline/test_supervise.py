"""The supervisor of a build (pipeline/supervise.py): what of the build's messages reaches the user, and how it ends.

Stopping real builds, whatever gets the signal, is tested end to end in tests/pipeline/test_make.py
(test_a_build_stopped_inside_training_says_so_in_one_line_whatever_gets_the_signal_and_keeps_nothing_of_the_run)."""

import os
import signal
import subprocess
import sys
import textwrap

from pipeline import supervise
from pipeline.supervise import INTERRUPTED, Filter


def test_the_runs_interrupted_lines_and_makes_lines_about_stopped_jobs_are_held_back_and_mark_a_stop():
    keep = Filter()
    assert keep.line("[3/8] course: lam=0 ... done in 4 s\n") == "[3/8] course: lam=0 ... done in 4 s\n"
    assert keep.line("error: course: lam=0 failed in cell 4\n") == "error: course: lam=0 failed in cell 4\n"
    assert keep.line("make[1]: *** [build/rules/x.mk:34: results/course/a/summary.json] Error 1\n") == ""
    assert keep.line("make[1]: *** Waiting for unfinished jobs....\n") == ""
    assert not keep.interrupted                       # a failure is no stop
    assert keep.line("\r\x1b[K" + INTERRUPTED + "\n") == "" and keep.interrupted


def test_make_saying_a_job_was_interrupted_or_exited_130_marks_a_stop_and_names_its_signal():
    for line, sig in (("make: *** [Makefile:3: a] Interrupt", signal.SIGINT),
                      ("make[2]: *** [Makefile:3: a] Terminated", signal.SIGTERM),
                      ("make: *** [Makefile:3: a] Error 130", signal.SIGINT),
                      ("make: *** [Makefile:3: a] Error 143", signal.SIGTERM),
                      ("make: *** [Makefile:3: a] Error 129", signal.SIGHUP),
                      ("make: *** [Makefile:3: a] Error 137", None)):          # SIGKILL: a stop, not one to pass on
        keep = Filter()
        assert keep.line(line + "\n") == "" and keep.interrupted and keep.signal == sig, line
    keep = Filter()                                                            # the first stopped job's signal
    for line in ("make: *** [Makefile:3: a] Error 143\n", "make: *** [Makefile:3: b] Interrupt\n"):
        keep.line(line)
    assert keep.signal == signal.SIGTERM


def test_makes_deleting_and_lost_child_lines_are_shown_after_a_failure_only():
    keep = Filter()
    lost = "make[1]: *** wait: No child processes.  Stop.\n"    # seen once in CI after SIGTERM
    assert keep.line("make: *** Deleting file 'x'\n") == "" and keep.line(lost) == ""
    assert keep.held == ["make: *** Deleting file 'x'\n", lost]


def run_supervised(tmp_path, script, *args):
    """Run ``python script`` under the supervisor (without a parent make to stop); (status, stdout, stderr)."""
    (tmp_path / "child.py").write_text(textwrap.dedent(script))
    r = subprocess.run([sys.executable, "-m", "pipeline.supervise", "--", sys.executable, str(tmp_path / "child.py"),
                        *args], capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    return r.returncode, r.stdout, r.stderr


def test_a_build_that_succeeds_or_fails_keeps_its_status_and_messages(tmp_path):
    script = """
        import sys
        print("out line")
        sys.stderr.write("a message\\nmake: *** [Makefile:1: a] Error 1\\nno newline")
        sys.exit(int(sys.argv[1]))
    """
    assert run_supervised(tmp_path, script, "0") == (0, "out line\n", "a message\nno newline")
    assert run_supervised(tmp_path, script, "2") == (2, "out line\n", "a message\nno newline")


def test_a_build_stopped_says_so_once_and_exits_128_plus_the_signal_without_a_make_to_stop(tmp_path):
    script = """
        import os, signal, sys
        sys.stderr.write("%s\\n%s\\n" % (sys.argv[1], sys.argv[1]))     # two runs said so
        sys.exit(130)
    """
    assert run_supervised(tmp_path, script, INTERRUPTED) == (128 + signal.SIGINT, "", INTERRUPTED + "\n")


def test_a_build_killed_by_a_signal_is_a_stop_with_that_signal(tmp_path):
    script = """
        import os, signal
        os.kill(os.getpid(), signal.SIGTERM)
    """
    assert run_supervised(tmp_path, script) == (128 + signal.SIGTERM, "", INTERRUPTED + "\n")


def test_a_parent_that_ignores_the_signal_is_not_stopped_by_it():
    assert supervise.parent_takes(os.getpid(), signal.SIGTERM) == (signal.getsignal(signal.SIGTERM) != signal.SIG_IGN)
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        assert not supervise.parent_takes(os.getpid(), signal.SIGUSR1)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert not supervise.parent_takes(2 ** 22 + 12345, signal.SIGINT)    # no such process: cannot tell


def test_a_piece_of_a_line_a_progress_bar_is_relayed_before_its_newline(tmp_path):
    """The child draws "\\rbar 1" and waits for the file ``go`` before it ends the line: the test creates it only
    once the piece has come through."""
    (tmp_path / "child.py").write_text(textwrap.dedent("""
        import os, sys, time
        sys.stderr.write("\\rbar 1"); sys.stderr.flush()
        deadline = time.monotonic() + 10
        while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
            time.sleep(0.01)
        sys.stderr.write("\\n")
        sys.exit(0 if os.path.exists(sys.argv[1]) else 1)     # the piece was held back
    """))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.supervise", "--", sys.executable,
                             str(tmp_path / "child.py"), str(tmp_path / "go")], stderr=subprocess.PIPE)
    seen = b""
    while b"bar 1" not in seen:
        chunk = os.read(proc.stderr.fileno(), 100)
        assert chunk, seen
        seen += chunk
    (tmp_path / "go").touch()
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0 and seen + rest == b"\rbar 1\n"


def test_make_passing_sigterm_on_while_the_supervisor_ends_does_not_kill_it(tmp_path):
    """A stand-in for the user's make: stopped by SIGTERM, make sends SIGTERM to its children, the supervisor,
    and says "*** [report] Terminated" for one that dies by it. Here the signal is sent again and again until the
    supervisor has ended, also while Python shuts down (its handlers reset to the default then)."""
    (tmp_path / "build.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    (tmp_path / "make.py").write_text(textwrap.dedent(f"""
        import os, signal, subprocess, sys
        got = []
        signal.signal(signal.SIGTERM, lambda *a: got.append(1))
        child = subprocess.Popen([sys.executable, "-m", "pipeline.supervise", "--parent-is-make", "--",
                                  sys.executable, {str(tmp_path / "build.py")!r}], stderr=subprocess.DEVNULL)
        while child.poll() is None:
            if got:
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        print(child.returncode, bool(got))
    """))
    r = subprocess.run([sys.executable, str(tmp_path / "make.py")], capture_output=True, text=True, timeout=60,
                       cwd=os.getcwd())
    assert r.stdout.split() == ["0", "True"], r.stdout + r.stderr   # stopped its parent, then ended by itself
