"""Where a run's numbers come from: the commit, the CPU, the compiled epoch's compiler and flags, the BLAS.

Each run's ``results.json`` records :func:`run_provenance`, so a reader who doubts a number can
follow it back to the code and the machine that produced it. Bits depend on these: the same
commit, CPU family, compiler and flags give the same bits (whatever ``-j``); another CPU family
or the NumPy epoch may change the last bits (README, "What is bitwise identical").
"""

import platform
import subprocess
from pathlib import Path

import numpy  # noqa: F401  (loads the BLAS NumPy links to, if not yet loaded)
from threadpoolctl import threadpool_info

from helpers.compiled_epoch import build_info
from helpers.paths import ROOT

#: x86-64 micro-architecture levels and the CPU flags each adds (the psABI's levels, as compilers name them).
X86_LEVELS = (("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}),
              ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
              ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}))


def git_commit(root=ROOT):
    """``{"commit": sha, "dirty": bool}`` of the project's checkout, or None where ``root`` is not the top of one."""
    def git(*args):
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise OSError(out.stderr.strip())
        return out.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return None   # a copy without its own .git, inside another repository
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit, "dirty": dirty}


def isa_level(flags):
    """The highest x86-64 level whose flags are all in ``flags`` (``x86-64`` for none); None off x86-64."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    level = "x86-64"
    for name, needed in X86_LEVELS:
        if not needed <= set(flags):
            break
        level = name
    return level


def cpu_info(cpuinfo="/proc/cpuinfo"):
    """``{"model", "machine", "isa_level"}`` of this CPU (model from /proc/cpuinfo where there is one)."""
    model, flags = None, ()
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = value.split()
    except OSError:
        pass
    return {"model": model or platform.processor() or None, "machine": platform.machine(), "isa_level": isa_level(flags)}


def blas_info():
    """The BLAS NumPy calls: library, version, kernel architecture (threadpoolctl)."""
    return [{k: lib.get(k) for k in ("internal_api", "version", "architecture")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]


def run_provenance(epoch="compiled", dtype="float64"):
    """Everything :mod:`helpers.provenance` records for a run trained by ``epoch`` in ``dtype``."""
    return {"git": git_commit(), "cpu": cpu_info(),
            "compiled_epoch": build_info(dtype) if epoch == "compiled" else None, "blas": blas_info()}
