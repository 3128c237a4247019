"""Measure 7's frame floor (bench/run.py): the app's own frame — dashboard/app.py as it runs before every page (settings,
the engine, the sign-in check, the navigation, the switches, the sidebar's status lines) — around a one-line page, run
through AppTest as the pages are. What a page costs above this is its own content and reads; what this costs above the
one-line floor (bench/floor_page.py) is the frame's."""
import runpy
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


class _OneLinePage:
    """The page st.navigation chose, run as one line instead of its script (its title and the rest as they are)."""

    def __init__(self, page: st.Page) -> None:
        self._page = page

    def __getattr__(self, name: str):  # noqa: ANN204 - whatever the page has
        return getattr(self._page, name)

    def run(self) -> None:
        st.write("A one-line Streamlit page.")


_navigation = st.navigation
st.navigation = lambda *args, **kwargs: _OneLinePage(_navigation(*args, **kwargs))  # type: ignore[assignment]
try:
    runpy.run_path(str(APP), run_name="__main__")
finally:
    st.navigation = _navigation  # type: ignore[assignment]
