"""The reference describes the tree as it is."""

from __future__ import annotations

import re

from .conftest import REPO

PACKAGE = REPO / "src" / "artifact_removal"
NAME = r"(?<![\w/.-])([A-Za-z0-9_]+\.(?:py|js))(?!\w)"  # a file name, not part of a path


def _layout() -> str:
    """The code block under docs/reference.md's "## Layout"."""
    text = (REPO / "docs" / "reference.md").read_text()
    section = text[text.index("\n## Layout\n") :]
    return section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]


def _parts() -> dict[str, str]:
    """Each package's part of the Layout: "" for the top level (the two-space lines that begin
    with a file name), else from a sub-package's `name/` line to the next two-space line."""
    layout = _layout()
    parts = dict(re.findall(r"(?m)^  ([a-z_]+)/ +(.*(?:\n {3,}.*)*)", layout))
    parts[""] = "\n".join(re.findall(r"(?m)^  [A-Za-z0-9_]+\.py .*", layout))
    return parts


def _modules() -> dict[str, set[str]]:
    """File names of src/artifact_removal by package ("" for the top level)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*"):
        if path.suffix in (".py", ".js") and path.name != "__init__.py":
            package = "" if path.parent == PACKAGE else path.parent.name
            found.setdefault(package, set()).add(path.name)
    return found


def test_the_layout_names_every_module_under_its_package():
    parts = _parts()
    missing = [
        f"{package}/{name}".lstrip("/")
        for package, names in _modules().items()
        for name in names
        if name not in re.findall(NAME, parts.get(package, ""))
    ]
    assert not missing, f"docs/reference.md's Layout does not name {sorted(missing)}"


def test_the_layout_names_no_module_that_is_gone():
    modules = _modules()
    assert set(_parts()) == set(modules), "the Layout's sub-packages are not src's"
    gone = [
        f"{package}/{name}".lstrip("/")
        for package, text in _parts().items()
        for name in re.findall(NAME, text)
        if name not in modules[package]
    ]
    assert not gone, f"docs/reference.md's Layout names modules that are gone: {sorted(gone)}"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_an_entry_point_and_every_link_of_the_docs_holds():
    """The README stays short (what it is, the quick start, the ideas, the pipeline, where to
    go next); every relative link of the README and of docs/ names a file that exists, and an
    anchor a heading of it."""
    assert len((REPO / "README.md").read_text().splitlines()) <= 180
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            name, _, anchor = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            if not path.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and path.suffix == ".md":
                headings = re.findall(r"(?m)^#+ (.*)$", path.read_text())
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
