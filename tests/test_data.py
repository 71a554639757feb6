"""bnlib.data: the search order, parsing, verified downloads from a local HTTP server."""
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from bnlib import data

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def _idx(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (the format's own definition, written here)."""
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _fake_files(n_train: int, n_test: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)),
              "train_labels": rng.integers(0, 10, n_train),
              "test_images": rng.integers(0, 256, (n_test, 28, 28)),
              "test_labels": rng.integers(0, 10, n_test)}
    return {data.FILES[k]: (gzip.compress(_idx(a), mtime=0), a) for k, a in arrays.items()}


def _write(d: Path, files: dict) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, (blob, _) in files.items():
        (d / name).write_bytes(blob)
    return d


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $BNLIB_DATA, an empty private cache, no system directory, no memory cache."""
    monkeypatch.delenv("BNLIB_DATA", raising=False)
    monkeypatch.delenv("BNLIB_DATA_URL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(tmp_path / "system"),))
    data.clear_cache()
    yield tmp_path
    data.clear_cache()


def test_parsing_scales_images_and_keeps_labels(isolated):
    files = _fake_files(7, 3)
    d = _write(isolated / "explicit", files)
    ds = data.load_fashion_mnist(d, download=False)
    imgs = files[data.FILES["train_images"]][1]
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape == (7, 784)
    assert ds.y_train.dtype == np.int64 and ds.y_test.shape == (3,)
    np.testing.assert_allclose(ds.x_train[2, 28 * 5 + 4], imgs[2, 5, 4] / 255, rtol=1e-6)
    assert np.array_equal(ds.y_test, files[data.FILES["test_labels"]][1])
    assert 0 <= ds.x_test.min() and ds.x_test.max() <= 1


def test_search_order(isolated, monkeypatch):
    # four candidate directories, told apart by their number of training examples
    explicit = _write(isolated / "explicit", _fake_files(4, 2))
    env = _write(isolated / "env", _fake_files(5, 2))
    cache = _write(data.cache_dir(), _fake_files(6, 2))
    system = _write(isolated / "system", _fake_files(8, 2))
    monkeypatch.setenv("BNLIB_DATA", str(env))
    n = lambda **kw: len(data.load_fashion_mnist(download=False, **kw).x_train)  # noqa: E731
    assert n(path=explicit) == 4
    assert n() == 5
    monkeypatch.delenv("BNLIB_DATA")
    assert n() == 6
    for f in cache.iterdir():
        f.unlink()
    assert n() == 8
    assert data.find_fashion_mnist() == system


def test_explicit_path_without_files_is_an_error(isolated):
    (isolated / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_fashion_mnist(isolated / "empty")


def test_nothing_found_and_no_download(isolated):
    with pytest.raises(FileNotFoundError, match="download=False.*Searched.*user cache"):
        data.load_fashion_mnist(download=False)


def test_memory_cache_subsets_and_read_only(isolated):
    d = _write(isolated / "explicit", _fake_files(9, 4))
    a = data.load_fashion_mnist(d)
    b = data.load_fashion_mnist(d, n_train=5, n_test=2)
    assert b.x_train.shape == (5, 784) and b.y_test.shape == (2,)
    assert np.shares_memory(a.x_train, b.x_train)      # parsed once, sliced, not copied
    with pytest.raises(ValueError):
        a.x_train[0, 0] = 1.0
    with pytest.raises(ValueError, match="n_train"):
        data.load_fashion_mnist(d, n_train=10)


def test_bad_idx_file_is_reported(isolated):
    files = _fake_files(3, 2)
    name = data.FILES["train_images"]
    blob = gzip.decompress(files[name][0])[:-5]          # header promises 5 more bytes
    files[name] = (gzip.compress(blob), None)
    d = _write(isolated / "explicit", files)
    with pytest.raises(ValueError, match="truncated"):
        data.load_fashion_mnist(d)


# --- downloads, from a local HTTP server -----------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}          # name -> bytes to send
    cut: set = set()          # names whose connection closes half-way through the body

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if name in self.cut else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(isolated, monkeypatch):
    files = _fake_files(6, 3)
    for name, (blob, _) in files.items():     # the expected hashes of *these* files
        monkeypatch.setitem(data.SHA256, name, hashlib.sha256(blob).hexdigest())
    handler = type("H", (_Handler,), {"files": {k: v[0] for k, v in files.items()},
                                      "cut": set()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/base/", handler, files
    httpd.shutdown()
    httpd.server_close()


def _cached():
    d = data.cache_dir()
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_good_download_is_cached_and_loaded(server, monkeypatch):
    url, _, files = server
    monkeypatch.setenv("BNLIB_DATA_URL", url)          # the environment variable route
    ds = data.load_fashion_mnist()
    assert _cached() == sorted(data.FILES.values())
    assert ds.source == str(data.cache_dir())
    assert np.array_equal(ds.y_train, files[data.FILES["train_labels"]][1])


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_download_raises_and_caches_nothing(server, damage):
    url, handler, files = server
    name = data.FILES["test_images"]
    blob = bytearray(files[name][0])
    if damage == "corrupt":
        blob[len(blob) // 2] ^= 0xFF
    else:
        blob = blob[: len(blob) // 2]
    handler.files[name] = bytes(blob)
    expected = data.SHA256[name]
    with pytest.raises(ValueError, match=rf"{name}: SHA-256 mismatch.*expected {expected}, got [0-9a-f]{{64}}"):
        data.load_fashion_mnist(base_url=url)
    assert name not in _cached()
    assert not [f for f in _cached() if f.endswith(".part")]


def test_connection_closing_early_raises_and_caches_nothing(server):
    url, handler, _ = server
    name = data.FILES["train_labels"]
    handler.cut = {name}                   # right Content-Length, half the body
    with pytest.raises((OSError, ValueError), match=name):
        data.load_fashion_mnist(base_url=url)
    assert name not in _cached() and not [f for f in _cached() if f.endswith(".part")]


def test_missing_file_on_server(server):
    url, handler, _ = server
    del handler.files[data.FILES["test_labels"]]
    with pytest.raises(OSError, match="t10k-labels-idx1-ubyte.gz.*404"):
        data.load_fashion_mnist(base_url=url)


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_sha256_constants_are_those_of_the_files_with_the_published_md5s():
    """Rebuild the official gzip headers around Debian's deflate streams (see bnlib.data)."""
    published_md5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                     "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                     "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                     "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    for name, md5 in published_md5.items():
        deb = (DEBIAN / name).read_bytes()
        assert deb[:4] == b"\x1f\x8b\x08\x00"         # gzip, deflate, no name field
        mtime = 1504176606 if name.startswith("train") else 1504176627
        official = (b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + deb[8:10]
                    + name[:-3].encode() + b"\0" + deb[10:])
        assert hashlib.md5(official).hexdigest() == md5
        assert hashlib.sha256(official).hexdigest() == data.SHA256[name]


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_data_shapes(monkeypatch):
    data.clear_cache()
    ds = data.load_fashion_mnist(DEBIAN, n_test=100)
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (100, 784)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    data.clear_cache()


def test_uncompressed_files_are_accepted(isolated):
    files = _fake_files(5, 2)
    d = isolated / "plain"
    d.mkdir()
    for name, (blob, _) in files.items():
        (d / name[:-3]).write_bytes(gzip.decompress(blob))
    ds = data.load_fashion_mnist(d, download=False)
    assert ds.x_train.shape == (5, 784) and ds.classes[9] == "Ankle boot"
