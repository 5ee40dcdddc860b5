"""Hostile strings a market of strangers will see: markup, actions, escapes, controls, bidi,
zero-width, surrogates, RTL, emoji, huge. Every text field must store them safely and every
face must show them literally (minus the controls the cleaning rule strips)."""

HOSTILE = [
    # Rich / Textual markup and actions
    "[bold]bold[/bold]",
    "[@click=app.quit]Free bike[/]",
    "[@click=app.bell]ring[/]",
    "[@click=screen.dismiss()]close[/]",
    "[/]",
    "[/bold]",
    "[",
    "]",
    "[[double]]",
    "\\[escaped]",
    "[red]unclosed",
    "[link=https://evil.example]click me[/link]",
    "[on red][blink]x[/blink][/on red]",
    "[$accent]token[/]",
    "$accent $text-muted",
    ":warning: :smile: emoji codes",
    "[b][i][u]nested",
    # ANSI / OSC / DCS / C1 / controls
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[Hcleared",
    "\x1b]0;pwned title\x07",
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07clipboard",
    "\x1bP+q544e\x1b\\dcs",
    "\x9b31m8-bit CSI",
    "\x90dcs8\x9c",
    "\x9d0;osc8\x9c",
    "\x1b[6n cursor report",
    "\x1b[?1049h alt screen",
    "\x1b[1;1H\x1b[K home",
    "bell\x07bell",
    "back\x08\x08space",
    "carriage\rreturn",
    "nul\x00byte",
    "\x00",
    "del\x7fete",
    "next\x85line",
    "vertical\x0btab\x0cfeed",
    # bidi and invisible
    "\u202eevil.exe\u202c",
    "\u2066isolate\u2069",
    "\u200fright-to-left mark",
    "\u061carabic letter mark",
    "zero\u200bwidth\u200bspace",
    "\ufeffbyte order mark",
    "word\u2060joiner",
    # surrogates and odd unicode
    "lone \ud800 surrogate",
    "x\udfffy",
    "e\u0301\u0301\u0301 stacked accents",
    "Z\u0337\u0322\u031b\u0329a\u0334l\u0336g\u0337o",
    "\ufb01 ligature",
    "A\u030a decomposed",
    # right-to-left and CJK
    "مرحبا بالعالم",
    "שלום עולם",
    "二手自行车，九成新",
    "全角　スペース",
    # emoji with modifiers
    "👩🏽‍💻 coder",
    "🏳️‍🌈 flag",
    "👍🏿 thumbs",
    "🇨🇳🇬🇧 flags",
    # injection-shaped
    "'; DROP TABLE listing; --",
    "Robert'); DROP TABLE user;--",
    "%s%s%s%n",
    "{0}{__class__}",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    # shape
    "line one\nline two",
    "tab\there",
    "   ",
    "\u3000",
    "A" * 100_000,
    "长" * 5_000,
]

# What the cleaning rule strips; nothing of this may be stored or reach a terminal.
FORBIDDEN = set(
    [chr(c) for c in range(0x00, 0x20) if chr(c) not in "\n\t"]
    + [chr(0x7F)]
    + [chr(c) for c in range(0x80, 0xA0)]
    + list("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
    + [chr(c) for c in range(0xD800, 0xE000)]
)


def forbidden_in(text: str) -> set[str]:
    return {ch for ch in text if ch in FORBIDDEN}
