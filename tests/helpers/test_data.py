import shutil

import numpy as np
import pytest

from helpers.cifar10 import FOLDER_NAME
from helpers.data import load_dataset, one_hot
from helpers.errors import DataError


def raw_train(tiny_batches):
    names = [f"data_batch_{i}" for i in range(1, 6)]
    X = np.concatenate([tiny_batches[n][0] for n in names]).astype(np.float64) / 255
    y = np.concatenate([tiny_batches[n][1] for n in names])
    return X, y


def test_split_and_normalisation_use_training_statistics(tiny_data_dir, tiny_batches):
    d = load_dataset(tiny_data_dir / FOLDER_NAME, n_val=50)
    X, y = raw_train(tiny_batches)
    assert (d.train.n, d.val.n, d.test.n) == (150, 50, 30)
    np.testing.assert_array_equal(d.train.y, y[:150])
    np.testing.assert_array_equal(d.val.y, y[150:])
    mean, std = X[:150].mean(axis=0), X[:150].std(axis=0)
    np.testing.assert_allclose(d.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(d.std, std, rtol=1e-12)
    np.testing.assert_allclose(d.train.X, (X[:150] - mean) / std, atol=1e-12)
    # validation and test: the training statistics, not their own
    np.testing.assert_allclose(d.val.X, (X[150:] - mean) / std, atol=1e-12)
    Xt = tiny_batches["test_batch"][0].astype(np.float64) / 255
    np.testing.assert_allclose(d.test.X, (Xt - mean) / std, atol=1e-12)
    assert abs(d.val.X.mean()) > 1e-6 or abs(d.val.X.std() - 1) > 1e-6
    np.testing.assert_array_equal(d.train.Y, one_hot(d.train.y))
    assert d.data_sha256["test_batch"]


def test_float32_loading(tiny_data_dir):
    d = load_dataset(tiny_data_dir / FOLDER_NAME, n_val=20, dtype=np.float32)
    assert d.train.X.dtype == np.float32 and d.test.X.dtype == np.float32


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_bad_n_val_is_refused(tiny_data_dir):
    with pytest.raises(DataError, match="n_val=200"):
        load_dataset(tiny_data_dir / FOLDER_NAME, n_val=200)


def test_files_changed_after_verification_are_not_loaded(tmp_path, tiny_data_dir):
    folder = tmp_path / FOLDER_NAME
    shutil.copytree(tiny_data_dir / FOLDER_NAME, folder)
    with open(folder / "data_batch_4", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(DataError, match="data_batch_4 changed since it was verified"):
        load_dataset(folder, n_val=50)


def test_unverified_folder_is_refused(tmp_path, tiny_data_dir):
    folder = tmp_path / FOLDER_NAME
    shutil.copytree(tiny_data_dir / FOLDER_NAME, folder)
    (folder / "VERIFIED.json").unlink()
    with pytest.raises(DataError, match="has not been verified .*make data"):
        load_dataset(folder, n_val=50)


def test_float32_statistics_are_computed_in_float64(tiny_data_dir, tiny_batches):
    d32 = load_dataset(tiny_data_dir / FOLDER_NAME, n_val=50, dtype=np.float32)
    d64 = load_dataset(tiny_data_dir / FOLDER_NAME, n_val=50)
    assert d32.mean.dtype == np.float64 and d32.std.dtype == np.float64
    np.testing.assert_allclose(d32.mean, d64.mean, rtol=1e-6)
    np.testing.assert_allclose(d32.std, d64.std, rtol=1e-6)


def test_a_damaged_marker_is_a_clear_error(tmp_path, tiny_data_dir):
    folder = tmp_path / FOLDER_NAME
    shutil.copytree(tiny_data_dir / FOLDER_NAME, folder)
    (folder / "VERIFIED.json").write_text('{"data_sha256": {}}')
    with pytest.raises(DataError, match="is damaged; delete .* and run `make data` again"):
        load_dataset(folder, n_val=50)
