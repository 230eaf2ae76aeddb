"""What a run records about where its numbers come from."""

import platform
import subprocess

import pytest

from helpers import provenance


def test_the_commit_and_whether_the_tree_was_dirty(tmp_path):
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    run("add", "a.txt")
    run("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert provenance.git_commit(tmp_path) == {"commit": sha, "dirty": False}
    (tmp_path / "a.txt").write_text("two\n")
    assert provenance.git_commit(tmp_path) == {"commit": sha, "dirty": True}
    (tmp_path / "new.txt").write_text("untracked files do not make it dirty\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("one\n")
    assert provenance.git_commit(tmp_path)["dirty"] is False
    assert provenance.git_commit(tmp_path / "sub") is None          # a folder inside it is not its top
    (tmp_path / ".git").rename(tmp_path / "not-git")
    assert provenance.git_commit(tmp_path) is None


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 levels")
@pytest.mark.parametrize("flags, level", [
    ("fpu sse2", "x86-64"),
    ("sse2 cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3", "x86-64-v2"),
    ("cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave", "x86-64-v3"),
    ("cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave "
     "avx512f avx512bw avx512cd avx512dq avx512vl", "x86-64-v4"),
    ("avx512f avx512bw avx512cd avx512dq avx512vl", "x86-64"),     # v4's flags without v2's: the levels nest
])
def test_the_instruction_set_level_is_the_highest_whose_flags_are_all_there(flags, level):
    assert provenance.isa_level(flags.split()) == level


def test_the_cpu_model_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse2\n\nprocessor\t: 1\n"
                    "model name\t: Some CPU 9000\nflags\t\t: fpu sse2\n")
    cpu = provenance.cpu_info(info)
    assert cpu["model"] == "Some CPU 9000" and cpu["machine"] == platform.machine()
    if platform.machine() == "x86_64":
        assert cpu["isa_level"] == "x86-64"


def test_a_run_records_the_compiled_epoch_s_build_only_when_it_ran(c_compiler):
    compiled = provenance.run_provenance("compiled")
    assert compiled["compiled_epoch"]["library"].startswith("epoch-f64-")
    assert compiled["compiled_epoch"]["flags"] and compiled["blas"][0]["internal_api"]
    assert provenance.run_provenance("numpy")["compiled_epoch"] is None
