"""Suite-wide: slow tests run only when selected (``-m slow``), claims tests only with ``-m claims`` (or
``-m slow`` for the quick ones, which carry both marks); GPU tests only where CUDA is present."""

import pytest


def pytest_collection_modifyitems(config, items):
    marks = config.getoption("-m") or ""
    wants_slow = "slow" in marks or "claims" in marks
    wants_claims = "claims" in marks
    skip_slow = pytest.mark.skip(reason="slow: run with -m slow")
    skip_claims = pytest.mark.skip(reason="a docs/results.md claim: run with -m claims")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "slow" in item.keywords and not wants_slow:
            item.add_marker(skip_slow)
        claims, slow = item.get_closest_marker("claims"), item.get_closest_marker("slow")
        if claims is not None and slow is None and not wants_claims:
            item.add_marker(skip_claims)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
