"""The layering (issue 19): pages -> dashboard -> services, no arrow back. Nothing under services/ imports streamlit,
dashboard or pages, so every service runs the same from the CLI, a cron job and the app; and services/ is in packages
(no module left loose beside them but settings and errors)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
UI = ("streamlit", "dashboard", "pages")
TOP_LEVEL = {"__init__.py", "__main__.py", "settings.py", "errors.py"}


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_no_service_imports_the_ui():
    offenders = {str(path.relative_to(ROOT)): sorted(module for module in _imports(path)
                                                    if module.split(".")[0] in UI)
                 for path in SERVICES.rglob("*.py")}
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_services_are_in_packages():
    loose = {path.name for path in SERVICES.glob("*.py")} - TOP_LEVEL
    assert loose == set(), f"modules outside a package: {sorted(loose)}"
    packages = {path.parent.name for path in SERVICES.glob("*/__init__.py")}
    assert {"domain", "store", "crossmark", "actions", "quality", "reads", "access", "ops", "demo", "cli"} <= packages


DOMAIN = SERVICES / "domain"
# What a domain module may import besides the standard library: the other domain modules and the typed errors. No
# settings (the rules are given their parameters, e.g. a SupervisorRule), no database, no I/O library.
DOMAIN_MAY_IMPORT = ("services.domain", "services.errors")


def test_the_domain_imports_only_the_standard_library_and_itself():
    offenders = {}
    for path in DOMAIN.rglob("*.py"):
        imported = {module for module in _imports(path) if not (
            module.split(".")[0] in sys.stdlib_module_names
            or any(module == allowed or module.startswith(allowed + ".") for allowed in DOMAIN_MAY_IMPORT))}
        if imported:
            offenders[str(path.relative_to(ROOT))] = sorted(imported)
    assert offenders == {}
