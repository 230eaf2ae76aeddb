"""Which epoch trains where no compiled epoch can be had: runs on any machine, with or without a C compiler."""

import numpy as np
import pytest

from helpers import compiled_epoch as compiled
from helpers.compiled_epoch import CompileError, compile_library, load_function
from tests.conftest import no_compiler


def test_an_unsupported_dtype_is_a_clear_error():
    with pytest.raises(CompileError, match="float64 or float32, not int32"):
        load_function(np.int32)


def test_no_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(CompileError, match="needs a C compiler"):
        compile_library(np.float64, tmp_path)


def test_without_a_compiler_or_a_library_training_falls_back_to_numpy_with_one_notice(monkeypatch, tmp_path, capsys,
                                                                                      fresh_choice):
    no_compiler(monkeypatch, tmp_path)
    assert compiled.epoch_function(np.dtype(np.float64)) is None
    assert compiled.epoch_function(np.dtype(np.float64)) is None
    err = capsys.readouterr().err
    assert err.count("notice: training with the NumPy epoch") == 1 and "needs a C compiler" in err and "set CC" in err


def test_apple_s_clang_on_arm64_gets_flags_it_accepts():
    flags = compiled.default_flags("Darwin", "arm64")
    assert "-mcpu=apple-m1" in flags and "-march=native" not in flags and "-Wno-psabi" not in flags
    assert compiled.default_flags("Linux", "x86_64") == compiled.FLAGS
