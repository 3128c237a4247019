"""Runtime and development dependencies stay apart: requirements.txt is what `make run` installs (and `make audit`
checks), requirements-dev.txt adds what tests, the benchmark and the tools need. Imports are read with ast and mapped
to distributions with importlib.metadata.packages_distributions()."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_CODE = ("services", "dashboard", "pages")
DEVELOPMENT_CODE = ("tests", "bench", "tools")
# Used only by tests and tools, whether or not anything imports them (pip-audit is a command, playwright's browser
# tests may be skipped): none of these may be in requirements.txt.
TEST_TOOLS = {"pytest", "hypothesis", "aiosmtpd", "playwright", "oidc-provider-mock", "pip-audit"}
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of one file, comments and `-r` includes left out."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def requirement_names(path: Path) -> set[str]:
    return {canonical(_NAME.match(line).group(1)) for line in requirement_lines(path)}


def runtime_names() -> set[str]:
    return requirement_names(ROOT / "requirements.txt")


def dev_names() -> set[str]:
    path = ROOT / "requirements-dev.txt"
    assert path.exists(), "requirements-dev.txt is missing: test and development tools must not be in requirements.txt"
    return requirement_names(path)


def _local_modules() -> set[str]:
    return {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | {
        p.stem for p in ROOT.glob("*.py")
    } | {"pages"}


@cache
def third_party_imports(folders: tuple[str, ...]) -> dict[str, list[str]]:
    """Top-level module -> the files that import it, for every absolute import that is neither the standard library
    nor this repository's own code."""
    local = _local_modules()
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in local or top == "__future__":
                        continue
                    found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


@cache
def _module_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(module: str) -> set[str]:
    return {canonical(name) for name in _module_distributions().get(module, [])}


def unprovided(imports: dict[str, list[str]], allowed: set[str]) -> list[str]:
    problems = []
    for module, files in sorted(imports.items()):
        dists = distributions_of(module)
        if not dists:
            problems.append(f"{module} (imported by {files[0]}) is provided by no installed distribution")
        elif not dists & allowed:
            problems.append(f"{module} (imported by {files[0]}) comes from {'/'.join(sorted(dists))}, not listed")
    return problems


def test_no_test_or_development_package_is_pinned_in_requirements_txt():
    """Test tools, requirements-dev.txt's own entries, and what only tests/bench/tools import stay out of it."""
    dev_file = ROOT / "requirements-dev.txt"
    listed_for_dev = requirement_names(dev_file) if dev_file.exists() else set()
    imported_by_dev = {d for module in third_party_imports(DEVELOPMENT_CODE) for d in distributions_of(module)}
    imported_by_app = {d for module in third_party_imports(RUNTIME_CODE) for d in distributions_of(module)}
    dev_only = (TEST_TOOLS | listed_for_dev | imported_by_dev) - imported_by_app
    assert sorted(runtime_names() & dev_only) == [], "move these to requirements-dev.txt"


def test_requirements_dev_txt_adds_to_the_runtime_set_without_repeating_it():
    path = ROOT / "requirements-dev.txt"
    assert path.exists(), "requirements-dev.txt is missing"
    first = next(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    assert first == "-r requirements.txt"
    assert sorted(dev_names() & runtime_names()) == []


def test_every_requirement_is_pinned_to_one_version():
    for name in ("requirements.txt", "requirements-dev.txt"):
        unpinned = [line for line in requirement_lines(ROOT / name) if not re.fullmatch(r"[^=<>~!]+==[\w.]+", line)]
        assert unpinned == [], f"{name}: pin these with =="


def test_everything_the_app_imports_is_a_runtime_requirement():
    imports = third_party_imports(RUNTIME_CODE)
    assert "streamlit" in imports and "sqlalchemy" in imports  # the walk sees the app's imports
    assert unprovided(imports, runtime_names()) == []


def test_everything_tests_bench_and_tools_import_is_a_requirement():
    imports = third_party_imports(DEVELOPMENT_CODE)
    assert "pytest" in imports and "hypothesis" in imports
    assert unprovided(imports, runtime_names() | dev_names()) == []


def _make_plan(target: str) -> str:
    """The commands `make TARGET` would run in a new checkout (-B: as if nothing were installed yet)."""
    return subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", target],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout


def test_make_run_installs_only_the_runtime_set_and_make_test_the_development_set():
    for target in ("run", "db", "health"):
        plan = _make_plan(target)
        assert "-r requirements.txt" in plan and "requirements-dev.txt" not in plan, target
    for target in ("test", "soak", "bench", "audit"):
        assert "-r requirements-dev.txt" in _make_plan(target), target
