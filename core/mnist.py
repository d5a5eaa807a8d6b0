"""MNIST and Fashion-MNIST: reader for the standard IDX files, lookup order, embedded subset and checksummed download.

Lookup order of MNIST (first that holds the split's two files wins):

1. ``data_dir`` given by the caller (``--data-dir``): must hold them, else an error names the folder;
2. ``$SPINSYN_MNIST_DIR``: likewise;
3. the user cache ``~/.cache/spinsyn/mnist`` (``$XDG_CACHE_HOME`` honoured), filled by
   ``spinsyn data mnist --download``;
4. the embedded default shipped in the package: the first 2,000 training and first 1,000 test images.

Files are the standard ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzip-compressed (``.gz``) or raw.
Checksums are sha256 of the *decompressed* IDX bytes, so a mirror that recompresses still verifies.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; ``dataset="fashion-mnist"``, ``--dataset
fashion-mnist``) is a drop-in replacement with the same four file names, IDX format and shapes (60,000 + 10,000
images of 28x28, labels 0..9), read by the same reader. Its lookup order is the same with its own names:
``data_dir``, ``$SPINSYN_FASHION_MNIST_DIR``, the user cache ``~/.cache/spinsyn/fashion-mnist`` (filled by
``spinsyn data fashion-mnist --download``); there is no embedded subset. Its download is verified against the
MD5 of the ``.gz`` files as the dataset's authors publish them (:data:`FASHION_MD5`): see
:func:`download_fashion_mnist`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fileio import SpinsynFileError, atomic_path, user_cache_dir

ENV_VAR = "SPINSYN_MNIST_DIR"

FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: sha256 of the decompressed IDX files of the full, standard MNIST set.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors of the gzip files (tried in order).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

EMBEDDED_DIR = Path(__file__).parent / "data" / "mnist"
_EXPECTED = {"images": (0x0803, 3), "labels": (0x0801, 1)}

#: ``$SPINSYN_FASHION_MNIST_DIR``: a folder holding Fashion-MNIST (second in its lookup order)
FASHION_ENV_VAR = "SPINSYN_FASHION_MNIST_DIR"

#: MD5 of the four Fashion-MNIST ``.gz`` files as published in the "Get the Data" table of the dataset's README,
#: github.com/zalandoresearch/fashion-mnist/blob/02cf0676df9403f820db28474248ba7d7d1060bb/README.md (the only
#: checksums its authors publish; the same values are in torchvision.datasets.FashionMNIST)
FASHION_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}

#: The download location the same README links every file to (its only mirror; plain HTTP, the S3 website
#: endpoint serves no HTTPS: the MD5 check is what guards the files)
FASHION_MIRRORS: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset in MNIST's IDX layout: ``name`` (the ``--dataset`` value and cache folder), ``title`` (in
    messages), ``env_var`` (second in the lookup order), ``embedded`` (the subset shipped in the package, or None),
    ``download`` (the ``spinsyn data`` command that fetches it)."""

    name: str
    title: str
    env_var: str
    embedded: Path | None


#: the datasets ``--dataset`` names (spinsyn.options.DATASET_NAMES lists the same keys, without importing numpy)
DATASETS: Mapping[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", ENV_VAR, EMBEDDED_DIR),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST", FASHION_ENV_VAR, None),
}


def dataset_spec(dataset: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``dataset`` (``"mnist"`` or ``"fashion-mnist"``); ValueError naming
    ``--dataset`` otherwise."""
    if dataset not in DATASETS:
        raise ValueError(f"--dataset: got {dataset!r}, expected one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def cache_dir(dataset: str = "mnist") -> Path:
    """The user cache folder of ``dataset`` (``$XDG_CACHE_HOME/spinsyn/<dataset>`` or
    ``~/.cache/spinsyn/<dataset>``: ``mnist``, ``fashion-mnist``)."""
    return user_cache_dir(dataset_spec(dataset).name)


def _raw_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SpinsynFileError(f"{path}: cannot read ({exc}); the file is corrupt or truncated") from None


def read_idx(path: str | os.PathLike, kind: str | None = None) -> np.ndarray:
    """Read one IDX file (gz or raw) into a uint8 array; validate magic number, shape and length.

    ``kind`` = ``"images"`` expects magic 0x00000803 and shape (n, rows, cols); ``"labels"`` 0x00000801
    and (n,). Raises :class:`SpinsynFileError` naming the file otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    data = _raw_bytes(path)
    if len(data) < 8:
        raise SpinsynFileError(f"{path}: too short ({len(data)} bytes) for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08:
        raise SpinsynFileError(
            f"{path}: bad IDX magic number 0x{magic:08x}; expected 0x00000801 (labels) or 0x00000803 "
            "(images) of unsigned bytes"
        )
    ndim = magic & 0xFF
    if kind is not None:
        want_magic, want_ndim = _EXPECTED[kind]
        if magic != want_magic:
            raise SpinsynFileError(
                f"{path}: magic number 0x{magic:08x} is not that of MNIST {kind} (0x{want_magic:08x})"
            )
        ndim = want_ndim
    header = 4 + 4 * ndim
    if len(data) < header:
        raise SpinsynFileError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims)) if dims else 0
    body = len(data) - header
    if body != expected:
        raise SpinsynFileError(
            f"{path}: holds {body} data bytes but its header {dims} needs {expected}; the file is truncated "
            "or corrupt"
        )
    if kind == "images" and dims[1:] != (28, 28):
        raise SpinsynFileError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def split_files(folder: str | os.PathLike, split: str) -> tuple[Path, Path] | None:
    """(images, labels) paths of ``split`` in ``folder``, or None when either is missing."""
    folder = Path(folder)
    img, lab = (_find(folder, stem) for stem in FILES[_check_split(split)])
    return (img, lab) if img and lab else None


def _check_split(split: str) -> str:
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


@dataclass(frozen=True)
class MnistSource:
    """Where MNIST (or Fashion-MNIST) is read from: ``folder`` and ``origin`` (data-dir, env, cache or embedded)."""

    folder: Path
    origin: str


def resolve_mnist_dir(
    data_dir: str | os.PathLike | None = None, split: str = "train", dataset: str = "mnist"
) -> MnistSource:
    """Folder ``dataset``'s ``split`` will be read from, following the lookup order in the module docstring."""
    _check_split(split)
    spec = dataset_spec(dataset)
    if data_dir is not None:
        folder = Path(data_dir)
        if not split_files(folder, split):
            raise SpinsynFileError(
                f"--data-dir {folder}: no {spec.title} {split} files there (expected {FILES[split][0]}[.gz] and "
                f"{FILES[split][1]}[.gz])"
            )
        return MnistSource(folder, "data-dir")
    env = os.environ.get(spec.env_var)
    if env:
        folder = Path(env)
        if not split_files(folder, split):
            raise SpinsynFileError(
                f"${spec.env_var}={folder}: no {spec.title} {split} files there (expected {FILES[split][0]}[.gz] "
                f"and {FILES[split][1]}[.gz])"
            )
        return MnistSource(folder, "env")
    if split_files(cache_dir(dataset), split):
        return MnistSource(cache_dir(dataset), "cache")
    if spec.embedded is None:
        raise SpinsynFileError(
            f"--dataset: no {spec.title} found: not in the cache {cache_dir(dataset)} ({spec.title} has no embedded "
            f"subset); pass --data-dir or set ${spec.env_var} to a folder holding it, or run spinsyn data "
            f"{spec.name} --download"
        )
    if split_files(spec.embedded, split):
        return MnistSource(spec.embedded, "embedded")
    raise SpinsynFileError(
        f"no MNIST found: pass --data-dir, set ${ENV_VAR}, or run `spinsyn data mnist --download` "
        f"(the embedded subset at {EMBEDDED_DIR} is missing from this installation)"
    )


def load_mnist(
    split: str, data_dir: str | os.PathLike | None = None, n: int | None = None, dataset: str = "mnist"
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``dataset``'s ``split`` (``"mnist"``, ``"fashion-mnist"``): images uint8 (n, 28, 28) and labels uint8
    (n,), the first ``n`` in file order."""
    src = resolve_mnist_dir(data_dir, split, dataset)
    img_path, lab_path = split_files(src.folder, split)  # type: ignore[misc]
    images = read_idx(img_path, "images")
    labels = read_idx(lab_path, "labels")
    if len(images) != len(labels):
        raise SpinsynFileError(f"{img_path}: {len(images)} images but {lab_path} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise SpinsynFileError(f"{lab_path}: label {int(labels.max())} outside 0..9")
    if n is not None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n > len(images):
            raise ValueError(
                f"asked for {n} {split} images but {src.folder} ({src.origin}) holds only {len(images)}; "
                f"pass --data-dir with the full {dataset_spec(dataset).title} set or download it"
            )
        images, labels = images[:n], labels[:n]
    return images, labels


def download_mnist(
    dest: str | os.PathLike | None = None,
    mirrors: tuple[str, ...] = MIRRORS,
    checksums: dict[str, str] = SHA256,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download the four MNIST gz files into ``dest`` (default: the user cache), verifying sha256.

    Each file is tried on every mirror in turn; a file whose decompressed sha256 differs from
    ``checksums`` is rejected (and never left in ``dest``). Files already present and valid are skipped.
    Raises :class:`SpinsynFileError` when a file cannot be had from any mirror.
    """
    return _download(Path(dest) if dest is not None else cache_dir(), mirrors, checksums, "sha256", _sha256_raw,
                     timeout_s, progress)


def download_fashion_mnist(
    dest: str | os.PathLike | None = None,
    mirrors: tuple[str, ...] = FASHION_MIRRORS,
    checksums: dict[str, str] = FASHION_MD5,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download the four Fashion-MNIST gz files into ``dest`` (default: its user cache,
    ``~/.cache/spinsyn/fashion-mnist``), verifying each against :data:`FASHION_MD5`.

    Unlike MNIST (sha256 of the decompressed bytes, computed here from the full set), the check is the MD5 of the
    ``.gz`` file as downloaded, because that is the checksum the dataset's authors publish (README of
    zalandoresearch/fashion-mnist): it verifies the files against their source rather than against a value of our
    own, at the price that a mirror serving the same data recompressed would be refused (the README names one
    location only). MD5 is enough to catch a truncated or corrupted transfer, not a deliberate collision.
    A file that fails is never left in ``dest``; files already present and valid are skipped. Raises
    :class:`SpinsynFileError` naming the file when it cannot be had from any mirror.
    """
    return _download(Path(dest) if dest is not None else cache_dir("fashion-mnist"), mirrors, checksums, "md5",
                     _md5_gz, timeout_s, progress)


def _download(dest: Path, mirrors: tuple[str, ...], checksums: dict[str, str], algo: str,
              digest: Callable[[Path], str], timeout_s: float, progress: bool) -> Path:
    """Fetch each of the four gz files into ``dest`` from the first mirror whose copy has ``digest`` = its entry
    of ``checksums`` (``algo`` names the digest in messages); a copy that fails is removed (atomic write)."""
    dest.mkdir(parents=True, exist_ok=True)
    for stem in [s for pair in FILES.values() for s in pair]:
        target = dest / (stem + ".gz")
        if target.is_file() and digest(target) == checksums[stem]:
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + stem + ".gz"
            try:
                with atomic_path(target) as tmp:
                    _fetch(url, tmp, timeout_s, progress)
                    got = digest(tmp)
                    if got != checksums[stem]:
                        raise _ChecksumError(f"{url}: {algo} {got} != expected {checksums[stem]}")
                break
            except (_ChecksumError, urllib.error.URLError, OSError, SpinsynFileError) as exc:
                errors.append(f"{url}: {exc}")
        else:
            raise SpinsynFileError(f"could not download {stem}.gz from any mirror:\n  " + "\n  ".join(errors))
    return dest


class _ChecksumError(Exception):
    pass


def _fetch(url: str, out: Path, timeout_s: float, progress: bool) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "spinsyn"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp, open(out, "wb") as fh:
        total = int(resp.headers.get("Content-Length") or 0)
        bar = None
        if progress:
            from tqdm import tqdm  # lazy: startup

            bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False)
        while True:
            block = resp.read(1 << 16)
            if not block:
                break
            fh.write(block)
            if bar is not None:
                bar.update(len(block))
        if bar is not None:
            bar.close()


def _sha256_raw(path: Path) -> str:
    return hashlib.sha256(_raw_bytes(path)).hexdigest()


def _md5_gz(path: Path) -> str:
    """MD5 of the file's bytes as stored (the ``.gz`` itself, as Fashion-MNIST publishes it)."""
    try:
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    except OSError as exc:
        raise SpinsynFileError(f"{path}: cannot read ({exc})") from None


def write_idx_gz(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as a gzip IDX file (atomically). Used to build the embedded subset and tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (0x08 << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with atomic_path(path) as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as fh:
            fh.write(header + array.tobytes())
    return Path(path)
