"""Fashion-MNIST :cite:p:`xiao2017fashion`: find it, or download and verify it, and load it.

The four files are looked for, in order, in

1. the ``path`` argument (if given, it must hold them);
2. the directory named by ``$BNLIB_DATA``;
3. the user cache, ``$XDG_CACHE_HOME/bnlib/fashion-mnist`` (default ``~/.cache/...``);
4. ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).

Failing that, the four official ``.gz`` files are downloaded from ``base_url``
(argument, else ``$BNLIB_DATA_URL``, else the official mirror) into the user
cache. Each download is hashed while it streams into a temporary file and is
moved into place (``os.replace``) only if its SHA-256 matches ``SHA256``; a
corrupted or truncated download raises an error and leaves nothing behind.

Images come back as float32 (N, 784) in [0, 1], labels as int64 (N,).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FashionMNIST", "load_fashion_mnist", "find_fashion_mnist", "download_fashion_mnist",
           "cache_dir", "clear_cache", "FILES", "SHA256", "CLASSES", "DEFAULT_URL", "SYSTEM_DIRS"]

FILES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}

# SHA-256 of the official files. The project publishes only MD5s, and Debian's copies do
# not match them: Debian re-wrote the gzip headers (name dropped, time changed) around the
# same deflate streams. Putting back the name and the original time (1504176606 for the
# train files, 1504176627 for the t10k files) rebuilds files whose MD5s equal the published
# ones; these are their SHA-256s. tests/test_data.py repeats that reconstruction.
SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)

_MEMORY: dict = {}    # resolved directory -> (x_train, y_train, x_test, y_test)


@dataclass(frozen=True)
class FashionMNIST:
    """The data set: ``x_*`` float32 (N, 784) in [0, 1], ``y_*`` int64 (N,); read-only arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str                     # the directory the files were read from
    classes: tuple = CLASSES


def cache_dir() -> Path:
    """The user cache directory: ``$XDG_CACHE_HOME`` (or ``~/.cache``) + ``bnlib/fashion-mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bnlib" / "fashion-mnist"


def _has_files(d: Path) -> bool:
    return all((d / f).is_file() or (d / f[:-3]).is_file() for f in FILES.values())


def find_fashion_mnist(path=None) -> Path | None:
    """The first directory in the search order that holds all four files, or None.

    An explicit ``path`` that lacks any of the files is an error (FileNotFoundError).
    """
    if path is not None:
        d = Path(path).expanduser()
        missing = [f for f in FILES.values() if not ((d / f).is_file() or (d / f[:-3]).is_file())]
        if missing:
            raise FileNotFoundError(f"path={str(d)!r} does not hold the Fashion-MNIST files; "
                                    f"missing: {', '.join(missing)}")
        return d
    candidates = []
    if os.environ.get("BNLIB_DATA"):
        candidates.append(Path(os.environ["BNLIB_DATA"]).expanduser())
    candidates.append(cache_dir())
    candidates.extend(Path(p) for p in SYSTEM_DIRS)
    return next((d for d in candidates if _has_files(d)), None)


def _fetch_one(url: str, dest: Path, expected: str, timeout: float) -> None:
    """Stream ``url`` into a temporary file next to ``dest``; keep it only if its hash matches."""
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        h, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        actual = h.hexdigest()
        if actual != expected:
            raise ValueError(f"{dest.name}: SHA-256 mismatch, the download from {url} is corrupted "
                             f"or truncated ({size} bytes) and was not saved; expected {expected}, "
                             f"got {actual}")
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise OSError(f"could not download {dest.name} from {url}: {err}") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def download_fashion_mnist(base_url: str | None = None, directory=None, timeout: float = 60.0) -> Path:
    """Download the four official files into ``directory`` (default: the user cache).

    ``base_url``: argument, else ``$BNLIB_DATA_URL``, else ``DEFAULT_URL``.
    Files already present with the right hash are not fetched again.
    """
    base = base_url or os.environ.get("BNLIB_DATA_URL") or DEFAULT_URL
    base = base if base.endswith("/") else base + "/"
    d = Path(directory) if directory is not None else cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        dest = d / name
        if dest.is_file() and _sha256(dest) == SHA256[name]:
            continue
        _fetch_one(base + name, dest, SHA256[name], timeout)
    return d


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _read_idx(d: Path, name: str, kind: str) -> np.ndarray:
    """Parse one IDX file (gzipped or not): magic, sizes, then uint8 data."""
    p = d / name if (d / name).is_file() else d / name[:-3]
    raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:4] != bytes([0, 0, 8, ndim]):
        raise ValueError(f"{p} is not an IDX {kind} file (bad magic number {raw[:4].hex()})")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise ValueError(f"{p} is truncated or padded: header says {dims}, "
                         f"file holds {len(raw) - header} values")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if kind == "labels":
        return data.astype(np.int64)
    x = data.reshape(dims[0], dims[1] * dims[2]).astype(np.float32)
    x *= np.float32(1 / 255)
    return x


def _load_dir(d: Path):
    key = str(d.resolve())
    if key not in _MEMORY:
        arrays = (_read_idx(d, FILES["train_images"], "images"), _read_idx(d, FILES["train_labels"], "labels"),
                  _read_idx(d, FILES["test_images"], "images"), _read_idx(d, FILES["test_labels"], "labels"))
        for (x, y), split in ((arrays[:2], "train"), (arrays[2:], "test")):
            if len(x) != len(y):
                raise ValueError(f"{split} images ({len(x)}) and labels ({len(y)}) differ in number")
        for a in arrays:
            a.flags.writeable = False       # shared by every caller: nobody may change it
        _MEMORY[key] = arrays
    return _MEMORY[key]


def clear_cache() -> None:
    """Forget the arrays kept in memory (the next load parses the files again)."""
    _MEMORY.clear()


def _check_n(n, total, name):
    if n is None:
        return total
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= total:
        raise ValueError(f"{name} must be an int in [1, {total}] or None; got {n!r}")
    return int(n)


def load_fashion_mnist(path=None, *, download: bool = True, base_url: str | None = None,
                       n_train: int | None = None, n_test: int | None = None) -> FashionMNIST:
    """Load Fashion-MNIST, searching (and if allowed downloading) as described in the module.

    ``n_train`` / ``n_test``: keep only the first n examples of each split (the
    files are already shuffled; the subsets are views, no copy). Loading the
    same directory twice in one process parses it once.
    """
    d = find_fashion_mnist(path)
    if d is None:
        searched = ([os.environ["BNLIB_DATA"] + " ($BNLIB_DATA)"] if os.environ.get("BNLIB_DATA") else [])
        searched += [str(cache_dir()) + " (user cache)"] + list(SYSTEM_DIRS)
        if not download:
            raise FileNotFoundError(
                "Fashion-MNIST not found and download=False. Searched: " + "; ".join(searched)
                + ". Install it (apt-get install dataset-fashion-mnist), set $BNLIB_DATA to a "
                "directory holding the four .gz files, or allow download=True.")
        d = download_fashion_mnist(base_url)
    x_tr, y_tr, x_te, y_te = _load_dir(d)
    a, b = _check_n(n_train, len(x_tr), "n_train"), _check_n(n_test, len(x_te), "n_test")
    return FashionMNIST(x_tr[:a], y_tr[:a], x_te[:b], y_te[:b], str(d))
