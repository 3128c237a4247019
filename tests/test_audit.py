"""`make audit` (tools/audit.py): pip-audit's real runs, classified as clean (0), vulnerable (1), cannot start (2) or
advisory source unreachable (3). The vulnerable and clean cases ask a local OSV server (pip-audit's --osv-url) so they
run without the internet; one test asks the real sources and is skipped, with the reason, only when they cannot be
reached."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools import audit

ROOT = Path(__file__).resolve().parent.parent

# OSV's record of a real Jinja2 advisory (trimmed to the fields pip-audit reads).
JINJA2_REDOS = {
    "id": "GHSA-g3rq-g295-4j3m",
    "aliases": ["CVE-2020-28493"],
    "summary": "Regular Expression Denial of Service (ReDoS) in Jinja2",
    "published": "2021-03-19T21:28:05Z",
    "affected": [
        {
            "package": {"name": "jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.11.3"}]}],
        }
    ],
}


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def _run(tmp_path: Path, pins: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    requirements = tmp_path / "pins.txt"
    requirements.write_text(pins)
    return subprocess.run(
        [sys.executable, "-m", "tools.audit", "-r", str(requirements), "--as-pinned", *args],
        cwd=ROOT, env=_environment(**env), capture_output=True, text=True, timeout=600,
    )


@pytest.fixture
def osv_server() -> Iterator[dict]:
    """A local OSV API (POST /v1/query): `state["vulns"]` maps (name, version) to records; `state["status"]` an
    HTTP status to answer with instead."""
    state: dict = {"vulns": {}, "status": 200, "queries": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = (query["package"]["name"], query["version"])
            state["queries"].append(key)
            records = state["vulns"].get(key)
            body = json.dumps({"vulns": records} if records else {}).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/v1/query"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_known_vulnerability_fails_the_audit_and_is_listed_with_its_fix(tmp_path, osv_server):
    osv_server["vulns"][("jinja2", "2.11.2")] = [JINJA2_REDOS]
    run = _run(tmp_path, "jinja2==2.11.2\nurllib3==2.8.0\n", "--service", "osv", "--osv-url", osv_server["url"])
    assert run.returncode == audit.VULNERABLE, run.stdout + run.stderr
    assert "1 known vulnerability in 1 of the 2 packages" in run.stdout
    assert "jinja2 2.11.2: CVE-2020-28493, GHSA-g3rq-g295-4j3m (fixed in: 2.11.3)" in run.stdout
    assert sorted(osv_server["queries"]) == [("jinja2", "2.11.2"), ("urllib3", "2.8.0")]


def test_a_clean_audit_says_how_many_packages_it_checked(tmp_path, osv_server):
    run = _run(tmp_path, "jinja2==3.1.6\nurllib3==2.8.0\n", "--service", "osv", "--osv-url", osv_server["url"])
    assert run.returncode == audit.CLEAN, run.stdout + run.stderr
    assert run.stdout == f"audit: no known vulnerabilities in the 2 packages of pins.txt (source: OSV ({osv_server['url']}))\n"


def test_an_advisory_source_answering_with_an_error_is_not_a_pass(tmp_path, osv_server):
    osv_server["status"] = 503
    run = _run(tmp_path, "jinja2==3.1.6\n", "--service", "osv", "--osv-url", osv_server["url"])
    assert run.returncode == audit.UNREACHABLE, run.stdout + run.stderr
    assert run.stdout.count("\n") == 1, run.stdout
    assert "the dependency audit did NOT run" in run.stdout and "503 Server Error" in run.stdout


def test_unreachable_advisory_sources_say_the_audit_did_not_run(tmp_path):
    """Both real sources (PyPI's JSON API, then OSV) through a proxy on a closed local port: pip-audit itself exits 1
    with a traceback; the wrapper says in one line that nothing was checked, and why, and exits 3."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    run = _run(tmp_path, "jinja2==2.11.2\n", HTTPS_PROXY=proxy, https_proxy=proxy)
    assert run.returncode == audit.UNREACHABLE, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        "audit: pip-audit could not reach its advisory source; the dependency audit did NOT run "
        "(PyPI's JSON API (pypi.org): cannot connect to the proxy for pypi.org; "
        "OSV (api.osv.dev): cannot connect to the proxy for api.osv.dev)"
    ]


def test_a_source_that_knows_none_of_the_packages_is_not_a_pass(monkeypatch):
    """pip-audit exits 0 and prints "No known vulnerabilities found" when PyPI answers 404 for every package (a
    pypi.org mirror without the per-version JSON API does; seen on this project's CI machine). This is its report
    from such a run."""
    report = {
        "dependencies": [
            {"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited: jinja2 (2.11.2)"},
            {"name": "urllib3", "skip_reason": "Dependency not found on PyPI and could not be audited: urllib3 (1.26.4)"},
        ],
        "fixes": [],
    }

    def pip_audit(command, **kwargs):
        Path(command[command.index("--output") + 1]).write_text(json.dumps(report))
        return subprocess.CompletedProcess(command, 0, "", "No known vulnerabilities found\n")

    monkeypatch.setattr(audit.subprocess, "run", pip_audit)
    outcome = audit.ask("pypi", [audit.Pin("jinja2", "2.11.2"), audit.Pin("urllib3", "1.26.4")], osv_url=None, timeout=60)
    assert (outcome.kind, outcome.reason) == ("unreachable", "it answered 'not found' for all 2 packages, so none was checked")


def test_a_known_vulnerable_pin_against_the_real_advisory_sources(tmp_path):
    run = _run(tmp_path, "jinja2==2.11.2\n")
    if run.returncode == audit.UNREACHABLE:
        pytest.skip(f"the real advisory sources could not be used from here: {run.stdout.strip()}")
    assert run.returncode == audit.VULNERABLE, run.stdout + run.stderr
    assert "CVE-2020-28493" in run.stdout or "GHSA-g3rq-g295-4j3m" in run.stdout


def test_the_runtime_set_is_pyprojects_dependencies_and_what_they_install():
    listed = subprocess.run(
        [sys.executable, "-m", "tools.audit", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.lower().splitlines()
    names = {line.split("==")[0].replace("_", "-") for line in listed}
    assert {"streamlit", "pandas", "sqlalchemy", "psycopg", "argon2-cffi"} <= names
    assert {"psycopg-binary", "jinja2", "urllib3", "requests"} <= names  # an extra's and transitive dependencies
    dev = {pin.name.lower() for pin in audit.pinned(audit.read_pyproject(ROOT / "pyproject.toml", extra="dev"))}
    assert {"pytest", "hypothesis", "playwright", "aiosmtpd", "oidc-provider-mock", "pip-audit", "mypy"} <= dev
    assert not names & (dev - {"numpy", "packaging"})  # the dev extra stays out (numpy and packaging come with pandas)
    for pin in audit.pinned(audit.read_pyproject(ROOT / "pyproject.toml")):
        assert pin.line().lower() in listed


def test_an_unpinned_requirement_cannot_be_audited(tmp_path):
    run = _run(tmp_path, "requests>=2\n")
    assert run.returncode == audit.CANNOT_START
    assert "'requests>=2' is not pinned to one version" in run.stderr


def test_an_unpinned_dependency_in_pyproject_toml_cannot_be_audited(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["jinja2==3.1.6", "requests>=2"]\n')
    run = subprocess.run(
        [sys.executable, "-m", "tools.audit", "--pyproject", str(pyproject), "--as-pinned", "--list"],
        cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == audit.CANNOT_START
    assert "pyproject.toml [project] dependencies: 'requests>=2' is not pinned to one version" in run.stderr
