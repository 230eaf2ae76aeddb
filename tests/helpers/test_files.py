"""Atomic writes and digests (helpers.files)."""

import hashlib
import json

import numpy as np
import pytest

from helpers import files as atomic


def test_write_json_is_atomic_on_failure(tmp_path):
    path = tmp_path / "r.json"
    atomic.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_interrupt_inside_atomic_path_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_npz_is_byte_identical_for_equal_arrays(tmp_path):
    W = np.arange(6.0).reshape(2, 3)
    atomic.write_npz(tmp_path / "a.npz", W=W, b=np.ones(2))
    atomic.write_npz(tmp_path / "b.npz", W=W, b=np.ones(2))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as npz:
        np.testing.assert_array_equal(npz["W"], W)


def test_file_digest_reads_in_chunks(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "f").write_bytes(data)
    assert atomic.file_digest(tmp_path / "f", chunk=1000) == hashlib.sha256(data).hexdigest()
    assert atomic.file_digest(tmp_path / "f", "md5") == hashlib.md5(data).hexdigest()


def test_write_npy_refuses_objects_and_round_trips(tmp_path):
    atomic.write_npy(tmp_path / "a.npy", np.arange(5))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", allow_pickle=False), np.arange(5))
    with pytest.raises(ValueError):
        atomic.write_npy(tmp_path / "b.npy", np.array([{"x": 1}], dtype=object))
    assert not (tmp_path / "b.npy").exists()
