import shutil

import numpy as np
import pytest

from helpers.cifar10 import FOLDER_NAME
from helpers.data import ScaledPixels, cache_folder, load_dataset, quick_dataset, verify_cache
from helpers.model import one_hot
from helpers.errors import DataError, ParameterError
from helpers.params import DataOptions


def raw_train(tiny_batches):
    names = [f"data_batch_{i}" for i in range(1, 6)]
    X = np.concatenate([tiny_batches[n][0] for n in names]).astype(np.float64) / 255
    y = np.concatenate([tiny_batches[n][1] for n in names])
    return X, y


@pytest.fixture
def data_dir(tmp_path, tiny_data_dir):
    """A private copy of the verified tiny data (the cache is written beside it)."""
    shutil.copytree(tiny_data_dir / FOLDER_NAME, tmp_path / FOLDER_NAME)
    return tmp_path


def test_split_and_normalisation_use_training_statistics(data_dir, tiny_batches):
    d = load_dataset(data_dir, n_val=50)
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
    assert abs(np.asarray(d.val.X).mean()) > 1e-6 or abs(np.asarray(d.val.X).std() - 1) > 1e-6
    np.testing.assert_array_equal(d.train.Y, one_hot(d.train.y))
    assert d.data_sha256["test_batch"]


def test_no_normalisation_really_skips_it_and_the_statistics_show_it(data_dir, tiny_batches):
    norm = load_dataset(data_dir, n_val=50)
    raw = load_dataset(data_dir, n_val=50, normalise=False)
    X, _ = raw_train(tiny_batches)
    np.testing.assert_allclose(raw.train.X, X[:150], atol=1e-15)
    assert 0 <= np.asarray(raw.train.X).min() and np.asarray(raw.train.X).max() <= 1
    assert abs(float(np.mean(norm.train.X))) < 1e-12 and abs(float(np.mean(raw.train.X)) - X[:150].mean()) < 1e-12
    np.testing.assert_allclose(np.asarray(norm.train.X).std(axis=0), 1.0, atol=1e-9)


def test_one_batch_trains_on_the_first_batch_and_validates_on_the_second(data_dir, tiny_batches):
    d = load_dataset(data_dir, split="one-batch")
    assert (d.train.n, d.val.n, d.test.n) == (40, 40, 30)  # 10000 and 10000 on the real data
    np.testing.assert_array_equal(d.train.y, tiny_batches["data_batch_1"][1])
    np.testing.assert_array_equal(d.val.y, tiny_batches["data_batch_2"][1])
    X1 = tiny_batches["data_batch_1"][0].astype(np.float64) / 255
    np.testing.assert_allclose(d.mean, X1.mean(axis=0), rtol=1e-12)  # statistics of its own training set
    assert DataOptions(split="one-batch").n_train == 10000


def test_float32_loading_with_float64_statistics(data_dir):
    d32 = load_dataset(data_dir, n_val=50, dtype="float32")
    d64 = load_dataset(data_dir, n_val=50)
    assert d32.train.X.dtype == np.float32 and d32.test.X.dtype == np.float32
    assert d32.mean.dtype == np.float64
    np.testing.assert_allclose(d32.mean, d64.mean, rtol=1e-6)


def test_the_pixels_are_mapped_once_read_only_and_the_cache_holds_only_the_statistics(data_dir):
    first = load_dataset(data_dir, n_val=50)
    folder = cache_folder(data_dir, DataOptions(n_val=50))
    marker = folder / "CACHE.json"
    before = marker.stat().st_mtime_ns
    again = load_dataset(data_dir, n_val=50)
    assert marker.stat().st_mtime_ns == before                                  # reused, not rebuilt
    assert sorted(p.name for p in folder.iterdir()) == ["CACHE.json", "mean.npy", "std.npy"]
    for split in (again.train, again.val, again.test):
        assert isinstance(split.X, ScaledPixels) and isinstance(split.X.pixels, np.memmap)
        assert split.X.pixels.dtype == np.uint8 and not split.X.pixels.flags.writeable
    # train and val are views of the one mapped file of the verified pixels, not copies
    assert again.train.X.pixels.filename == again.val.X.pixels.filename == data_dir / FOLDER_NAME / "train_pixels.npy"
    np.testing.assert_array_equal(np.asarray(first.train.X), np.asarray(again.train.X))
    verify_cache(folder)


def test_a_cache_changed_by_one_byte_is_refused_and_rebuilt(data_dir):
    good = np.array(load_dataset(data_dir, n_val=50).train.X)
    path = cache_folder(data_dir, DataOptions(n_val=50)) / "std.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match its cache marker"):
        verify_cache(path.parent)
    np.testing.assert_array_equal(np.asarray(load_dataset(data_dir, n_val=50).train.X), good)
    verify_cache(path.parent)


def test_a_cache_of_the_older_format_is_replaced_and_its_float_copies_go(data_dir):
    import json

    load_dataset(data_dir, n_val=50)
    folder = cache_folder(data_dir, DataOptions(n_val=50))
    marker = json.loads((folder / "CACHE.json").read_text())
    (folder / "CACHE.json").write_text(json.dumps({**marker, "format": 1}))
    (folder / "X_train.npy").write_bytes(b"a float copy of the training set")
    load_dataset(data_dir, n_val=50)
    assert not (folder / "X_train.npy").exists() and json.loads((folder / "CACHE.json").read_text())["format"] == 2


def test_decoding_is_bitwise_the_arithmetic_of_the_variant_in_any_rows_or_columns(data_dir):
    d = load_dataset(data_dir, n_val=50)
    P = np.load(data_dir / FOLDER_NAME / "train_pixels.npy")[:150]
    mean, std = d.mean, d.std
    whole = (P.astype(np.float64) / 255 - mean) / std                           # the same three roundings
    assert np.array_equal(np.asarray(d.train.X), whole) and d.train.X.shape == (150, 3072)
    assert np.array_equal(d.train.X[[5, 2]], whole[[5, 2]]) and np.array_equal(d.train.X[7], whole[7])
    assert np.array_equal(d.train.X[:20, :10], whole[:20, :10])
    raw = load_dataset(data_dir, n_val=50, normalise=False, dtype="float32")
    assert np.array_equal(np.asarray(raw.train.X), P.astype(np.float32) / np.float32(255))
    assert raw.train.X.dtype == np.float32 and raw.train.X.nbytes == P.nbytes
    assert np.array_equal(np.asarray(d.train.X.rows(9)), whole[:9])


def test_quick_dataset_is_a_small_prefix(data_dir):
    d = quick_dataset(load_dataset(data_dir, n_val=50))
    assert d.train.n == 150 and d.val.n == 50  # smaller than the quick sizes: all of it


def test_bad_options_are_refused(data_dir):
    with pytest.raises(DataError, match="n_val=200"):
        load_dataset(data_dir, n_val=200)
    with pytest.raises(ParameterError, match="split='two-batch' is not allowed"):
        DataOptions(split="two-batch")


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_pixels_changed_after_verification_are_not_loaded(data_dir):
    with open(data_dir / FOLDER_NAME / "train_pixels.npy", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(DataError, match="train_pixels.npy changed since it was verified"):
        load_dataset(data_dir, n_val=50)


def test_unverified_folder_is_refused(data_dir):
    (data_dir / FOLDER_NAME / "VERIFIED.json").unlink()
    with pytest.raises(DataError, match="has not been verified.*make data"):
        load_dataset(data_dir, n_val=50)


def test_a_damaged_marker_is_a_clear_error(data_dir):
    (data_dir / FOLDER_NAME / "VERIFIED.json").write_text('{"data_sha256": {}}')
    with pytest.raises(DataError, match="is damaged or from an older version; delete .* and run `make data` again"):
        load_dataset(data_dir, n_val=50)


def test_the_number_of_training_images_is_read_from_the_npy_header(data_dir):
    from helpers.cifar10 import count_training_images

    assert count_training_images(data_dir / FOLDER_NAME) == 200
    assert count_training_images(data_dir / "nowhere") is None


def test_pooled_statistics_are_those_of_each_channel_or_of_every_pixel():
    from helpers.data import column_stats, pooled_stats

    rng = np.random.default_rng(0)
    X = rng.random((40, 12)) * np.repeat([1.0, 3.0, 0.5], 4)     # three channel planes of 4 dimensions each
    mean, std = column_stats(X)
    assert pooled_stats(mean, std, "dimension") == (mean, std)
    m, s = pooled_stats(mean, std, "channel")
    planes = X.reshape(40, 3, 4)
    np.testing.assert_allclose(m, np.repeat(planes.mean(axis=(0, 2)), 4), rtol=1e-12)
    np.testing.assert_allclose(s, np.repeat(planes.std(axis=(0, 2)), 4), rtol=1e-12)
    m, s = pooled_stats(mean, std, "pixel")
    np.testing.assert_allclose(m, np.full(12, X.mean()), rtol=1e-12)
    np.testing.assert_allclose(s, np.full(12, X.std()), rtol=1e-12)


def test_the_first_images_validate_when_asked_and_all_images_can_give_the_statistics():
    from helpers.data import split_slices, variant_stats

    last, first = DataOptions(n_val=10), DataOptions(n_val=10, val="first")
    assert split_slices(50, last) == (slice(0, 40), slice(40, 50))
    assert split_slices(50, first) == (slice(10, 50), slice(0, 10))
    pixels = np.arange(50 * 6, dtype=np.uint8).reshape(50, 6)
    own = variant_stats(pixels, first)["mean"]
    every = variant_stats(pixels, DataOptions(n_val=10, val="first", stats="all"))["mean"]
    np.testing.assert_allclose(own, pixels[10:].mean(axis=0) / 255, rtol=1e-12)
    np.testing.assert_allclose(every, pixels.mean(axis=0) / 255, rtol=1e-12)


def test_a_data_option_outside_its_words_is_refused_with_the_words_allowed():
    with pytest.raises(ParameterError, match="norm='row' is not allowed; allowed: 'dimension', 'channel', 'pixel'"):
        DataOptions(norm="row")
    assert DataOptions(norm="channel", stats="all").key == "course-val5000-norm-float64-norm-channel-stats-all"
    assert DataOptions().key == "course-val5000-norm-float64"      # the course's folder name is unchanged
