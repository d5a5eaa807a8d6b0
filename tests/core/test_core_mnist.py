"""MNIST: IDX reader validation, lookup order, embedded subset and the checksummed download path."""

import gzip
import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest
from spinsyn import mnist
from spinsyn.fileio import SpinsynFileError


def _make_set(folder, n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        img, lab = mnist.FILES[split]
        mnist.write_idx_gz(folder / f"{img}.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        mnist.write_idx_gz(folder / f"{lab}.gz", rng.integers(0, 10, n, dtype=np.uint8))
    return folder


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def test_read_good_file_gz_and_raw(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    p = mnist.write_idx_gz(tmp_path / "x-images.gz", arr)
    np.testing.assert_array_equal(mnist.read_idx(p, "images"), arr)
    raw = tmp_path / "x-images"
    raw.write_bytes(gzip.decompress(p.read_bytes()))
    np.testing.assert_array_equal(mnist.read_idx(raw, "images"), arr)


def test_wrong_magic_names_file(tmp_path):
    p = mnist.write_idx_gz(tmp_path / "labels.gz", np.zeros(4, np.uint8))
    with pytest.raises(SpinsynFileError, match=r"labels.gz: magic number 0x00000801 is not that of MNIST images"):
        mnist.read_idx(p, "images")
    bad = tmp_path / "junk"
    bad.write_bytes(b"\x12\x34\x56\x78" + b"\0" * 20)
    with pytest.raises(SpinsynFileError, match="junk: bad IDX magic number"):
        mnist.read_idx(bad)


def test_truncated_file_names_file(tmp_path):
    arr = np.zeros((3, 28, 28), np.uint8)
    raw = tmp_path / "t-images"
    full = gzip.decompress(mnist.write_idx_gz(tmp_path / "t.gz", arr).read_bytes())
    raw.write_bytes(full[:-100])
    with pytest.raises(SpinsynFileError, match="t-images: .*truncated"):
        mnist.read_idx(raw, "images")
    gz = tmp_path / "cut.gz"
    gz.write_bytes((tmp_path / "t.gz").read_bytes()[:-30])
    with pytest.raises(SpinsynFileError, match="cut.gz"):
        mnist.read_idx(gz, "images")


def test_embedded_subset_is_the_fallback():
    src = mnist.resolve_mnist_dir(None, "train")
    assert src.origin == "embedded"
    x, y = mnist.load_mnist("train")
    assert x.shape == (2000, 28, 28) and y.shape == (2000,)
    xt, yt = mnist.load_mnist("test", n=10)
    assert xt.shape == (10, 28, 28) and set(np.unique(yt)) <= set(range(10))
    with pytest.raises(ValueError, match="holds only 1000"):
        mnist.load_mnist("test", n=5000)


def test_lookup_order(tmp_path, monkeypatch):
    cache = _make_set(mnist.cache_dir(), n_train=7)
    assert mnist.resolve_mnist_dir().origin == "cache"
    assert len(mnist.load_mnist("train")[0]) == 7
    env = _make_set(tmp_path / "env", n_train=6)
    monkeypatch.setenv(mnist.ENV_VAR, str(env))
    assert mnist.resolve_mnist_dir().origin == "env"
    assert len(mnist.load_mnist("train")[0]) == 6
    given = _make_set(tmp_path / "given", n_train=4)
    assert mnist.resolve_mnist_dir(given).origin == "data-dir"
    assert len(mnist.load_mnist("train", given)[0]) == 4
    assert cache.exists()


def test_data_dir_without_mnist_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(SpinsynFileError, match="--data-dir .*empty: no MNIST train files"):
        mnist.load_mnist("train", tmp_path / "empty")
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(SpinsynFileError, match="SPINSYN_MNIST_DIR"):
        mnist.load_mnist("train")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _sums(folder):
    return {
        stem: hashlib.sha256(gzip.decompress((folder / f"{stem}.gz").read_bytes())).hexdigest()
        for pair in mnist.FILES.values()
        for stem in pair
    }


def test_download_from_local_server_verifies_and_caches(server, tmp_path):
    root, url = server
    _make_set(root / "mirror2", n_train=9)
    sums = _sums(root / "mirror2")
    dest = tmp_path / "cache"
    # first mirror is missing (404), second serves the files
    mnist.download_mnist(dest, mirrors=(url + "nothing-here/", url + "mirror2/"), checksums=sums, progress=False)
    x, y = mnist.load_mnist("train", dest)
    assert x.shape == (9, 28, 28)
    # a second call finds valid files and downloads nothing (the server is not even needed)
    mnist.download_mnist(dest, mirrors=("http://127.0.0.1:9/",), checksums=sums, progress=False)


def test_download_checksum_mismatch_is_rejected(server, tmp_path):
    root, url = server
    _make_set(root / "m", n_train=9)
    sums = _sums(root / "m")
    sums["train-images-idx3-ubyte"] = "0" * 64
    dest = tmp_path / "cache"
    with pytest.raises(SpinsynFileError, match="train-images-idx3-ubyte.gz.*sha256"):
        mnist.download_mnist(dest, mirrors=(url + "m/",), checksums=sums, progress=False)
    assert not (dest / "train-images-idx3-ubyte.gz").exists()
    assert not any(p.name.startswith(".") for p in dest.iterdir())  # no temporaries left


def test_known_checksums_match_the_shared_full_set():
    import os
    from pathlib import Path

    shared = Path(os.environ.get("SPINSYN_MNIST_DIR", Path(__file__).parents[3] / "shared/data/mnist"))
    if not mnist.split_files(shared, "test"):
        pytest.skip("full MNIST not present beside the repository")
    got = {stem: hashlib.sha256(gzip.decompress((shared / f"{stem}.gz").read_bytes())).hexdigest()
           for stem in mnist.FILES["test"]}
    assert got == {k: mnist.SHA256[k] for k in got}
