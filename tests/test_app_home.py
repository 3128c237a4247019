"""AppTest: the app opens on a real database and shows counts from it; a bad database gives a clear message."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from services.schema_admin import upgrade_database
from tests.legacy_scheduler import create_legacy_scheduler_database

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture
def app_for(monkeypatch):
    def open_app(url: str) -> AppTest:
        monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
        monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
        st.cache_resource.clear()
        st.cache_data.clear()
        app = AppTest.from_file(APP, default_timeout=30)
        app.run()
        return app

    yield open_app
    st.cache_resource.clear()


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_home_shows_counts_of_an_adopted_scheduler_database(app_for, tmp_path):
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    create_legacy_scheduler_database(url)
    upgrade_database(url)
    app = app_for(url)
    assert not app.exception
    assert _metrics(app) == {"Events": "3", "Schedules": "2", "Employees": "2", "Stores": "1"}
    table = app.dataframe[0].value.set_index("Type")
    assert table.loc["Core", "Events"] == 1 and table.loc["Juicer", "Unstaffed"] == 1
    assert any("SANDBOX" in warning.value for warning in app.sidebar.warning)


def test_empty_database_shows_zeros_and_a_hint(app_for, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_database(url)
    app = app_for(url)
    assert not app.exception
    assert _metrics(app)["Events"] == "0"
    assert any("no events yet" in info.value for info in app.info)


def test_a_database_not_yet_upgraded_is_explained(app_for, tmp_path):
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    create_legacy_scheduler_database(url)
    app = app_for(url)
    assert not app.exception
    assert "python -m services db upgrade" in app.error[0].value
