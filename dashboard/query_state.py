"""Page state in the URL: read query parameters (a bad one gets a clear message and a fallback) and write them back."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Callable, Mapping, Sequence

import streamlit as st

from dashboard.markdown_text import literal, plain
from services.domain import input_limits
from services.errors import InvalidInput
from services.domain.event_rules import EVENT_TYPES


def _warn(key: str, raw: str, problem: str, fallback: str) -> None:
    """`problem` may repeat parts of `raw`: the caller passes them through plain()."""
    st.warning(f"Ignored {literal(f'{key}={raw}')} in the link: {problem}. Showing {fallback} instead.",
               icon=":material/link_off:")


def _raw(key: str) -> str | None:
    value = st.query_params.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def read_month(today: date, key: str = "month") -> date:
    """`?month=YYYY-MM` as the first day of that month; the current month when absent or invalid."""
    raw = _raw(key)
    if raw is None:
        return today.replace(day=1)
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", raw)  # ASCII digits only: "²" and "١" are digits to \d
    if match and 1 <= int(match.group(2)) <= 12 and 1900 < int(match.group(1)) < 2200:
        return date(int(match.group(1)), int(match.group(2)), 1)
    _warn(key, raw, "a month is written YYYY-MM with a month from 01 to 12", "the current month")
    return today.replace(day=1)


def read_day(today: date, key: str = "date") -> date:
    """`?date=YYYY-MM-DD`; today when absent or invalid."""
    raw = _raw(key)
    if raw is None:
        return today
    try:
        value = date.fromisoformat(raw)
        if 1900 < value.year < 2200:
            return value
    except ValueError:
        pass
    _warn(key, raw, "a date is written YYYY-MM-DD and must exist", "today")
    return today


def read_types(key: str = "types") -> list[str]:
    """`?types=Core,Juicer`; all types when absent; unknown names are dropped with a message."""
    raw = _raw(key)
    if raw is None:
        return list(EVENT_TYPES)
    wanted = [part.strip() for part in raw.split(",") if part.strip()]
    by_lower = {event_type.lower(): event_type for event_type in EVENT_TYPES}
    known = [by_lower[name.lower()] for name in wanted if name.lower() in by_lower]
    unknown = [name for name in wanted if name.lower() not in by_lower]
    if unknown:
        _warn(key, raw, f"unknown type(s) {plain(', '.join(unknown), 100)} (types are {', '.join(EVENT_TYPES)})",
              "the known types" if known else "all types")
    return known or list(EVENT_TYPES)


def read_choice(key: str, choices: Sequence[str], default: str | None) -> str | None:
    raw = _raw(key)
    if raw is None:
        return default
    if raw in choices:
        return raw
    _warn(key, raw, f"it must be one of {', '.join(choices)}", "the default")
    return default


NAMED_LOCATIONS = 5  # how many of the locations that share a store number a message names


class UnknownStore(InvalidInput):
    """No store with events has this location id or number."""


def store_for(text: str, stores: Mapping[str, int | None]) -> str:
    """The store key (see read_queries.stores: store key -> store number) for what people type or link: the location
    id, or the store number as on the receipts ("8135" or "#8135"). InvalidInput, in words, for anything else."""
    if text in stores:
        return text
    number = text.removeprefix("#").strip()
    matches = [store for store, store_number in stores.items()
               if store_number is not None and number.isascii() and number.isdigit() and int(number) == store_number]
    if len(matches) == 1:
        return matches[0]
    if matches:
        named = ", ".join(plain(store, 20) for store in matches[:NAMED_LOCATIONS])
        more = ", …" if len(matches) > NAMED_LOCATIONS else ""
        raise InvalidInput(f"store number {plain(number, 20)} belongs to {len(matches)} locations ({named}{more}); "
                           "pick one in the Store list")
    raise UnknownStore("no store with that id or number has events")


def read_store(stores: Mapping[str, int | None], key: str = "store") -> str | None:
    """`?store=157384` (the location id) or `?store=8135` / `#8135` (the store number people use) as the store's key;
    None, with a message, for a store that has no events."""
    raw = _raw(key)
    if raw is None:
        return None
    try:
        return store_for(raw, stores)
    except InvalidInput as refusal:
        _warn(key, raw, str(refusal), "all stores")
        return None


def read_range(today: date, default_days: int, start_key: str = "from", end_key: str = "to") -> tuple[date, date]:
    start = read_day(today, start_key) if _raw(start_key) else today
    end = read_day(start + timedelta(days=default_days), end_key) if _raw(end_key) else start + timedelta(days=default_days)
    if end < start:
        _warn(f"{start_key}/{end_key}", f"{start}..{end}", "the range ends before it starts", "the default range")
        return today, today + timedelta(days=default_days)
    return start, end


def write(**values: object) -> None:
    """Keep the URL in step with the page so it can be shared; None removes a parameter."""
    for key, value in values.items():
        if value is None or value == "":
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


def _requested(param: str | tuple[str, ...]) -> str | None:
    """What the URL asks for: one parameter's text, or for a value kept in several (a range: from, to) all of them."""
    if isinstance(param, str):
        return _raw(param)
    texts = [_raw(name) for name in param]
    return None if all(text is None for text in texts) else "&".join(text or "" for text in texts)


def page_value(param: str | tuple[str, ...], state_key: str, read, widgets: Mapping[str, Callable] | None = None):  # noqa: ANN001, ANN201
    """The page's value: taken from the URL when the URL asks for something other than what this page last wrote
    there (a followed link, back/forward), else kept from the session (buttons and pickers change it).

    `widgets` maps each widget that shows the value (its key) to how it shows it: whenever the value is taken from the
    URL, each widget's state is set to match (popping a keyed widget's state does not reset what the browser shows),
    and a widget whose state Streamlit dropped (the page was left) gets it back. Callbacks that change the value set
    it with `set_value`, which updates the widgets too; so the value, the widgets and (after `remember`) the URL agree
    after every click."""
    requested = _requested(param)
    if state_key not in st.session_state or (requested is not None
                                             and requested != st.session_state.get(f"{state_key}__url")):
        set_value(state_key, read(), widgets)
    for widget, shown in (widgets or {}).items():
        st.session_state.setdefault(widget, shown(st.session_state[state_key]))
    return st.session_state[state_key]


def set_value(state_key: str, value: object, widgets: Mapping[str, Callable] | None = None) -> None:
    """Set the page's value and every widget that shows it (call from a callback, before the widgets are drawn)."""
    st.session_state[state_key] = value
    for widget, shown in (widgets or {}).items():
        st.session_state[widget] = shown(value)


def remember(param: str | tuple[str, ...], state_key: str, text: str | tuple[str, ...]) -> None:
    """Write the page's value to the URL and note it, so page_value can tell a followed link from our own write
    (a value kept in several parameters: the names and their texts as tuples)."""
    if isinstance(param, str):
        write(**{param: text})
    else:
        write(**dict(zip(param, text)))
        text = "&".join(text)
    st.session_state[f"{state_key}__url"] = text


def _bound_state(widget_key: str) -> str:
    return f"{widget_key}__page_value"


def _widget_changed(widget_key: str) -> None:
    st.session_state[_bound_state(widget_key)] = st.session_state[widget_key]


def bind(param: str | tuple[str, ...], widget_key: str, read: Callable[[], object], *,
         on_several_pages: bool = False) -> dict:
    """For a widget that is itself the page's value (a filter, a choice): page_value keyed to the widget. Returns the
    keyword arguments to draw the widget with (its key and the change callback; draw it without a default or index).
    A followed link sets the widget; the person's choice is kept across reruns and when they come back to the page.
    After the widget is drawn, `remember_bound` writes its value to the URL.

    A widget drawn on several pages under one key (`on_several_pages`: the filters) is one widget per page to
    Streamlit, and the page just left still holds the key when this page draws its widget, which would start empty:
    the key is set to its own value, so this page's widget takes it (Streamlit's advice for keeping a value across
    pages)."""
    page_value(param, _bound_state(widget_key), read, {widget_key: lambda value: value})
    if on_several_pages:
        st.session_state[widget_key] = st.session_state[widget_key]
    return {"key": widget_key, "on_change": _widget_changed, "args": (widget_key,)}


def remember_bound(param: str | tuple[str, ...], widget_key: str, text: str | tuple[str, ...] | None) -> None:
    remember(param, _bound_state(widget_key), text or "")


def read_ref(key: str = "ref") -> int | None:
    """`?ref=606001`: an event ref (ASCII digits, 1 to 2,147,483,647); None when absent or invalid."""
    raw = _raw(key)
    if raw is None:
        return None
    try:
        return input_limits.event_ref(raw)
    except InvalidInput:
        _warn(key, raw, "an event ref is a whole number from 1 to 2147483647", "no event")
        return None


def read_record_id(key: str, what: str) -> int | None:
    """`?operation=12`, `?batch=3`: a row id (ASCII digits, 1 to 2,147,483,647); None when absent or invalid."""
    raw = _raw(key)
    if raw is None:
        return None
    try:
        return input_limits.record_id(raw, what)
    except InvalidInput:
        _warn(key, raw, f"{what.lower()} is a whole number from 1 to 2147483647", "none")
        return None
