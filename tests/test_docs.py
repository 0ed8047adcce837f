"""The reference describes the tree as it is."""

from __future__ import annotations

import re

from .conftest import REPO

PACKAGE = REPO / "src" / "artifact_removal"


def _layout() -> str:
    """The code block under docs/reference.md's "## Layout"."""
    text = (REPO / "docs" / "reference.md").read_text()
    section = text[text.index("\n## Layout\n") :]
    return section[section.index("```") + 3 : section.index("```", section.index("```") + 3)]


def _modules() -> list[str]:
    return sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.suffix in (".py", ".js") and path.name != "__init__.py"
    )


def test_the_layout_names_every_module_under_its_package():
    layout = _layout()
    # each sub-package's part: from its `name/` line to the next line at the same indent
    parts = dict(re.findall(r"(?m)^  ([a-z_]+)/ +(.*(?:\n {3,}.*)*)", layout))
    missing = []
    for module in _modules():
        folder, _, name = module.rpartition("/")
        where = parts.get(folder, "") if folder else layout
        if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", where):
            missing.append(module)
    assert not missing, f"docs/reference.md's Layout does not name {missing}"
    assert set(parts) >= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def test_the_layout_names_no_module_that_is_gone():
    named = set(re.findall(r"(?<![\w/.-])([a-z_]+\.(?:py|js))(?!\w)", _layout()))
    existing = {module.rpartition("/")[2] for module in _modules()} | {"__init__.py"}
    assert named <= existing, f"named but not in src/: {sorted(named - existing)}"
