"""The README's tree of services/ names every package and every module in it (issue 19: "a tree in the README
matches the folders"), so a newcomer finds a behaviour from the tree, and a new module cannot land unlisted."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_tree() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```\nservices/\n(.*?)```", text, re.S)
    assert match, "README.md has no ```services/ tree block"
    return match.group(1)


def test_the_readme_tree_names_every_package_and_module() -> None:
    tree = readme_tree()
    sections = dict(re.findall(r"^  (\w+)/\s+(.*?)(?=^  \S|\Z)", tree, re.S | re.M))
    packages = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())
    assert sorted(sections) == packages
    for package in packages:
        listed = set(re.findall(r"\w+", sections[package]))
        modules = {p.stem for p in (ROOT / "services" / package).glob("*.py") if not p.stem.startswith("__")}
        assert modules - listed == set(), f"services/{package}/ modules missing from the README tree"
    top = {p.stem for p in (ROOT / "services").glob("*.py") if not p.stem.startswith("__")}
    assert {f"{name}.py" for name in top} <= set(re.findall(r"\w+\.py", tree))
