"""The Streamlit options the app relies on for speed (.streamlit/config.toml), each a real option of the installed
Streamlit (a misspelt key would be ignored silently)."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_full_garbage_collection_after_every_script_run():
    """runner.postScriptGC (on by default) runs gc.collect(2) after each page run, whose cost grows with the process's
    whole heap: with the sandbox's copy of a 1M-event database it was most of a page's server time."""
    from streamlit import config as streamlit_config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert "runner.postScriptGC" in streamlit_config.get_config_options()
    assert streamlit_config.get_config_options()["runner.postScriptGC"].default_val is True  # why the file says so
    assert config["runner"]["postScriptGC"] is False
