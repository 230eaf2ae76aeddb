import functools
import http.server
import threading

import pytest

from pipeline import download
from helpers.files import file_digest
from pipeline.download import ARCHIVE_NAME, obtain_archive
from helpers.errors import DataError


@pytest.fixture
def server(tmp_path):
    """A local HTTP server (loopback only) serving files from tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))

    class Quiet(handler.func):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_checks_md5_and_moves_into_place(tmp_path, server, tiny_archive):
    www, base = server
    (www / ARCHIVE_NAME).write_bytes(tiny_archive.read_bytes())
    dest = tmp_path / "data" / ARCHIVE_NAME
    download.download(f"{base}/{ARCHIVE_NAME}", dest, md5=file_digest(tiny_archive, "md5"), progress=False)
    assert dest.read_bytes() == tiny_archive.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == [ARCHIVE_NAME]


def test_download_with_wrong_md5_leaves_nothing(tmp_path, server, tiny_archive):
    www, base = server
    (www / ARCHIVE_NAME).write_bytes(tiny_archive.read_bytes())
    dest = tmp_path / "data" / ARCHIVE_NAME
    with pytest.raises(DataError, match="md5 .* expected c58f30108f718f92721af3b95e74349a"):
        download.download(f"{base}/{ARCHIVE_NAME}", dest, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_http_error_is_clear(tmp_path, server):
    _, base = server
    with pytest.raises(DataError, match="could not download .*CIFAR10_ARCHIVE=/path/to/cifar-10-python.tar.gz"):
        download.download(f"{base}/missing.tar.gz", tmp_path / "data" / ARCHIVE_NAME, progress=False)
    assert list((tmp_path / "data").iterdir()) == []


def test_no_connection_says_how_to_supply_the_archive(tmp_path):
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    with pytest.raises(DataError, match="could not download .*CIFAR10_ARCHIVE="):
        obtain_archive(tmp_path / "data", url="http://127.0.0.1:9/cifar-10-python.tar.gz", progress=False)


def test_interrupted_download_leaves_no_partial_file(tmp_path, server, tiny_archive, monkeypatch):
    www, base = server
    (www / ARCHIVE_NAME).write_bytes(tiny_archive.read_bytes())

    class Bar:
        def update(self, n):
            raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(download, "_progress_bar", lambda *a: Bar())
    dest = tmp_path / "data" / ARCHIVE_NAME
    with pytest.raises(KeyboardInterrupt):
        download.download(f"{base}/{ARCHIVE_NAME}", dest, md5=None)
    assert list(dest.parent.iterdir()) == []


def test_local_archive_is_used_as_it_is(tmp_path, tiny_archive):
    assert obtain_archive(tmp_path / "data", local=str(tiny_archive)) == tiny_archive.resolve()
    assert not (tmp_path / "data").exists()  # nothing copied, nothing downloaded


def test_local_archive_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=r"CIFAR10_ARCHIVE=.*nope.tar.gz does not exist"):
        obtain_archive(tmp_path / "data", local=str(tmp_path / "nope.tar.gz"))


def test_local_archive_that_is_a_folder(tmp_path):
    with pytest.raises(DataError, match="is not a file"):
        obtain_archive(tmp_path / "data", local=str(tmp_path))


def test_archive_already_in_the_data_folder_is_reused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ARCHIVE_NAME).write_bytes(b"x")
    assert obtain_archive(data, url="http://127.0.0.1:9/never") == data / ARCHIVE_NAME


def test_data_folder_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(DataError, match="cannot write to the data folder .*DATA_DIR="):
        download.check_writable(blocker / "data")


def test_a_connection_that_breaks_off_is_a_clear_error(tmp_path, monkeypatch):
    import http.client

    class Response:
        headers = {"Content-Length": "100"}

        def read(self, n):
            raise http.client.IncompleteRead(b"partial", 93)

    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: Response())
    dest = tmp_path / "data" / ARCHIVE_NAME
    with pytest.raises(DataError, match="download of .* broke off .*IncompleteRead"):
        download.download("http://127.0.0.1:9/x", dest, progress=False)
    assert list(dest.parent.iterdir()) == []


# --- a local archive is kept in data/ once verified (keep_archive) ---------------------------

def test_keep_archive_links_it_into_the_data_folder(tmp_path, tiny_archive):
    data = tmp_path / "data"
    assert download.keep_archive(tiny_archive, data) == "link"
    kept = data / ARCHIVE_NAME
    assert kept.samefile(tiny_archive)
    assert sorted(p.name for p in data.iterdir()) == [ARCHIVE_NAME]


def test_keep_archive_copies_where_no_link_can_be_made(tmp_path, tiny_archive, monkeypatch):
    def no_link(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(download.os, "link", no_link)
    data = tmp_path / "data"
    assert download.keep_archive(tiny_archive, data) == "copy"
    kept = data / ARCHIVE_NAME
    assert kept.read_bytes() == tiny_archive.read_bytes() and not kept.samefile(tiny_archive)
    assert sorted(p.name for p in data.iterdir()) == [ARCHIVE_NAME]


def test_keep_archive_does_nothing_when_it_is_already_that_file(tmp_path, tiny_archive, monkeypatch):
    monkeypatch.setattr(download.tempfile, "mkstemp", lambda **kw: pytest.fail("nothing to write"))
    assert download.keep_archive(tiny_archive, tiny_archive.parent) is None
    assert tiny_archive.is_file()


def test_an_interrupted_copy_leaves_no_partial_archive(tmp_path, tiny_archive, monkeypatch):
    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    def half_copy(src, dst):
        with open(dst, "wb") as fh:
            fh.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(download.os, "link", no_link)
    monkeypatch.setattr(download.shutil, "copyfile", half_copy)
    data = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        download.keep_archive(tiny_archive, data)
    assert list(data.iterdir()) == []
