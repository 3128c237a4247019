"""Untrusted text in Markdown: names, notes, query parameters and messages that may carry what someone typed (or what
Crossmark sent) are shown as the text they are, never as links, images, HTML, maths or emphasis."""
from __future__ import annotations

import re
import unicodedata

SHOWN_MAX = 60  # how much of a refused value a message repeats
# Characters that open Markdown (or Streamlit's directives, maths and HTML); "_" only where it could emphasise, since
# intraword underscores (rule names such as core_supervisor_unstaffed) are plain text already.
_MARKUP = re.compile(r"[\\`*\[\]<>$~|#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _one_line(value: object, limit: int | None) -> str:
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return "".join((" " if character in "\n\r\t" else "\ufffd") if unicodedata.category(character) == "Cc"
                   else character for character in text)


def plain(value: object, limit: int | None = None) -> str:
    """`value` for a Markdown body (st.error, st.markdown, captions): one line, markup characters escaped."""
    return _MARKUP.sub(lambda match: "\\" + match.group(0), _one_line(value, limit))


def literal(value: object, limit: int | None = SHOWN_MAX) -> str:
    """`value` as inline code, for repeating what someone typed: nothing inside a code span is markup."""
    text = _one_line(value, limit)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
