import io
import tarfile

import numpy as np
import pytest

from tests.conftest import expected_for, make_batches, official_layout, write_archive
from helpers import cifar10 as archive
from pipeline import extract
from helpers.cifar10 import FOLDER_NAME, MARKER, read_marker
from pipeline.extract import extract_and_verify
from helpers.errors import DataError


def test_extract_and_verify_a_small_official_format_archive(tmp_path, tiny_archive, tiny_expected, tiny_batches):
    folder = extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert folder == tmp_path / "data" / FOLDER_NAME
    marker = read_marker(folder)
    assert marker["data_sha256"] == tiny_expected.data_sha256
    assert set(marker["file_sha256"]) == set(archive.PIXEL_FILES)
    pixels = archive.load_pixels(folder)
    np.testing.assert_array_equal(pixels["train_pixels"][40:80], tiny_batches["data_batch_2"][0])
    assert pixels["train_labels"][40:80].tolist() == tiny_batches["data_batch_2"][1]
    assert not (folder / "data_batch_2").exists()  # the pickles are not kept: nothing unpickles them again
    # nothing temporary is left behind
    assert [p.name for p in (tmp_path / "data").iterdir()] == [FOLDER_NAME]


def test_a_verified_folder_is_not_extracted_again(tmp_path, tiny_archive, tiny_expected):
    folder = extract_and_verify(tiny_archive, tmp_path, tiny_expected)
    before = (folder / MARKER).stat().st_mtime_ns
    tiny_archive.write_bytes(b"garbage")  # would fail if it were read again
    assert extract_and_verify(tiny_archive, tmp_path, tiny_expected) == folder
    assert (folder / MARKER).stat().st_mtime_ns == before


def test_wrong_content_checksum_is_refused(tmp_path, tiny_archive, tiny_expected):
    with pytest.raises(DataError, match="data_batch_1: content sha256 .* does not match the official CIFAR-10"):
        extract_and_verify(tiny_archive, tmp_path / "data")  # the official hashes
    assert not (tmp_path / "data" / FOLDER_NAME).exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_unbalanced_classes_are_refused(tmp_path):
    batches = make_batches(seed=3)
    data, labels = batches["test_batch"]
    labels = [0] * len(labels)
    batches["test_batch"] = (data, labels)
    expected = expected_for(batches)
    arc = write_archive(tmp_path / "a.tar.gz", official_layout(batches))
    with pytest.raises(DataError, match="test_batch has .* images per class"):
        extract_and_verify(arc, tmp_path / "data", expected)


def test_truncated_archive_gives_a_clear_error(tmp_path, tiny_archive, tiny_expected):
    raw = tiny_archive.read_bytes()
    tiny_archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="is truncated or corrupt"):
        extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert not (tmp_path / "data" / FOLDER_NAME).exists()


def test_html_page_saved_as_archive_gives_a_clear_error(tmp_path, tiny_expected):
    page = tmp_path / "cifar-10-python.tar.gz"
    page.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    with pytest.raises(DataError, match="not a gzip-compressed tar archive .*HTML page"):
        extract_and_verify(page, tmp_path / "data", tiny_expected)


def test_missing_batch_is_reported(tmp_path, tiny_batches, tiny_expected):
    members = official_layout(tiny_batches)
    del members[f"{FOLDER_NAME}/data_batch_3"]
    arc = write_archive(tmp_path / "a.tar.gz", members)
    with pytest.raises(DataError, match="lacks cifar-10-batches-py/data_batch_3"):
        extract_and_verify(arc, tmp_path / "data", tiny_expected)


def _tar_with(tmp_path, *infos):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in infos:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/absolute.txt", f"{FOLDER_NAME}/../../up.txt"])
def test_members_outside_the_target_are_refused(tmp_path, name, tiny_expected):
    info = tarfile.TarInfo(name)
    info.size = 3
    arc = _tar_with(tmp_path, (info, b"bad"))
    with pytest.raises(DataError, match="would be written outside the data folder"):
        extract_and_verify(arc, tmp_path / "data", tiny_expected)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "up.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_are_refused(tmp_path, kind, tiny_expected):
    info = tarfile.TarInfo(f"{FOLDER_NAME}/data_batch_1")
    info.type = kind
    info.linkname = "/etc/passwd"
    arc = _tar_with(tmp_path, (info, None))
    with pytest.raises(DataError, match="links are not allowed"):
        extract_and_verify(arc, tmp_path / "data", tiny_expected)


def test_an_unmarked_leftover_folder_is_not_accepted(tmp_path, tiny_archive, tiny_expected):
    # e.g. a folder left by an interrupted manual extraction: no marker, so it is redone
    leftover = tmp_path / "data" / FOLDER_NAME
    leftover.mkdir(parents=True)
    (leftover / "data_batch_1").write_bytes(b"half")
    folder = extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert read_marker(folder) is not None
    assert not (folder / "data_batch_1").exists() and (folder / "train_pixels.npy").is_file()


def test_interrupted_extraction_leaves_nothing_a_later_run_accepts(tmp_path, tiny_archive, tiny_expected, monkeypatch):
    calls = {"n": 0}
    real = extract.verify_batches

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(extract, "verify_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert calls["n"] == 1
    assert list((tmp_path / "data").iterdir()) == []
    monkeypatch.setattr(extract, "verify_batches", real)
    assert read_marker(extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)) is not None


def test_batch_with_an_evil_pickle_is_refused_during_verification(tmp_path, tiny_batches, tiny_expected):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    import pickle

    members = official_layout(tiny_batches)
    members[f"{FOLDER_NAME}/data_batch_1"] = pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2)
    arc = write_archive(tmp_path / "a.tar.gz", members)
    with pytest.raises(DataError, match="refused to unpickle (posix|os).system"):
        extract_and_verify(arc, tmp_path / "data", tiny_expected)
    assert not (tmp_path / "pwned").exists()


def test_oversized_members_are_refused_before_extraction(tmp_path, tiny_expected, monkeypatch):
    monkeypatch.setattr(extract, "MAX_MEMBER_BYTES", 1000)
    info = tarfile.TarInfo(f"{FOLDER_NAME}/data_batch_1")
    info.size = 5000
    arc = _tar_with(tmp_path, (info, b"x" * 5000))
    with pytest.raises(DataError, match="oversized member; .* it is not CIFAR-10"):
        extract_and_verify(arc, tmp_path / "data", tiny_expected)
    assert list((tmp_path / "data").iterdir()) == []


def test_extracted_folder_is_readable_by_others(tmp_path, tiny_archive, tiny_expected):
    import os

    umask = os.umask(0)
    os.umask(umask)
    folder = extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (folder / MARKER).stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_folder_of_an_older_version_is_extracted_again(tmp_path, tiny_archive, tiny_expected):
    folder = tmp_path / "data" / FOLDER_NAME
    folder.mkdir(parents=True)
    (folder / MARKER).write_text('{"data_sha256": {}, "file_sha256": {"data_batch_1": "x"}}')
    extract_and_verify(tiny_archive, tmp_path / "data", tiny_expected)
    assert set(read_marker(folder)["file_sha256"]) == set(archive.PIXEL_FILES)
