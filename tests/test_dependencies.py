"""Runtime and development dependencies stay apart: pyproject.toml's [project] dependencies are what `make run`
installs (and `make audit` checks), its `dev` extra adds what tests, the benchmark and the tools need. Imports are read
with ast and mapped to distributions with importlib.metadata.packages_distributions()."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_CODE = ("services", "dashboard", "pages")
DEVELOPMENT_CODE = ("tests", "bench", "tools")
# Used only by tests and tools, whether or not anything imports them (pip-audit is a command, playwright's browser
# tests may be skipped, mypy and its stubs only check): none of these may be runtime dependencies.
TEST_TOOLS = {
    "pytest", "hypothesis", "aiosmtpd", "playwright", "oidc-provider-mock", "pip-audit", "ruff", "mypy", "pandas-stubs",
    "types-openpyxl",
}
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def runtime_requirements() -> list[str]:
    return project()["dependencies"]


def dev_requirements() -> list[str]:
    extras = project().get("optional-dependencies", {})
    assert "dev" in extras, "the dev extra is missing: test and development tools must not be runtime dependencies"
    return extras["dev"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonical(_NAME.match(line).group(1)) for line in requirements}


def runtime_names() -> set[str]:
    return requirement_names(runtime_requirements())


def dev_names() -> set[str]:
    return requirement_names(dev_requirements())


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


_DRIVER_IN_URL = re.compile(r"postgresql\+(\w+)://")


def drivers_by_url(folders: tuple[str, ...]) -> dict[str, list[str]]:
    """Database drivers the code loads by name through SQLAlchemy URLs (`postgresql+psycopg://`), not by import: the app
    needs them at run time even where only tests import them directly."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for driver in _DRIVER_IN_URL.findall(path.read_text()):
                found.setdefault(driver, []).append(str(path.relative_to(ROOT)))
    return found


def unprovided(imports: dict[str, list[str]], allowed: set[str]) -> list[str]:
    problems = []
    for module, files in sorted(imports.items()):
        dists = distributions_of(module)
        if not dists:
            problems.append(f"{module} (imported by {files[0]}) is provided by no installed distribution")
        elif not dists & allowed:
            problems.append(f"{module} (imported by {files[0]}) comes from {'/'.join(sorted(dists))}, not listed")
    return problems


def test_no_test_or_development_package_is_a_runtime_dependency():
    """Test tools, the dev extra's own entries, and what only tests/bench/tools import stay out of [project]
    dependencies."""
    imported_by_dev = {d for module in third_party_imports(DEVELOPMENT_CODE) for d in distributions_of(module)}
    imported_by_app = {d for module in third_party_imports(RUNTIME_CODE) | drivers_by_url(RUNTIME_CODE)
                       for d in distributions_of(module)}
    dev_only = (TEST_TOOLS | dev_names() | imported_by_dev) - imported_by_app
    assert sorted(runtime_names() & dev_only) == [], "move these to [project.optional-dependencies] dev"


def test_the_dev_extra_adds_to_the_runtime_set_without_repeating_it():
    assert sorted(dev_names() & runtime_names()) == []


def test_the_dependency_lists_live_only_in_pyproject_toml():
    """One list per set: no requirements file beside pyproject.toml to drift from it."""
    assert sorted(path.name for path in ROOT.glob("requirements*.txt")) == []


def test_every_requirement_is_pinned_to_one_version():
    for name, requirements in (("dependencies", runtime_requirements()), ("dev", dev_requirements())):
        unpinned = [line for line in requirements if not re.fullmatch(r"[^=<>~!]+==[\w.]+", line)]
        assert unpinned == [], f"pyproject.toml {name}: pin these with =="


def test_the_build_backend_is_pinned_too():
    """pip builds the (metadata-only) project with it: a floating version could change under `make install`."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert requires and all(re.fullmatch(r"[^=<>~!]+==[\w.]+", line) for line in requires), requires


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


def _pip_installs(plan: str) -> list[str]:
    """What each `pip install` line of a make plan installs (its last word, quotes removed)."""
    return [line.split()[-1].strip("'\"") for line in plan.splitlines() if " -m pip install " in line]


def test_make_run_installs_only_the_runtime_set_and_make_test_the_development_set():
    for target in ("run", "db", "health", "install"):
        assert _pip_installs(_make_plan(target)) == ["."], target
    for target in ("test", "soak", "bench", "audit", "install-dev"):
        assert _pip_installs(_make_plan(target)) == [".", ".[dev]"], target


def test_make_test_runs_ruff_then_mypy_then_pytest():
    run_by_venv = [line.split()[2] for line in _make_plan("test").splitlines() if line.startswith(".venv/bin/python -m ")]
    assert [module for module in run_by_venv if module != "pip"] == ["ruff", "mypy", "pytest"], run_by_venv
