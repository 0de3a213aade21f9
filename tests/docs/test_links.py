"""Every relative link in README.md and docs/*.md reaches a file, and its #anchor a heading there.

Pages move (docs/benchmarks.md became a generated report, its prose went elsewhere); this
keeps the links that pointed at them working. Anchors follow GitHub's rule: the heading in
lower case, punctuation other than ``-`` and ``_`` dropped, spaces turned into ``-``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\((?P<target>[^)\s]+?)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set:
    """The GitHub anchors of ``page``'s headings."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def relative_links(page: Path) -> list:
    """``(path, anchor)`` of each link outside code blocks that is neither a URL nor a mail address."""
    targets = [m["target"] for m in LINK.finditer(FENCE.sub("", page.read_text()))]
    return [tuple(t.split("#", 1)) if "#" in t else (t, "") for t in targets if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_and_anchors_resolve(page):
    for path, anchor in relative_links(page):
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: link to {path} reaches no file"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page.name}: no heading for #{anchor} in {target.name}"
