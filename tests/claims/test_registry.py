"""Every bold figure in README.md's Results section has a claims test or a named benchmark (default suite)."""

import re
from pathlib import Path

from .registry import CLAIMS, HEADINGS

README = Path(__file__).resolve().parents[2] / "README.md"


def _results_bold() -> list[str]:
    text = README.read_text()
    a = text.index("## Results")
    b = text.index("\n## ", a + 5)
    return [" ".join(x.split()) for x in re.findall(r"\*\*([^*]+)\*\*", text[a:b]) if re.search(r"\d", x)]


def test_every_bold_figure_is_checked_or_names_its_benchmark():
    missing = [f for f in _results_bold() if f not in HEADINGS and not any(k in f for k in CLAIMS)]
    assert not missing, f"README figures with no claims test or benchmark in tests/claims/registry.py: {missing}"


def test_every_named_claims_test_exists():
    from . import test_claims

    for where in CLAIMS.values():
        if where.startswith("test:test_"):
            assert hasattr(test_claims, where[5:]), where
