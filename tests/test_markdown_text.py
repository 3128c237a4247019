"""dashboard.markdown_text: plain() shows any text as that text in every Markdown Streamlit draws (no link, image,
HTML, maths, icon, emoji, colour, emphasis, list or heading), and literal() repeats it as inline code."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.markdown_text import literal, plain
from tests.markdown_checks import WORD_JOINER, hostile_name, shown_text, unescaped_markup_characters, unsafe_markup

# Each of these is something other than its text in Streamlit 1.67's Markdown (checked in Chromium).
MARKUP = [
    "[Sign in again](https://evil.example/login)", "![t](http://attacker.example/p.png)", "[ref]: https://evil.example",
    "<img src=http://attacker.example/q.png>", "<b>loud</b>", "<https://evil.example/auto>", "&lt;tag&gt; &#91;x&#93;",
    "https://evil.example/login", "HTTP://EVIL.EXAMPLE", "www.evil.example", "WWW.Evil.example",
    "mail@evil.example", "mailto:mail@evil.example", "a@-b.example",
    ":material/warning:", ":material_home:", ":streamlit:", ":smile:", ":+1:", ":100:", ":1st_place_medal:",
    ":red[x]", ":blue-background[y]", ":rainbow[z]", ":help[h]", ":red", "note:red", "::leaf", ":::container",
    "$x^2$", "$$y$$", "**bold** _it_ __it__ ~~strike~~ `code`", "a -> b <- c <-> d -- e >= f <= g ~= h",
    "- item", "+ item", "* item", "1. item", "2026) item", "# heading", "> quote", "=== underline", "--- rule",
    "| a | b |", "back\\slash\\", "trailing\\",
]


# What opens a list, a heading, a quote, a table or a rule where a line starts ("**Juicer**  \n" + names).
BLOCK_START = re.compile(r"\s*(?:[-+*=>#|]|[0-9]{1,9}[.)])")


@pytest.mark.parametrize("text", MARKUP)
def test_plain_shows_markup_as_its_text(text):
    shown = plain(text)
    assert unsafe_markup(shown) == [], shown
    assert unescaped_markup_characters(shown) == "" and not BLOCK_START.match(shown), shown
    assert shown_text(shown) == text


def test_plain_escapes_the_hostile_name_and_keeps_its_text():
    name = hostile_name()
    assert unsafe_markup(name)  # the check sees what is wrong with it as it stands
    shown = plain(name)
    assert unsafe_markup(shown) == [] and shown_text(shown) == name
    assert shown.startswith(r"\[Sign in again\]\(https:" + WORD_JOINER + "//evil.example/login\\)")


@pytest.mark.parametrize("text, shown", [
    ("**bold**", r"\*\*bold\*\*"), ("- item", r"\- item"), ("1. item", r"1\. item"), ("  + x", r"  \+ x"),
    (":red[x]", ":" + WORD_JOINER + r"red\[x\]"), ("https://a.example", "https:" + WORD_JOINER + "//a.example"),
    ("www.a.example", "www" + WORD_JOINER + ".a.example"), ("a@b.example", "a@" + WORD_JOINER + "b.example"),
    ("a -> b", "a -" + WORD_JOINER + r"\> b"), ("&amp;", r"\&amp;"), ("$5", r"\$5"), ("- a\nb", r"\- a b"),
    ("a\nb\r\n- c\x00", "a b  - c\ufffd"), ("Sam's Club #8135", r"Sam's Club \#8135"),
    ("10:30:45", "10:" + WORD_JOINER + "30:45"),  # else ":30:" could be a shortcode
    # ordinary text stays as it is, without word joiners
    ("core_supervisor_unstaffed", "core_supervisor_unstaffed"), ("Mon Mar 09, 10:30", "Mon Mar 09, 10:30"),
    ("606001-CORE-Super Pretzel King Size", "606001-CORE-Super Pretzel King Size"), ("Note: checked", "Note: checked"),
    ("2026-03-09", "2026-03-09"), (606001, "606001"), ("mallory@localhost", "mallory@localhost"),
])
def test_plain_escapes_with_backslashes_and_breaks_what_is_rewritten_after_parsing(text, shown):
    assert plain(text) == shown


@pytest.mark.parametrize("text", MARKUP + [hostile_name(), "``", "a ` b", " ", " x ", ":material/warning: in code"])
def test_literal_is_inline_code_that_shows_exactly_what_was_typed(text):
    shown = literal(text, None)
    assert unsafe_markup(shown) == [] and unescaped_markup_characters(shown) == "", shown
    assert shown_text(shown) == text
    assert ":material/" not in shown  # Streamlit rewrites that one even inside code spans


FRAGMENTS = ["https://", "http://", "www.", "WWW.", "@", ":", "::", ":material/", ":material_", "smile", "red", "[", "]",
             "(", ")", "!", "<", ">", "&", ";", "#", "$", "*", "_", "~", "`", "|", "\\", "-", "+", "=", "1.", "10",
             " ", "  ", "a", "Z", "é", "evil.example", "img src=", "\n", "\t", "--", "->"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3).filter(lambda t: WORD_JOINER not in t),
                max_size=25).map("".join))
def test_plain_never_lets_markup_through_and_always_keeps_the_text(text):
    shown = plain(text)
    assert unsafe_markup(shown) == [], shown
    assert unescaped_markup_characters(shown) == "" and not BLOCK_START.match(shown), shown
    one_line = "".join(" " if c in "\n\r\t" else ("\ufffd" if ord(c) < 32 or 127 <= ord(c) < 160 else c) for c in text)
    assert shown_text(shown) == one_line
