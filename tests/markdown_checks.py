"""What the untrusted-text tests share: hostile names and how to put them in a database, every piece of Markdown an
AppTest run drew, and a check that a Markdown source holds no link, image, HTML, maths, icon, emoji or directive beyond
the app's own markup (what Streamlit 1.67's renderer does with each was checked in Chromium: tests/e2e)."""
from __future__ import annotations

import json
import re
import string
from datetime import date, datetime, time, timedelta
from typing import Any, Iterator

from sqlalchemy import Engine, text

WORD_JOINER = "\u2060"


def hostile_name(host: str = "attacker.example") -> str:
    """A name that is a phishing link, two remote images (Markdown and HTML), emphasis, a colour directive, a bare
    URL, an e-mail address, an icon, an emoji and maths when drawn as Markdown; `host` serves the images."""
    return (f"[Sign in again](https://evil.example/login) ![t](http://{host}/p.png) <img src=http://{host}/q.png> "
            "**bold** :red[x] https://evil.example www.evil.example mail@evil.example :material/warning: :smile: "
            "$x^2$ &lt;")


def hostile_short_name(host: str = "attacker.example") -> str:
    """For columns of at most 100 characters (rep names, who did what, with room for a first name): a link, an image
    and a directive."""
    return f"[Sign in](https://evil.example/s) ![t](http://{host}/s.png) :red[x]"


HOSTILE_SHORT = hostile_short_name()
HOSTILE_USER = "someone@evil.example"  # an account name may hold @: GFM makes it a mailto link
JUICER_REF = 609001


def make_names_hostile(engine: Engine, day: date, name: str, short: str = HOSTILE_SHORT) -> None:
    """On a database holding the sprint2 scenario: every event name ends with `name`, every store is called `name`,
    every rep's name ends with `short`, and a Juicer event (ref 609001) is scheduled on `day` (the Juicer list)."""
    from services.store.data_version import bump_data_version
    from services.store.tables import Event, Schedule

    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET project_name = project_name || ' ' || :name, store_name = :name"),
                           {"name": name})
        connection.execute(text("UPDATE employees SET name = SUBSTR(name || ' ' || :short, 1, 100)"), {"short": short})
        store = connection.execute(text("SELECT location_mvid, store_number FROM events WHERE project_ref_num = 606001")
                                   ).one()
        start = datetime.combine(day, time(9, 0))
        connection.execute(Event.__table__.insert().values(
            project_name=f"{JUICER_REF}-Juicer-Fresh Juice {name}", project_ref_num=JUICER_REF,
            location_mvid=store.location_mvid, store_number=store.store_number, store_name=name,
            start_datetime=datetime.combine(day - timedelta(days=3), time(0, 0)),
            due_datetime=datetime.combine(day + timedelta(days=4), time(23, 59)), estimated_time=240, is_scheduled=True,
            event_type="Juicer", condition="Scheduled", external_id=f"3{JUICER_REF}", sync_status="synced"))
        connection.execute(Schedule.__table__.insert().values(
            event_ref_num=JUICER_REF, employee_id="US157006", schedule_datetime=start, external_id=f"5{JUICER_REF}",
            sync_status="synced"))
        bump_data_version(connection)


def add_hostile_check_run(engine: Engine, name: str, short: str = HOSTILE_SHORT) -> None:
    """A check run by `short` whose notification says `name`, its first finding acknowledged by `short` with the note
    `name`."""
    from services.store.data_version import bump_data_version
    from services.quality.checks import run_check
    from services.settings import load_settings

    run_check(engine, load_settings({}), triggered_by=short)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dashboard_check_runs SET notification = :name"), {"name": name})
        connection.execute(text(
            "UPDATE dashboard_findings SET acknowledged_by = :short, acknowledged_at = :now, "
            "acknowledgement_note = :name WHERE id = (SELECT MIN(id) FROM dashboard_findings)"),
            {"short": short, "now": datetime.now().replace(microsecond=0), "name": name})
        bump_data_version(connection)


def add_hostile_records(engine: Engine, name: str, short: str = HOSTILE_SHORT) -> None:
    """Records whose text someone else wrote: the check run of add_hostile_check_run, an operation needing attention
    (asked by `short`, message `name`), an audit entry about 606001 (by `short`) and a switch last changed by
    `short`."""
    from services.store.data_version import bump_data_version

    add_hostile_check_run(engine, name, short)
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as connection:
        events = json.dumps([{"ref": 606001, "role": "core", "before": None, "after": None}])
        connection.execute(text(
            "INSERT INTO dashboard_operations (idempotency_key, kind, requested_by, requested_at, status, message, "
            "request, events, updated_at) VALUES ('k-hostile', 'reschedule', :short, :now, 'needs_attention', "
            ":name, '{}', :events, :now)"), {"short": short, "now": now, "name": name, "events": events})
        connection.execute(text(
            "INSERT INTO dashboard_audit (at, actor, event_ref, action, before, after, message) "
            "VALUES (:now, :short, 606001, 'reschedule', NULL, NULL, :name)"), {"now": now, "short": short, "name": name})
        connection.execute(text("DELETE FROM dashboard_switches WHERE name = 'maintenance_mode'"))
        connection.execute(text("INSERT INTO dashboard_switches (name, enabled, changed_by, changed_at) "
                                "VALUES ('maintenance_mode', :off, :short, :now)"),
                           {"off": False, "short": short, "now": now})
        bump_data_version(connection)


# --- what an AppTest run drew as Markdown ---------------------------------------------------------------------------

# Proto fields Streamlit renders as Markdown, by the proto's name. Not here, as they are drawn as text: st.text,
# st.code, st.json, selectbox and multiselect options, input values and placeholders, and st.dataframe cells.
_MARKDOWN_FIELDS = {
    "Markdown": ("body",), "Heading": ("body", "help"), "Alert": ("body",), "Toast": ("body",),
    "Button": ("label", "help"), "DownloadButton": ("label", "help"), "PageLink": ("label", "help"),
    "Checkbox": ("label", "help"), "Radio": ("label", "help", "options"), "Selectbox": ("label", "help"),
    "MultiSelect": ("label", "help"), "Metric": ("label", "help"), "DateInput": ("label", "help"),
    "TextInput": ("label", "help"), "TextArea": ("label", "help"), "NumberInput": ("label", "help"),
    "TimeInput": ("label", "help"), "Slider": ("label", "help"), "ButtonGroup": ("label", "help"),
    "Progress": ("text",), "Expandable": ("label",), "Tab": ("label",), "Dialog": ("title",), "Popover": ("label",),
}


def markdown_sources(app: Any) -> Iterator[tuple[str, str]]:
    """(where, source) for every piece of Markdown in an AppTest run: bodies, labels, help texts, option labels of
    radios and button groups, dialog titles, and the cells and headers of st.table."""
    def walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
        proto = getattr(node, "proto", None)
        if proto is not None and type(proto).DESCRIPTOR.full_name == "Block" and proto.WhichOneof("type"):
            proto = getattr(proto, proto.WhichOneof("type"))  # a dialog, popover, ...: what it is
        kind = type(proto).DESCRIPTOR.name if proto is not None else type(node).__name__
        where = f"{path}/{type(node).__name__}"
        for field in _MARKDOWN_FIELDS.get(kind, ()):
            value = getattr(proto, field)
            for item in ([value] if isinstance(value, str) else value):
                yield f"{where}.{field}", item
        if kind == "ButtonGroup":
            for option in proto.options:
                yield f"{where}.option", option.content
        if type(node).__name__ == "Table":
            frame = node.value
            for column in frame.columns:
                yield f"{where}.header", str(column)
            for cell in frame.astype(str).to_numpy().ravel():
                yield f"{where}.cell", cell
        for index, child in enumerate(getattr(node, "children", {}).values()):
            yield from walk(child, f"{path}/{index}")

    yield from walk(app._tree, "")


# --- what a Markdown source does ------------------------------------------------------------------------------------

_ESCAPABLE = frozenset(string.punctuation)  # CommonMark: a backslash before ASCII punctuation makes it text
# The app's own markup (the only HTML, entity and directive it writes itself): day cards, badges, the timeline.
_OWN_MARKUP = re.compile(r"</?(?:span|b|br)(?: style='[^'<>]*')?>|&nbsp;|:red\[\*\*")


def _views(source: str) -> tuple[str, str, str]:
    """The source three ways: `syntax`, outside code spans, each escaped character a NUL (it is text, it opens
    nothing); `rewritten`, outside code spans, each escaped character itself (what Streamlit rewrites after parsing
    sees, escaped or not); `shown`, escapes resolved and code spans' contents kept."""
    syntax, rewritten, shown = [], [], []
    index = 0
    while index < len(source):
        character = source[index]
        if character == "\\" and index + 1 < len(source) and source[index + 1] in _ESCAPABLE:
            syntax.append("\0")
            rewritten.append(source[index + 1])
            shown.append(source[index + 1])
            index += 2
            continue
        if character == "`":
            run = len(re.match(r"`+", source[index:]).group(0))
            close = re.compile(rf"(?<!`)`{{{run}}}(?!`)").search(source, index + run)
            if close is not None:  # a code span: nothing inside is Markdown, nor rewritten
                syntax.append(" ")
                rewritten.append(" ")
                inside = source[index + run:close.start()]
                shown.append(inside[1:-1] if inside.startswith(" ") and inside.endswith(" ") and inside.strip()
                             else inside)
                index = close.end()
                continue
            character = "`" * run
            syntax.append("\0" * run)
        else:
            syntax.append(character)
        rewritten.append(character)
        shown.append(character)
        index += len(character)
    return "".join(syntax), "".join(rewritten), "".join(shown)


_SYNTAX = {
    "link or image": re.compile(r"!\[|\]\(|\]\[|^\s*\[[^\]]*\]:", re.MULTILINE),
    "HTML or autolink": re.compile(r"<[A-Za-z/!?]"),
    "character reference": re.compile(r"&#?[0-9A-Za-z]+;"),
    "maths": re.compile(r"\$"),
    "directive": re.compile(r":[A-Za-z]"),
}
_TEXT = {
    "bare URL": re.compile(r"(?i)(?:https?|ftp)://|\bwww\."),
    "e-mail address": re.compile(r"[\w.+-]@[\w-]+\.[\w-]"),  # GFM links a domain with a dot
    # not the colons of 10:30:45: no shortcode is two digits
    "icon, logo or emoji": re.compile(r":(?:material[/_]|streamlit:)|:(?:[0-9]*[A-Za-z_+-][\w+-]*|[0-9]{3,}):"),
    "arrow or dash": re.compile(r"(?:^|\s)(?:<->|->|<-|--|>=|<=|~=)(?:\s|$)"),
}


def unsafe_markup(source: str) -> list[str]:
    """What in `source` Streamlit would draw as something other than its text, beyond the app's own markup."""
    syntax, rewritten, _ = (_OWN_MARKUP.sub(" ", view) for view in _views(source))
    return ([f"{what} {match.group(0)!r}" for what, pattern in _SYNTAX.items() for match in pattern.finditer(syntax)]
            + [f"{what} {match.group(0)!r}" for what, pattern in _TEXT.items() for match in pattern.finditer(rewritten)])


def unescaped_markup_characters(source: str) -> str:
    """The characters that could open Markdown and stand unescaped outside code spans (underscores only at a word's
    edge: inside a word they emphasise nothing)."""
    syntax = _views(source)[0]
    return "".join(match.group(0) for match in re.finditer(r"[\\`*\[\]()!<>&$~|#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])",
                                                           syntax))


def shown_text(source: str) -> str:
    """The text a Markdown source shows when it holds no markup: escapes resolved, code spans' contents, word joiners
    dropped."""
    return _views(source)[2].replace(WORD_JOINER, "")
