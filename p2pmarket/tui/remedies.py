"""The services' sentences name the CLI command that lifts a limit (the face every script
has); in the app the same sentence names the keys to press instead (#13: the TUI told
people to run `p2pmarket contact set-tier …`). Each known command form has its key form;
an unknown one is left as it is, still true, only less handy.
"""

from __future__ import annotations

import re

_TIER_KEYS = {"stranger": "1", "acquaintance": "2", "trusted": "3"}


def _tier(match: re.Match) -> str:
    who = "them" if match["who"].startswith("<") else f"@{match['who']}"
    tier = match["tier"]
    return f"(press t for Contacts, choose {who}, then {_TIER_KEYS[tier]} {tier.capitalize()})"


_FORMS: list[tuple[re.Pattern, object]] = [
    (
        re.compile(r"\(`p2pmarket contact set-tier (?P<who>\S+) (?P<tier>\w+)(?: --as \S+)?`\)"),
        _tier,
    ),
    (re.compile(r"with `p2pmarket user verify (\S+) --as OPERATOR`"), r"by verifying @\1"),
    (
        re.compile(r"\(e\.g\. `p2pmarket privacy set verified on --as \S+`\)"),
        "(press p for Privacy and publish one, e.g. verified)",
    ),
    (re.compile(r"\(`p2pmarket credit show \S+`\)"), "(press r for Credit)"),
    (re.compile(r"with `p2pmarket chat mode <handle> trade`"), "with ctrl+o in Chat"),
    (re.compile(r"with `p2pmarket wallet topup AMOUNT`"), "with w on Home"),
    (re.compile(r"with `p2pmarket order dispute`"), "with i (Dispute) on Orders"),
    (
        re.compile(r"Pay with `p2pmarket order pay (\d+) --as \S+`"),
        r"Pay with ctrl+y in this chat, or y on Orders (#\1)",
    ),
    (re.compile(r"with `p2pmarket order create (\d+)`"), r"with b on listing #\1"),
    (re.compile(r"with `p2pmarket listing slots (\d+)`"), r"with b on listing #\1"),
    (
        re.compile(r"\(`p2pmarket offer withdraw ID`\)"),
        "(ctrl+f on your offer in the chat)",
    ),
    (
        re.compile(r"with `p2pmarket privacy set credit on --as \S+`"),
        "on their Privacy screen (p)",
    ),
    (
        re.compile(r"run `p2pmarket verify`"),
        "press r for Credit, then v to verify the records,",
    ),
]


def for_app(sentence: str) -> str:
    """`sentence` with each CLI command it names replaced by the app's keys."""
    for pattern, replacement in _FORMS:
        sentence = pattern.sub(replacement, sentence)
    return sentence
