"""Reading and verifying CIFAR-10 (helpers.cifar10): batches, content hashes, the verified pixels."""

import numpy as np
import pytest

from helpers import cifar10 as archive
from helpers.errors import DataError
from tests.conftest import batch_pickle, expected_for, make_batches, official_layout


def test_read_batch_round_trip(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    (tmp_path / "b").write_bytes(batch_pickle(data, [3, 4], "b"))
    got, labels = archive.read_batch(tmp_path / "b")
    np.testing.assert_array_equal(got, data)
    assert labels.tolist() == [3, 4]


def test_verify_batches_checks_hashes_and_class_counts(tmp_path):
    batches = make_batches(seed=3)
    for name, payload in official_layout(batches).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(payload)
    folder = tmp_path / archive.FOLDER_NAME
    hashes, read = archive.verify_batches(folder, expected_for(batches))
    assert set(hashes) == set(archive.OFFICIAL_DATA_SHA256) and len(read) == 6
    with pytest.raises(DataError, match="does not match the official CIFAR-10"):
        archive.verify_batches(folder)
    archive.write_pixels(folder, hashes, read)
    pixels = archive.load_pixels(folder)
    assert pixels["train_pixels"].shape == (200, 3072) and not pixels["train_pixels"].flags.writeable
    np.testing.assert_array_equal(pixels["test_labels"], read["test_batch"][1])
