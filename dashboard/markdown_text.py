"""Untrusted text in Markdown: names, notes, query parameters and messages that may carry what someone typed (or what
Crossmark sent) are shown as the text they are, never as links, images, HTML, maths, icons, colours or emphasis."""
from __future__ import annotations

import re
import unicodedata

SHOWN_MAX = 60  # how much of a refused value a message repeats
WORD_JOINER = "\u2060"  # invisible, zero-width and keeps the characters on either side on one line
# Characters that open Markdown (or Streamlit's directives, maths and HTML, and `&` entities); "_" only where it could
# emphasise, since intraword underscores (rule names such as core_supervisor_unstaffed) are plain text already.
_MARKUP = re.compile(r"[\\`*\[\]()!<>&$~|#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What Streamlit turns into something else *after* Markdown is parsed, where a backslash no longer counts: bare URLs
# (https://…, www.…) and e-mail addresses become links (GFM autolinks); `:material/x:`, `:streamlit:` and
# `:shortcode:` become icons, a logo and emoji; `:red`, `:help` are directives; " -> ", " -- ", " >= " become arrows and
# dashes. A word joiner after the colon (before www's dot, after the @, inside the arrow) breaks each pattern.
# Clock times (the colon of 10:30) and user@localhost (no dot, no link) stay as they are: nothing matches there.
_AFTER_PARSING = re.compile(r"(?<=:)(?!(?<=[0-9]:)[0-9]{2}(?![\w:]))(?=[\w/+-])|(?<=www)(?=\.)|(?<=@)(?=[\w-]+\.[\w-])"
                            r"|(?<=-)(?=[->])|(?<=<)(?=-)|(?<=[<>~])(?==)", re.IGNORECASE)
# A line that starts with these is a list item, a heading underline or a thematic break, even in the middle of a
# paragraph ("**Juicer**  \n" + names): the first one is escaped.
_LINE_START = re.compile(r"^(\s*)(?:([-+=])|([0-9]{1,9})\.)")


def _one_line(value: object, limit: int | None) -> str:
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return "".join((" " if character in "\n\r\t" else "\ufffd") if unicodedata.category(character) == "Cc"
                   else character for character in text)


def plain(value: object, limit: int | None = None) -> str:
    """`value` for any Markdown Streamlit draws (st.markdown, captions, alerts, toasts, headings, labels of buttons,
    expanders, tabs, metrics, radio options and help texts; also inside the HTML of an unsafe_allow_html body, but not
    in an attribute): one line that shows exactly its text. Invisible word joiners break URLs, e-mail addresses and
    `:name:` shortcodes, which Streamlit would otherwise link or replace whatever the escaping."""
    text = _AFTER_PARSING.sub(WORD_JOINER, _one_line(value, limit))
    text = _MARKUP.sub(lambda match: "\\" + match.group(0), text)
    return _LINE_START.sub(lambda match: match.group(1) + (f"\\{match.group(2)}" if match.group(2)
                                                           else f"{match.group(3)}\\."), text, count=1)


def literal(value: object, limit: int | None = SHOWN_MAX) -> str:
    """`value` as inline code, for repeating what someone typed: nothing inside a code span is markup (Streamlit only
    rewrites `:material/` before parsing, so a word joiner keeps that one as typed)."""
    text = _one_line(value, limit).replace(":material/", f":{WORD_JOINER}material/")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    # A code span loses one space at each end when it has both and is not all spaces; a backtick at an end needs one.
    padded = not text or "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip())
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"
