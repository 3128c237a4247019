"""The Calendar's month grid as the browser gets it: its HTML read back into cells, for the tests that check what
the page shows (not what the builder meant to show)."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ShownCell:
    day: str  # ISO date, from data-day
    href: str
    title: str
    classes: set[str]
    style: str
    texts: dict[str, str] = field(default_factory=dict)  # span class (mg-day, mg-total, mg-types, mg-mark ...) -> text


class _GridParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[ShownCell] = []
        self.weeks: list[str] = []
        self.heads: list[str] = []
        self.scale = False
        self._span: str | None = None
        self._cell: ShownCell | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if tag == "a" and "mg-cell" in classes:
            self._cell = ShownCell(values["data-day"], values["href"], values["title"], classes, values["style"])
            self.cells.append(self._cell)
        elif tag == "span":
            self._span = next(iter(sorted(classes)), None)
        if "mg-scale" in classes:
            self.scale = True

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "a":
            self._cell = None
        elif tag == "span":
            self._span = None

    def handle_data(self, data):  # noqa: ANN001
        if self._span == "mg-week":
            self.weeks.append(data)
        elif self._span == "mg-head":
            self.heads.append(data)
        elif self._cell is not None:
            name = self._span or "mg-day"
            self._cell.texts[name] = self._cell.texts.get(name, "") + data


def parse_grid(html: str) -> _GridParser:
    parser = _GridParser()
    parser.feed(html)
    return parser


@dataclass
class ShownDay:
    """One line of the Calendar's list of days (what a phone shows)."""
    day: str  # ISO date, from data-day
    href: str = ""
    label: str = ""  # the link's text: "Tue Dec 08 · 4 scheduled"
    counts: str = ""  # the line under it: "Core 3 · Supervisor 1 · ▲ 1 Unstaffed due"


class _DayListParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.days: list[ShownDay] = []
        self.note = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        values = dict(attrs)
        if tag == "li":
            self.days.append(ShownDay(values["data-day"]))
        elif tag == "a" and self.days:
            self.days[-1].href, self._in = values["href"], "label"
        elif tag == "span" and "mg-counts" in (values.get("class") or ""):
            self._in = "counts"
        elif tag == "p":
            self._in = "note"

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag in ("a", "span", "p"):
            self._in = None

    def handle_data(self, data):  # noqa: ANN001
        if self._in == "note":
            self.note += data
        elif self._in is not None:
            setattr(self.days[-1], self._in, getattr(self.days[-1], self._in) + data)


def parse_day_list(html: str) -> _DayListParser:
    parser = _DayListParser()
    parser.feed(html)
    return parser
