"""Synthetic digit-like images for engine tests (no MNIST needed)."""

import numpy as np


def synthetic_digits(n: int) -> np.ndarray:
    """(n, 784) blob-like synthetic digits, 0..255: bright strokes on a dark background (seed 3)."""
    rng = np.random.default_rng(3)
    img = np.zeros((n, 28, 28))
    for k in range(n):
        r, c = rng.integers(6, 18, 2)
        img[k, r:r + 10, c:c + 3] = 255
        img[k, r + rng.integers(0, 8), c:c + 8] = 255
    return img.reshape(n, 784)
