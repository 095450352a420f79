"""ANSI colour codes to safe HTML."""

from __future__ import annotations

import re

from markupsafe import Markup

from app.ansible.ansi import ansi_to_html


def balanced(html: str) -> bool:
    """True if every <span ...> is closed, in order, with no nesting issues."""
    depth = 0
    for tag in re.findall(r"</?span\b", html):
        depth += -1 if tag.startswith("</") else 1
        if depth < 0:
            return False
    return depth == 0


def test_it_escapes_html_before_anything_else():
    html = ansi_to_html('\x1b[0;31m<script>alert("x")</script>\x1b[0m & more')
    assert "<script>" not in html
    assert html == '<span class="ansi-red">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span> &amp; more'


def test_it_returns_markup():
    assert isinstance(ansi_to_html("plain"), Markup)
    assert ansi_to_html("plain") == "plain"


def test_it_maps_ansible_colours():
    html = ansi_to_html("\x1b[0;32mok\x1b[0m \x1b[0;33mchanged\x1b[0m \x1b[1;31mfatal\x1b[0m \x1b[0;36mskip\x1b[0m")
    assert html == (
        '<span class="ansi-green">ok</span> <span class="ansi-yellow">changed</span> '
        '<span class="ansi-bold ansi-red">fatal</span> <span class="ansi-cyan">skip</span>'
    )


def test_it_maps_bright_colours_bold_and_resets():
    html = ansi_to_html("\x1b[95mpink\x1b[1m bold\x1b[39m nocolour\x1b[22m normal \x1b[mreset")
    assert html == (
        '<span class="ansi-bright-magenta">pink</span>'
        '<span class="ansi-bold ansi-bright-magenta"> bold</span>'
        '<span class="ansi-bold"> nocolour</span> normal reset'
    )


def test_it_strips_other_escape_sequences():
    html = ansi_to_html("a\x1b[2Kb\x1b[?25lc\x1b]0;title\x07d\x1b[4me\x1b[48;5;200mf\x1b[1Ag")
    assert html == "abcdefg"


def test_it_does_not_read_extended_colour_arguments_as_codes():
    assert ansi_to_html("\x1b[38;5;31mx\x1b[0m") == "x"  # 31 is a palette index here, not red
    assert ansi_to_html("\x1b[38;2;1;32;3mx") == "x"


def test_it_never_leaves_tags_unbalanced():
    for text in ["\x1b[31munclosed", "\x1b[1m\x1b[32m\x1b[33mx", "\x1b[0m\x1b[0m", "\x1b[31m", "x\x1b[", "\x1b"]:
        html = ansi_to_html(text)
        assert balanced(html), (text, html)
        assert "\x1b" not in html
