"""Fashion-MNIST (issue 27): the IDX reader and lookup order under its own names, the MD5-checked download (the
fetch is served from local files: no internet), ``--dataset`` on train / eval, and the missing-data error. Every
set here is a tiny synthetic one laid out as Fashion-MNIST; the real files are not reachable from the test machines."""

import hashlib
import inspect
import json

import numpy as np
import pytest
from spinsyn import mnist
from spinsyn.cli import main
from spinsyn.fileio import SpinsynFileError

STEMS = [s for pair in mnist.FILES.values() for s in pair]
MISSING = "spinsyn: error: --dataset: no Fashion-MNIST found: "


def _make_set(folder, n_train=20, n_test=10, seed=7):
    """Four gz IDX files named as Fashion-MNIST's in ``folder``; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        img, lab = mnist.FILES[split]
        out[split] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8))
        mnist.write_idx_gz(folder / f"{img}.gz", out[split][0])
        mnist.write_idx_gz(folder / f"{lab}.gz", out[split][1])
    return out


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.delenv(mnist.FASHION_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def test_reader_finds_the_set_via_data_dir_env_and_its_own_cache(tmp_path, monkeypatch):
    data = _make_set(tmp_path / "fm")
    for split in ("train", "test"):
        X, y = mnist.load_mnist(split, tmp_path / "fm", dataset="fashion-mnist")
        np.testing.assert_array_equal(X, data[split][0])
        np.testing.assert_array_equal(y, data[split][1])
    assert mnist.resolve_mnist_dir(tmp_path / "fm", "train", "fashion-mnist").origin == "data-dir"
    with pytest.raises(SpinsynFileError, match=r"--data-dir .*empty: no Fashion-MNIST train files there"):
        mnist.load_mnist("train", (tmp_path / "empty").mkdir() or tmp_path / "empty", dataset="fashion-mnist")
    monkeypatch.setenv(mnist.FASHION_ENV_VAR, str(tmp_path / "fm"))
    assert mnist.resolve_mnist_dir(None, "test", "fashion-mnist").origin == "env"
    assert mnist.resolve_mnist_dir(None, "test").origin == "embedded"  # MNIST's lookup does not see it
    monkeypatch.delenv(mnist.FASHION_ENV_VAR)
    cache = mnist.cache_dir("fashion-mnist")
    assert cache != mnist.cache_dir() and cache.name == "fashion-mnist"
    _make_set(cache, seed=8)
    src = mnist.resolve_mnist_dir(None, "train", "fashion-mnist")
    assert (src.folder, src.origin) == (cache, "cache")
    with pytest.raises(ValueError, match="--dataset: got 'cifar'"):
        mnist.load_mnist("test", dataset="cifar")


def test_no_fashion_data_is_one_line_exit_2_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(mnist.ENV_VAR, str(_make_set(tmp_path / "mnist_here") and tmp_path / "mnist_here"))
    _make_set(mnist.cache_dir("mnist"))  # MNIST everywhere: never taken for Fashion-MNIST
    with pytest.raises(SpinsynFileError, match="no Fashion-MNIST found"):
        mnist.load_mnist("train", dataset="fashion-mnist")
    runs = {"dc": ["train", "--dataset", "fashion-mnist", "--neurons", "5", "--n-train", "10", "--n-test", "5",
                   "--device", "cpu", "--quiet", "--out", str(tmp_path / "dc")],
            "conv": ["train", "--network", "conv", "--dataset", "fashion-mnist", "--n-train", "10", "--n-test", "5",
                     "--quiet", "--out", str(tmp_path / "conv")],
            "data": ["data", "fashion-mnist"]}
    for name, argv in runs.items():
        capsys.readouterr()
        assert main(argv) == 2, name
        cap = capsys.readouterr()
        lines = cap.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(MISSING), (name, cap.err)
        assert lines[0].endswith("run spinsyn data fashion-mnist --download")
        assert not (tmp_path / name).exists() and "train:" not in cap.out


def _serve(monkeypatch, folder):
    """Replace the network fetch by a copy from ``folder`` (same file name as the URL's); returns the URLs asked."""
    asked = []

    def fetch(url, out, timeout_s, progress):
        asked.append(url)
        out.write_bytes((folder / url.rsplit("/", 1)[-1]).read_bytes())

    monkeypatch.setattr(mnist, "_fetch", fetch)
    return asked


def _md5s(folder):
    return {s: hashlib.md5((folder / f"{s}.gz").read_bytes()).hexdigest() for s in STEMS}


def test_download_verifies_the_md5_of_each_gz(tmp_path, monkeypatch):
    data = _make_set(tmp_path / "server")
    asked = _serve(monkeypatch, tmp_path / "server")
    good = _md5s(tmp_path / "server")
    dest = mnist.download_fashion_mnist(tmp_path / "dest", checksums=good, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{s}.gz" for s in STEMS)
    assert asked == [mnist.FASHION_MIRRORS[0] + f"{s}.gz" for s in STEMS]
    np.testing.assert_array_equal(mnist.load_mnist("test", dest, dataset="fashion-mnist")[1], data["test"][1])
    asked.clear()
    mnist.download_fashion_mnist(dest, checksums=good, progress=False)
    assert asked == []  # present and valid: not fetched again

    # one corrupted byte in the served train images: refused, naming the file, nothing of it left behind
    blob = bytearray((tmp_path / "server" / "train-images-idx3-ubyte.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / "server" / "train-images-idx3-ubyte.gz").write_bytes(bytes(blob))
    with pytest.raises(SpinsynFileError, match=r"could not download train-images-idx3-ubyte\.gz .*\n.*md5 "):
        mnist.download_fashion_mnist(tmp_path / "dest2", checksums=good, progress=False)
    assert list((tmp_path / "dest2").iterdir()) == []


def test_download_checks_against_the_published_md5(tmp_path, monkeypatch, capsys):
    assert set(mnist.FASHION_MD5) == set(STEMS)
    assert all(len(v) == 32 and int(v, 16) >= 0 for v in mnist.FASHION_MD5.values())
    defaults = inspect.signature(mnist.download_fashion_mnist).parameters
    assert defaults["checksums"].default is mnist.FASHION_MD5 and defaults["mirrors"].default == mnist.FASHION_MIRRORS
    _make_set(tmp_path / "server")  # a synthetic set cannot match the published checksums
    _serve(monkeypatch, tmp_path / "server")
    assert main(["data", "fashion-mnist", "--download", "--dest", str(tmp_path / "dest")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinsyn: error: could not download train-images-idx3-ubyte.gz from any mirror")
    assert f"expected {mnist.FASHION_MD5['train-images-idx3-ubyte']}" in err
    assert list((tmp_path / "dest").iterdir()) == []


def test_data_command_lists_the_set(tmp_path, capsys):
    _make_set(tmp_path / "fm", n_train=12, n_test=4)
    assert main(["data", "fashion-mnist", "--data-dir", str(tmp_path / "fm")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("train: 12 images from") and out[1].startswith("test: 4 images from")


def test_mnist_default_config_is_unchanged_and_dataset_is_checked():
    from spinsyn.snn.config import make_config

    cfg = make_config(synapse="ideal", neurons=5, device="cpu")
    assert cfg.dataset == "mnist" and "dataset" not in cfg.to_json()  # MNIST runs store the same JSON as before
    fm = make_config(synapse="ideal", neurons=5, device="cpu", dataset="fashion-mnist")
    assert fm.extra == {"dataset": "fashion-mnist"} and type(fm).from_json(fm.to_json()).dataset == "fashion-mnist"
    with pytest.raises(ValueError, match="--dataset"):
        make_config(synapse="ideal", neurons=5, device="cpu", dataset="cifar")


def test_train_records_the_dataset_and_eval_defaults_to_it(tmp_path, capsys):
    _make_set(tmp_path / "fm")
    run = tmp_path / "run"
    assert main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "fm"), "--synapse", "ideal",
                 "--neurons", "5", "--n-train", "10", "--n-test", "5", "--n-assign", "10", "--device", "cpu",
                 "--no-plots", "--quiet", "--out", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["dataset"] == "fashion-mnist" and m["config"]["extra"]["dataset"] == "fashion-mnist"
    assert m["n_train"] == 10 and m["n_test"] == 5
    capsys.readouterr()
    assert main(["eval", str(run), "--n-test", "5", "--device", "cpu"]) == 2  # the run's dataset: not MNIST
    assert capsys.readouterr().err.startswith(MISSING)
    assert main(["eval", str(run), "--n-test", "5", "--data-dir", str(tmp_path / "fm"), "--device", "cpu",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dataset"] == "fashion-mnist" and res["n_test"] == 5
    assert main(["eval", str(run), "--n-test", "5", "--dataset", "mnist", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "mnist"  # embedded MNIST subset, on request
    # export simulate tests the chip on the run's dataset too
    assert main(["export", str(run), "--out", str(tmp_path / "chip")]) == 0
    capsys.readouterr()
    assert main(["export", "simulate", str(tmp_path / "chip"), "--n-test", "5"]) == 2
    assert capsys.readouterr().err.startswith(MISSING)
    assert main(["export", "simulate", str(tmp_path / "chip"), "--n-test", "5", "--data-dir", str(tmp_path / "fm"),
                 "--json", str(tmp_path / "sim.json")]) == 0
    assert json.loads((tmp_path / "sim.json").read_text())["n_test"] == 5


def test_conv_run_records_the_dataset_and_eval_defaults_to_it(tmp_path, capsys):
    from spinsyn.snn.conv.run import conv_run_dataset

    _make_set(tmp_path / "fm", n_train=10, n_test=5)
    run = tmp_path / "conv"
    tiny = json.dumps({"f1": 4, "f2": 8, "f3": 10, "kwta2": 2})
    assert main(["train", "--network", "conv", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "fm"),
                 "--n-train", "10", "--n-test", "5", "--conv-epochs", "1,1,1", "--conv-config", tiny, "--quiet",
                 "--out", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["dataset"] == "fashion-mnist"
    assert conv_run_dataset(run) == "fashion-mnist"
    capsys.readouterr()
    assert main(["eval", str(run), "--n-test", "5"]) == 2
    assert capsys.readouterr().err.startswith(MISSING)
    assert main(["eval", str(run), "--n-test", "5", "--data-dir", str(tmp_path / "fm"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "fashion-mnist"
    assert conv_run_dataset(tmp_path) == "mnist"  # no metrics.json (a run from before --dataset): MNIST
