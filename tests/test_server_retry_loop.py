"""The server's retry loop in the sandbox (dashboard/server.py retry_loop_parts): a pass with nothing to settle does not
build the sandbox's in-memory copy of the database (at 1M events that took seconds of the server's CPU and most of a
GiB); the client it makes when an operation needs settling is the process's one shared sandbox."""
from __future__ import annotations

from datetime import date

from services.crossmark import sandbox as crossmark_sandbox
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.actions.retry_loop import RetryLoop
from services.store.schema_admin import upgrade_database
from services.settings import load_settings


def test_a_pass_with_nothing_to_settle_builds_no_sandbox(tmp_path, monkeypatch):
    from dashboard.server import retry_loop_parts

    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=date.today())
    engine.dispose()
    settings = load_settings({"SCHEDULER_DATABASE_URL": url})
    assert settings.is_sandbox
    monkeypatch.setattr(crossmark_sandbox, "_shared_simulators", {})  # this process's sandboxes, from none

    engine_factory, actions_factory = retry_loop_parts(settings)
    loop = RetryLoop(engine_factory, actions_factory)
    assert loop.run_once() is True and loop.passes == 1  # it held the lease and ran its pass
    assert crossmark_sandbox._shared_simulators == {}  # nothing was due: no sandbox built

    with actions_factory().client_factory() as client:  # what settling an operation asks for
        assert client.is_sandbox
    assert len(crossmark_sandbox._shared_simulators) == 1
    with actions_factory().client_factory() as again:
        assert again.is_sandbox
    assert len(crossmark_sandbox._shared_simulators) == 1  # the one shared sandbox, not another copy
