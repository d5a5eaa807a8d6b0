"""README.md is a front page (issue 24): short, states the two commands exactly, and every link in it and in the
docs it points to resolves (file and heading anchor). Default suite, well under a second."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

#: the two commands as the README states them (issue 24: "README.md <= ~150 lines and still states the two commands
#: exactly"); .ci/run runs the second.
DEMO = ("./scripts/demo     # the whole pipeline on the embedded default: "
        "SPICE sweep -> fit -> train -> export -> verify -> simulate -> report.html")
TEST = ("./scripts/test     # ruff, lint-imports (layers), mypy, then the test suite "
        "(what CI runs: .ci/run calls exactly this)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """Heading slugs and explicit ``<a id>`` anchors of one Markdown file (code blocks skipped)."""
    out: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            out.add(_slug(line.lstrip("#")))
        out.update(re.findall(r'<a id="([^"]+)"', line))
    return out


def test_readme_is_a_front_page_with_the_two_commands():
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= 150, len(lines)
    assert DEMO in lines, "README no longer states ./scripts/demo as it was"
    assert TEST in lines, "README no longer states ./scripts/test as it was"
    for script in ("scripts/demo", "scripts/test", ".ci/run"):
        assert os.access(ROOT / script, os.X_OK), script
    assert "scripts/test" in (ROOT / ".ci/run").read_text()
    for doc in ("devices", "fitting", "snn", "hw_export", "study", "CONTRACTS", "results", "cli"):
        assert f"](docs/{doc}.md" in text, f"the front page does not link docs/{doc}.md"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path):
    """Every relative link (file, and its #anchor for Markdown targets) exists; a moved section breaks this."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file) if file else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"
