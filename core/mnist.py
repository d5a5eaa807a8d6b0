"""MNIST: reader for the standard IDX files, lookup order, embedded subset and checksummed download.

Lookup order (first that holds the split's two files wins):

1. ``data_dir`` given by the caller (``--data-dir``): must hold them, else an error names the folder;
2. ``$SPINSYN_MNIST_DIR``: likewise;
3. the user cache ``~/.cache/spinsyn/mnist`` (``$XDG_CACHE_HOME`` honoured), filled by
   ``spinsyn data mnist --download``;
4. the embedded default shipped in the package: the first 2,000 training and first 1,000 test images.

Files are the standard ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzip-compressed (``.gz``) or raw.
Checksums are sha256 of the *decompressed* IDX bytes, so a mirror that recompresses still verifies.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
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


def cache_dir() -> Path:
    """The user cache folder for MNIST (``$XDG_CACHE_HOME/spinsyn/mnist`` or ``~/.cache/spinsyn/mnist``)."""
    return user_cache_dir("mnist")


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
    """Where MNIST is read from: ``folder`` and ``origin`` (data-dir, env, cache or embedded)."""

    folder: Path
    origin: str


def resolve_mnist_dir(data_dir: str | os.PathLike | None = None, split: str = "train") -> MnistSource:
    """Folder MNIST's ``split`` will be read from, following the lookup order in the module docstring."""
    _check_split(split)
    if data_dir is not None:
        folder = Path(data_dir)
        if not split_files(folder, split):
            raise SpinsynFileError(
                f"--data-dir {folder}: no MNIST {split} files there (expected {FILES[split][0]}[.gz] and "
                f"{FILES[split][1]}[.gz])"
            )
        return MnistSource(folder, "data-dir")
    env = os.environ.get(ENV_VAR)
    if env:
        folder = Path(env)
        if not split_files(folder, split):
            raise SpinsynFileError(
                f"${ENV_VAR}={folder}: no MNIST {split} files there (expected {FILES[split][0]}[.gz] and "
                f"{FILES[split][1]}[.gz])"
            )
        return MnistSource(folder, "env")
    if split_files(cache_dir(), split):
        return MnistSource(cache_dir(), "cache")
    if split_files(EMBEDDED_DIR, split):
        return MnistSource(EMBEDDED_DIR, "embedded")
    raise SpinsynFileError(
        f"no MNIST found: pass --data-dir, set ${ENV_VAR}, or run `spinsyn data mnist --download` "
        f"(the embedded subset at {EMBEDDED_DIR} is missing from this installation)"
    )


def load_mnist(
    split: str, data_dir: str | os.PathLike | None = None, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST ``split``: images uint8 (n, 28, 28) and labels uint8 (n,), the first ``n`` in file order."""
    src = resolve_mnist_dir(data_dir, split)
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
                "pass --data-dir with the full MNIST set or download it"
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
    dest = Path(dest) if dest is not None else cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for stem in [s for pair in FILES.values() for s in pair]:
        target = dest / (stem + ".gz")
        if target.is_file() and _sha256_raw(target) == checksums[stem]:
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + stem + ".gz"
            try:
                with atomic_path(target) as tmp:
                    _fetch(url, tmp, timeout_s, progress)
                    got = _sha256_raw(tmp)
                    if got != checksums[stem]:
                        raise _ChecksumError(f"{url}: sha256 {got} != expected {checksums[stem]}")
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


def write_idx_gz(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as a gzip IDX file (atomically). Used to build the embedded subset and tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (0x08 << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with atomic_path(path) as tmp:
        with gzip.GzipFile(tmp, "wb", mtime=0) as fh:
            fh.write(header + array.tobytes())
    return Path(path)
