"""Render Ansible's ANSI-coloured output as safe HTML."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
# CSI sequences (SGR is the one ending in "m"), OSC strings, and other two-byte escapes.
ESCAPE_RE = re.compile(
    r"\x1b\[(?P<params>[0-9;:?<=>]*)[ -/]*(?P<final>[@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
)


def ansi_to_html(text: str) -> Markup:
    """Escape text, then turn SGR colour codes into <span class="..."> and drop other escapes.

    Classes (write CSS for these):
      ansi-black ansi-red ansi-green ansi-yellow ansi-blue ansi-magenta ansi-cyan ansi-white  (30-37)
      ansi-bright-black ansi-bright-red ... ansi-bright-white                                  (90-97)
      ansi-bold                                                                                (1)
    A span can carry one colour class and ansi-bold, e.g. <span class="ansi-bold ansi-red">.
    Spans never nest: each closes before the next opens, and the last one closes at the end.
    """
    escaped = str(escape(text))  # escape first: ESC [ digits ; m survive escaping untouched
    state = _Style()
    out: list[str] = []
    pos = 0
    for match in ESCAPE_RE.finditer(escaped):
        out.append(state.wrap(escaped[pos : match.start()]))
        pos = match.end()
        if match.group("final") == "m":
            state = state.apply(match.group("params"))
    out.append(state.wrap(escaped[pos:]))
    return Markup("".join(out))


class _Style:
    """The current SGR state: a foreground colour class and bold."""

    def __init__(self, colour: str | None = None, bold: bool = False) -> None:
        self.colour, self.bold = colour, bold

    def wrap(self, chunk: str) -> str:
        """Chunk wrapped in a span for this style (or bare when unstyled or empty)."""
        classes = " ".join(c for c in ("ansi-bold" if self.bold else None, self.colour) if c)
        if not chunk or not classes:
            return chunk
        return f'<span class="{classes}">{chunk}</span>'

    def apply(self, params: str) -> _Style:
        """The style after an SGR sequence with these parameters."""
        colour, bold = self.colour, self.bold
        codes = _codes(params)
        while codes:
            code = codes.pop(0)
            if code in (38, 48):
                _skip_extended(codes)  # 38;5;n / 38;2;r;g;b must not be read as separate codes
            else:
                colour, bold = _apply(code, colour, bold)
        return _Style(colour, bold)


def _apply(code: int, colour: str | None, bold: bool) -> tuple[str | None, bool]:
    """(colour, bold) after one SGR code; codes we do not render (underline, background...) change nothing."""
    if code == 0:
        return None, False
    if code in (1, 22):
        return colour, code == 1
    if code == 39:
        return None, bold
    if 30 <= code <= 37:
        return f"ansi-{COLOURS[code - 30]}", bold
    if 90 <= code <= 97:
        return f"ansi-bright-{COLOURS[code - 90]}", bold
    return colour, bold


def _codes(params: str) -> list[int]:
    """SGR parameters as ints; an empty parameter means 0 (reset)."""
    if any(c in params for c in "?<=>"):
        return []  # private-mode sequences are not SGR
    return [int(p) if p.isdigit() else 0 for p in re.split(r"[;:]", params)]


def _skip_extended(codes: list[int]) -> None:
    """Drop the arguments of an extended colour (5;n or 2;r;g;b) from codes."""
    if codes and codes[0] == 5:
        del codes[:2]
    elif codes and codes[0] == 2:
        del codes[:4]
