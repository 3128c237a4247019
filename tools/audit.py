"""`make audit`: pip-audit over the runtime dependencies, with an answer that cannot be mistaken for a pass.

    python -m tools.audit                      # pyproject.toml's dependencies and everything they install (in .venv)
    python -m tools.audit -r FILE --as-pinned  # only the pins in the requirements file FILE (need not be installed)
    python -m tools.audit --list               # print the pinned set that would be audited; no network

The runtime set is pyproject.toml's [project] dependencies (not the `dev` extra) plus their dependencies, read from the installed packages' metadata (markers and
extras applied), each pinned to the installed version, and given to pip-audit with --no-deps --disable-pip: no
throw-away virtualenv is built and nothing is downloaded but the advisories.

pip-audit by itself exits 1 both for "vulnerable" and for "could not ask", and exits 0 with "No known
vulnerabilities found" when its advisory source answered "not found" for every package (it then skips them all).
This wrapper tells them apart:

    0  clean: every package was checked, none has a known vulnerability (says how many were checked)
    1  vulnerabilities found (listed, with the versions that fix them)
    2  the audit could not start (a requirement is not pinned or not installed as pinned, pip-audit failed otherwise)
    3  the advisory source could not be reached or answered nothing usable: the audit did NOT run (one line says why)

The sources are tried in order (default: PyPI's JSON API, then OSV); the first that answers for every package
decides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

CLEAN, VULNERABLE, CANNOT_START, UNREACHABLE = 0, 1, 2, 3

SERVICE_NAMES = {"pypi": "PyPI's JSON API (pypi.org)", "osv": "OSV (api.osv.dev)"}

# The exceptions pip-audit lets out when it could not ask its source: requests' network errors, and pip-audit's own
# ConnectionError (connect timeout, redirect loop) and ServiceError (the source answered with an HTTP error).
_NETWORK_ERRORS = {
    "ConnectionError",
    "ProxyError",
    "SSLError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "ChunkedEncodingError",
    "RetryError",
    "TooManyRedirects",
    "ServiceError",
    "HTTPError",
    "JSONDecodeError",
}
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Redirects)):?\s?(.*)$")


class CannotStart(Exception):
    """The audit could not be set up (exit 2)."""


@dataclass
class Pin:
    name: str
    version: str

    def line(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass
class Outcome:
    """What one advisory source said about the pins."""

    service: str
    kind: str  # "answered" or "unreachable" or "failed"
    reason: str = ""
    checked: int = 0
    vulnerable: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


# --- the pins ------------------------------------------------------------------------------------------------------


def _pinned_requirement(text: str, where: str) -> Requirement:
    """One requirement, which must be pinned to one version with `==` (`where` names it in the error)."""
    req = Requirement(text)
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        raise CannotStart(f"{where}: {text!r} is not pinned to one version (name==version)")
    return req


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a requirements file (`-r` includes followed); every one must be pinned with `==`."""
    found: list[Requirement] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += read_requirements(path.parent / line.split(None, 1)[1])
            continue
        if line.startswith("-"):
            raise CannotStart(f"{path.name}:{number}: option lines are not supported here: {line}")
        found.append(_pinned_requirement(line, f"{path.name}:{number}"))
    return found


def read_pyproject(path: Path, extra: str | None = None) -> list[Requirement]:
    """The runtime requirements of a pyproject.toml ([project] dependencies), or with `extra` only that optional
    set ([project.optional-dependencies]); every one must be pinned with `==`."""
    project = tomllib.loads(path.read_text()).get("project", {})
    if extra is None:
        entries, table = project.get("dependencies", []), "[project] dependencies"
    else:
        entries, table = project.get("optional-dependencies", {}).get(extra), f"[project.optional-dependencies] {extra}"
        if entries is None:
            raise CannotStart(f"{path.name} has no {table}")
    return [_pinned_requirement(text, f"{path.name} {table}") for text in entries]


def pinned(requirements: list[Requirement]) -> list[Pin]:
    return [Pin(req.name, next(iter(req.specifier)).version) for req in requirements]


def installed_closure(requirements: list[Requirement]) -> list[Pin]:
    """The requirements and everything they pull in, as installed here (each at its installed version)."""
    seen: dict[str, Pin] = {}
    extras_seen: dict[str, set[str]] = {}
    todo: list[tuple[Requirement, str]] = [(req, "the project") for req in requirements]
    while todo:
        req, wanted_by = todo.pop()
        key = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise CannotStart(f"{req.name} (wanted by {wanted_by}) is not installed; run `make install-dev` first") from None
        version = dist.version
        if req.specifier and not req.specifier.contains(Version(version), prereleases=True):
            raise CannotStart(
                f"{req.name} {version} is installed but {wanted_by} asks for {req.specifier}; "
                "run `make install-dev` first"
            )
        new_extras = set(req.extras) - extras_seen.get(key, set())
        if key in seen and not new_extras:
            continue
        seen[key] = Pin(dist.metadata["Name"], version)
        extras_seen.setdefault(key, set()).update(req.extras)
        for text in dist.requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": extra}) for extra in (new_extras or {""})):
                todo.append((dep, f"{dist.metadata['Name']} {version}"))
    return sorted(seen.values(), key=lambda pin: canonicalize_name(pin.name))


# --- asking pip-audit ----------------------------------------------------------------------------------------------


def _network_reason(stderr: str) -> str | None:
    """Why pip-audit could not ask its source, from its traceback; None when the failure was something else."""
    lines = [m for m in (_EXCEPTION_LINE.match(line.strip()) for line in stderr.splitlines()) if m]
    if not lines or lines[-1].group(1).rsplit(".", 1)[-1] not in _NETWORK_ERRORS:
        return None
    message = next((m.group(2) for m in reversed(lines) if m.group(2)), lines[-1].group(1))
    host = re.search(r"host='([^']+)'", message)
    where = host.group(1) if host else "the advisory source"
    for phrase, said in (
        ("Failed to resolve", f"cannot resolve {where}"),
        ("Unable to connect to proxy", f"cannot connect to the proxy for {where}"),
        ("Connection refused", f"connection to {where} refused"),
        ("timed out", f"{where} timed out"),
        ("CERTIFICATE_VERIFY_FAILED", f"TLS certificate of {where} not trusted"),
        ("Network is unreachable", f"network unreachable for {where}"),
    ):
        if phrase in message:
            return said
    return message[:200]


def ask(service: str, pins: list[Pin], *, osv_url: str | None, timeout: float) -> Outcome:
    """Run pip-audit once against one advisory source; classify what came back."""
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
        reqs = Path(tmp, "pins.txt")
        reqs.write_text("".join(pin.line() + "\n" for pin in pins))
        report = Path(tmp, "report.json")
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(reqs), "--no-deps", "--disable-pip",
            "--vulnerability-service", service, "--format", "json", "--output", str(report),
            "--progress-spinner", "off", "--timeout", "15",
            # A fresh cache: an audit reports today's advisories, and a cached answer would hide an unreachable source.
            "--cache-dir", str(Path(tmp, "cache")),
        ]
        if service == "osv" and osv_url:
            command += ["--osv-url", osv_url]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Outcome(service, "unreachable", f"no complete answer within {timeout:.0f} s")
        if not report.exists():
            reason = _network_reason(run.stderr)
            if reason is not None:
                return Outcome(service, "unreachable", reason)
            last = run.stderr.strip().splitlines()[-1:] or [f"exit {run.returncode}, nothing on stderr"]
            return Outcome(service, "failed", last[0][:300])
        answer = json.loads(report.read_text())
    deps = answer.get("dependencies", [])
    outcome = Outcome(service, "answered")
    outcome.skipped = [d for d in deps if "skip_reason" in d]
    outcome.vulnerable = [d for d in deps if d.get("vulns")]
    outcome.checked = len(deps) - len(outcome.skipped)
    if deps and not outcome.checked:
        # Every package was skipped: the source answered "not found" for each (a mirror of pypi.org that does not
        # serve the per-version JSON does this). Nothing was checked; that is no pass.
        return Outcome(
            service, "unreachable",
            f"it answered 'not found' for all {_packages(len(deps))}, so none was checked", skipped=outcome.skipped,
        )
    return outcome


# --- the verdict ---------------------------------------------------------------------------------------------------


def _packages(count: int) -> str:
    return f"{count} package{'' if count == 1 else 's'}"


def _source(service: str, osv_url: str | None) -> str:
    return f"OSV ({osv_url})" if service == "osv" and osv_url else SERVICE_NAMES[service]


def _vulnerability_lines(outcome: Outcome) -> list[str]:
    lines = []
    for dep in outcome.vulnerable:
        for vuln in dep["vulns"]:
            ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            description = " ".join(str(vuln.get("description") or "").split())[:160]
            lines.append(f"  {dep['name']} {dep['version']}: {ids} (fixed in: {fixes}) {description}".rstrip())
    return lines


def audit(pins: list[Pin], services: list[str], *, osv_url: str | None, timeout: float, what: str) -> int:
    tried: list[Outcome] = []
    for service in services:
        outcome = ask(service, pins, osv_url=osv_url, timeout=timeout)
        source = _source(service, osv_url)
        if outcome.kind == "failed":
            print(f"audit: pip-audit failed against {source}: {outcome.reason}", file=sys.stderr)
            return CANNOT_START
        if outcome.vulnerable:
            count = sum(len(dep["vulns"]) for dep in outcome.vulnerable)
            print(
                f"audit: {count} known vulnerabilit{'y' if count == 1 else 'ies'} in {len(outcome.vulnerable)} of "
                f"the {_packages(len(pins))} of {what} (source: {source}):"
            )
            print("\n".join(_vulnerability_lines(outcome)))
            if outcome.skipped:
                print(f"  (not checked: {', '.join(dep['name'] for dep in outcome.skipped)})")
            return VULNERABLE
        if outcome.kind == "answered" and not outcome.skipped:
            print(
                f"audit: no known vulnerabilities in the {_packages(outcome.checked)} of {what} (source: {source})"
            )
            return CLEAN
        tried.append(outcome)

    partial = [o for o in tried if o.kind == "answered"]
    if partial:
        best = min(partial, key=lambda o: len(o.skipped))
        names = ", ".join(dep["name"] for dep in best.skipped)
        print(
            f"audit: the dependency audit is INCOMPLETE: {_source(best.service, osv_url)} checked {best.checked} of the "
            f"{_packages(len(pins))} of {what} and found nothing, but could not check {names}"
        )
        return UNREACHABLE
    why = "; ".join(f"{_source(o.service, osv_url)}: {o.reason}" for o in tried)
    print(f"audit: pip-audit could not reach its advisory source; the dependency audit did NOT run ({why})")
    return UNREACHABLE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sets = parser.add_mutually_exclusive_group()
    sets.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml",
                      help="audit this pyproject.toml's [project] dependencies (the default: this repository's)")
    sets.add_argument("-r", "--requirement", type=Path, help="audit a requirements file instead")
    parser.add_argument("--as-pinned", action="store_true", help="audit only the pins in the file, not what they install")
    parser.add_argument("--service", action="append", choices=sorted(SERVICE_NAMES),
                        help="advisory source, in the order to try (repeatable; default: pypi, then osv)")
    parser.add_argument("--osv-url", default=os.environ.get("AUDIT_OSV_URL"), help="another OSV API (v1/query)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per source for the whole audit")
    parser.add_argument("--list", action="store_true", help="print the pins that would be audited and stop")
    args = parser.parse_args(argv)
    try:
        if args.requirement is not None:
            source, installs = args.requirement.name, "what it installs"
            requirements = read_requirements(args.requirement)
        else:
            source, installs = f"{args.pyproject.name}'s dependencies", "what they install"
            requirements = read_pyproject(args.pyproject)
        pins = pinned(requirements) if args.as_pinned else installed_closure(requirements)
    except (CannotStart, OSError, ValueError) as error:
        print(f"audit: cannot start: {error}", file=sys.stderr)
        return CANNOT_START
    if args.list:
        print("\n".join(pin.line() for pin in pins))
        return CLEAN
    what = source if args.as_pinned else f"{source} and {installs}"
    return audit(pins, args.service or ["pypi", "osv"], osv_url=args.osv_url, timeout=args.timeout, what=what)


if __name__ == "__main__":
    sys.exit(main())
