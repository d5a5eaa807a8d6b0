"""Every bold figure of the results (docs/results.md, and the results table on README.md's front page) has a claims
test or a named benchmark (default suite)."""

import re
from pathlib import Path

from .registry import CLAIMS, HEADINGS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results.md"


def _bold_figures(text: str) -> list[str]:
    """Bold fragments that contain a digit, whitespace collapsed."""
    return [" ".join(x.split()) for x in re.findall(r"\*\*([^*]+)\*\*", text) if re.search(r"\d", x)]


def _results_bold() -> list[str]:
    """Bold figures of docs/results.md (whole file) and of README.md's "## Results" section."""
    text = README.read_text()
    a = text.index("## Results")
    b = text.find("\n## ", a + 5)
    return _bold_figures(RESULTS.read_text()) + _bold_figures(text[a:] if b < 0 else text[a:b])


def _missing(figures: list[str]) -> list[str]:
    return [f for f in figures if f not in HEADINGS and not any(k in f for k in CLAIMS)]


def test_every_bold_figure_is_checked_or_names_its_benchmark():
    figures = _results_bold()
    missing = _missing(figures)
    assert not missing, f"result figures with no claims test or benchmark in tests/claims/registry.py: {missing}"


def test_every_registered_figure_is_still_stated():
    """No stale entry: each registered fragment is a bold figure of docs/results.md or the README's table."""
    figures = _results_bold()
    stale = [k for k in CLAIMS if not any(k in f for f in figures)]
    assert not stale, f"tests/claims/registry.py entries no result states in bold: {stale}"


def test_a_new_unregistered_bold_figure_is_caught():
    """The check itself: a bold figure nobody registered is reported, a registered one is not."""
    assert _missing(_bold_figures("speed **123.4×** and retention **4.05 s**")) == ["123.4×"]


def test_every_named_claims_test_exists():
    from . import test_claims

    for where in CLAIMS.values():
        if where.startswith("test:test_"):
            assert hasattr(test_claims, where[5:]), where
