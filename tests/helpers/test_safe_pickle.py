import pickle

import numpy as np
import pytest

from helpers.errors import DataError
from helpers.safe_pickle import load_batch_pickle


def test_a_batch_pickle_loads():
    arr = np.arange(12, dtype=np.uint8).reshape(2, 6)
    out = load_batch_pickle(pickle.dumps({"data": arr, "labels": [1, 2], "batch_label": b"x"}, protocol=2))
    np.testing.assert_array_equal(out["data"], arr)
    assert out["labels"] == [1, 2]


def test_python2_style_bytes_keys_are_decoded():
    arr = np.zeros((1, 3), dtype=np.uint8)
    out = load_batch_pickle(pickle.dumps({b"data": arr, b"labels": [0]}, protocol=2))
    assert set(out) == {"data", "labels"}


def test_a_pickle_that_would_run_a_command_is_refused(tmp_path):
    target = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {target}",))

    payload = pickle.dumps({"data": Exploit()}, protocol=2)
    with pytest.raises(DataError, match=r"refused to unpickle (posix|os)\.system"):
        load_batch_pickle(payload, source="data_batch_1")
    assert not target.exists()


@pytest.mark.parametrize("module,name", [("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load")])
def test_other_globals_are_refused(module, name):
    # a hand-written protocol-2 pickle: GLOBAL module name, an argument, REDUCE
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x00x\x85R."
    with pytest.raises(DataError, match=f"refused to unpickle {module}.{name}"):
        load_batch_pickle(payload)


def test_garbage_is_a_clear_error():
    with pytest.raises(DataError, match="not a readable CIFAR-10 batch"):
        load_batch_pickle(b"not a pickle at all", source="data_batch_1")


def test_a_non_dict_is_refused():
    with pytest.raises(DataError, match="expected a dict"):
        load_batch_pickle(pickle.dumps([1, 2, 3], protocol=2))


def test_codecs_encode_only_makes_latin1_bytes():
    ok = b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x06\x00\x00\x00latin1\x86R."
    assert load_batch_pickle(b"\x80\x02}(X\x04\x00\x00\x00data" + ok[2:-1] + b"u.")["data"] == b"ab"
    bad = b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(DataError, match="refused _codecs.encode"):
        load_batch_pickle(bad)
