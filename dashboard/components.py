"""UI components shared by pages: the filter bar, type badges, event cards, navigation between pages."""
from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import query_state
from dashboard.charts import TYPE_COLOURS
from dashboard.markdown_text import plain
from services.reads import exports
from services.errors import IncompatibleSchema, OpsError
from services.domain.event_rules import EVENT_TYPES
from services.reads.read_queries import EventFilter

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
# page key -> (title, icon). The script is pages/<key>.py and its URL path is /<key> (AppTest finds pages by that).
PAGE_FILES = {
    "overview": ("Overview", ":material/dashboard:"),
    "calendar": ("Calendar", ":material/calendar_month:"),
    "day": ("Day view", ":material/today:"),
    "type_counts": ("Event type counts", ":material/bar_chart:"),
    "unscheduled": ("Unscheduled", ":material/event_busy:"),
    "data_quality": ("Data quality", ":material/fact_check:"),
    "bulk_actions": ("Bulk actions", ":material/dynamic_feed:"),
    "operations": ("Operations", ":material/history:"),
    "audit": ("Audit", ":material/policy:"),
    "timeline": ("Event timeline", ":material/timeline:"),
    "operations_health": ("Operations health", ":material/monitor_heart:"),
    "admin": ("Admin", ":material/admin_panel_settings:"),
}
# Pages not for every role: key -> the permission (services.access.accounts) they need.
PAGE_ROLES = {"admin": "switches", "bulk_actions": "batch"}


def page_path(key: str) -> Path:
    return PAGES_DIR / f"{key}.py"


@st.cache_resource(show_spinner=False)
def _page_templates() -> dict[str, st.Page]:
    return {key: st.Page(page_path(key), title=title, icon=icon, url_path=key, default=(key == "overview"))
            for key, (title, icon) in PAGE_FILES.items()}


def navigation_pages(keys: Iterable[str]) -> list[st.Page]:
    """The st.Page of each page key, for st.navigation. Made once per process and copied for each run: making one
    resolves its script's path on disk (a stat per folder), about 2 ms a run for the twelve. Each run gets its own
    copies because st.navigation marks the page it returns as the one that run may call."""
    templates = _page_templates()
    return [copy.copy(templates[key]) for key in keys]


def page_url(key: str, **params: object) -> str:
    """A relative link to a page with its state, for link columns in tables."""
    query = "&".join(f"{name}={value}" for name, value in params.items() if value is not None)
    return key + (f"?{query}" if query else "")


def store_numbers(stores: pd.DataFrame) -> dict[str, int | None]:
    """Store key -> store number (None when unknown) of the stores list (read_queries.stores)."""
    return {row.store: int(row.store_number) if pd.notna(row.store_number) else None for row in stores.itertuples()}


def store_text(number: object, name: object, location: object = None) -> str:
    """How people name a store: "#8135 · Sam's Club Indianapolis"; the location id only when the number is unknown."""
    shown = f"#{int(number)}" if number is not None and pd.notna(number) else (
        f"location {location}" if location is not None and pd.notna(location) else "")
    if name is None or pd.isna(name) or not str(name).strip():
        return shown or "—"
    return f"{shown} · {name}" if shown else str(name)


ALL_STORES, ALL_STORES_LABEL = "", "All stores"  # the Store list's "All stores" option and its label


def store_labels(stores: pd.DataFrame) -> dict[str, str]:
    """Store key -> its label in the Store list (read_queries.stores): number and name, what typing in the list
    searches; stores that would share a label get their location id, "#8000 · Club (loc 872246)" ("(no location id)"
    for a store known only by its number). Labels are unique: Streamlit keeps a list's choice by its label, so of two
    stores with one label a rerun would keep the other."""
    texts = [store_text(row.store_number, row.store_name, row.location_mvid) for row in stores.itertuples()]
    shared = Counter(texts)
    labels: dict[str, str] = {}
    taken = {ALL_STORES_LABEL}
    for row, text in zip(stores.itertuples(), texts):
        label = text if shared[text] == 1 else (
            f"{text} (loc {row.location_mvid})" if pd.notna(row.location_mvid) else f"{text} (no location id)")
        while label in taken:  # a name written like another store's label: "Club (loc 872246)"
            label += f" · {row.store}"
        taken.add(label)
        labels[row.store] = label
    return labels


@dataclass(frozen=True)
class StoreChoices:
    """The Store list as the filter bar draws it: the store keys in list order, each key's label (store_labels) and
    store number (store_numbers). Made once per data version (dashboard/reads.store_choices), not on every run."""

    keys: tuple[str, ...]
    labels: dict[str, str]
    numbers: dict[str, int | None]

    @classmethod
    def of(cls, stores: pd.DataFrame) -> StoreChoices:
        return cls(tuple(stores["store"]), store_labels(stores), store_numbers(stores))

    def label(self, store: str | None) -> str:
        """The list's format_func: a store's unique label, "All stores" for ALL_STORES."""
        return ALL_STORES_LABEL if store in (None, ALL_STORES) else self.labels.get(store, store)


def filter_bar(stores: StoreChoices, *, with_types: bool = True) -> EventFilter:
    """Type and store filters, initialised from the URL (a store by its location id or its number) and written back to
    it (the store by its key, so a link always names one store the same way)."""
    valid = stores.keys
    columns = st.columns([3, 2]) if with_types else [None, st.container()]
    types = list(EVENT_TYPES)
    if columns[0] is not None:
        types = columns[0].multiselect("Event types", list(EVENT_TYPES), placeholder="All types",
                                       **query_state.bind("types", "filter_types", query_state.read_types,
                                                          on_several_pages=True))
    numbers = stores.numbers
    # "All stores" is an option of its own (ALL_STORES): a None value would show the list's "Choose an option".
    # on_several_pages also sends the store back to the browser on every run, so when another store comes to share
    # its label the list shows its new label ("... (loc 157384)"), not the old one that no option has any more.
    chosen = columns[1].selectbox("Store", [ALL_STORES, *valid], format_func=stores.label,
                                  help="Type a store number or name to find it.",
                                  **query_state.bind("store", "filter_store",
                                                     lambda: query_state.read_store(numbers) or ALL_STORES,
                                                     on_several_pages=True))
    store = chosen if chosen in valid else None  # a store kept from a session on a database that no longer has it
    narrowed = bool(types) and len(types) < len(EVENT_TYPES)
    query_state.remember_bound("types", "filter_types", ",".join(types) if narrowed else None)
    query_state.remember_bound("store", "filter_store", store)
    return EventFilter(tuple(types) if narrowed else None, store)


def database_problem(error: OpsError, *, for_admin: bool) -> str:
    """The banner when the database cannot be used. The services' messages name the command that fixes it
    ("Run: python -m services db upgrade"), which the CLI prints as is; in the app only an admin reads that, everyone
    else reads whom to ask."""
    if for_admin:
        return f"The dashboard cannot open its database: {plain(error)}"
    if isinstance(error, IncompatibleSchema):
        return "The database needs an upgrade; ask an administrator."
    return "The dashboard cannot open its database; ask an administrator."


def type_badge(event_type: str, count: int | None = None) -> str:
    colour = TYPE_COLOURS.get(event_type, TYPE_COLOURS["Other"])
    label = plain(event_type) + (f" · {count}" if count is not None else "")  # a Markdown body that allows HTML
    return (f"<span style='background:{colour};color:#fff;border-radius:10px;padding:2px 10px;"
            f"font-size:0.85rem;font-weight:600;white-space:nowrap'>{label}</span>")


def badges(counts: dict[str, int]) -> None:
    st.markdown(" ".join(type_badge(event_type, counts.get(event_type, 0)) for event_type in EVENT_TYPES),
                unsafe_allow_html=True)


def whole_number(label: str):  # noqa: ANN201 - a column config
    """A table column of refs or store numbers: 606001, never 606,001 or 606001.0."""
    return st.column_config.NumberColumn(label, format="%d")


def when_column(label: str):  # noqa: ANN201 - a column config
    """A table column of dates and times as `when` writes them: Tue Dec 08, 10:30 (the column still sorts by time)."""
    return st.column_config.DatetimeColumn(label, format="ddd MMM DD, HH:mm")


def when(value: datetime | None) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%a %b %d, %H:%M")


ExportRows = pd.DataFrame | Callable[[], pd.DataFrame]  # rows now, or a read run when the button is pressed
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download_csv(rows: ExportRows, file_name: str, label: str = "Download CSV") -> None:
    """A CSV download of the rows; every download goes through services.reads.exports, so no cell is a formula."""
    _download(rows, exports.csv_bytes, file_name, label, "text/csv", ":material/download:")


def download_excel(rows: ExportRows, file_name: str, sheet_name: str, label: str = "Download Excel") -> None:
    """An Excel download of the rows (one sheet), written by services.reads.exports: text in string cells."""
    _download(rows, lambda frame: exports.xlsx_bytes(frame, sheet_name), file_name, label, XLSX_MIME,
              ":material/table_view:")


def listing_cut_note(listed: int, listing_limit: int, what: str) -> None:
    """When a table stopped at its listing limit, say that the downloads still hold every row the filters select."""
    if listed >= listing_limit:
        st.caption(f"The table shows the {listing_limit:,} {what}; the download has every one these filters select "
                   f"(at most {exports.EXPORT_ROW_LIMIT:,}).")


def _download(rows: ExportRows, encode: Callable[[pd.DataFrame], bytes], file_name: str, label: str, mime: str,
              icon: str) -> None:
    # A callable is read and encoded only when the button is pressed: large exports do not slow every rerun.
    data = (lambda: encode(rows())) if callable(rows) else encode(rows)
    st.download_button(label, data, file_name=file_name, mime=mime, icon=icon)


def day_per_club(per_store: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """The Day view's per-club table: one row per club (number, name), scheduled per type, total, Unstaffed due."""
    wide = per_store.pivot_table(index="store", columns="event_type", values="scheduled", aggfunc="sum")
    wide = wide.reindex(columns=list(EVENT_TYPES)).fillna(0).astype(int)
    wide["Scheduled"] = wide.sum(axis=1)
    wide["Unstaffed due"] = per_store.groupby("store")["unstaffed_due"].sum().reindex(wide.index).fillna(0).astype(int)
    names = stores.set_index("store")[["store_number", "store_name"]]
    table = wide.join(names, how="left").reset_index().sort_values("Scheduled", ascending=False, kind="stable")
    table = table.rename(columns={"store_number": "Club", "store_name": "Name", "store": "Location"})
    return table[["Club", "Name", "Scheduled", *EVENT_TYPES, "Unstaffed due", "Location"]]
