"""Search tokens and price buckets: what the search index holds, computed the same way for
both stores (store/sqlite, store/postgres) and for the queries that read them (services).

Tokens are ours, not a tokenizer's: latin/digit runs are folded (NFKC, casefold, no
diacritics); runs of Chinese/Japanese/Korean characters become unigrams and bigrams, the
usual CJK indexing, so the two-character query 钢琴 finds 钢琴课 and 少儿钢琴课.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from functools import lru_cache

_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_RUN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=65_536)
def tokens(text: str) -> tuple[str, ...]:
    """Index tokens of a text: folded latin/digit words, CJK unigrams and bigrams."""
    out: list[str] = []
    for cjk, word in _RUN.findall(_fold(text)):
        if word:
            out.append(word)
        else:
            out.extend(cjk)
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return tuple(dict.fromkeys(out))


def query_tokens(text: str) -> tuple[str, ...]:
    """Tokens of what a person typed: each must prefix some token of a listing."""
    out: list[str] = []
    for cjk, word in _RUN.findall(_fold(text)):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return tuple(dict.fromkeys(out))


def listing_tokens(title: str, description: str | None) -> tuple[str, ...]:
    """The words of a listing as indexed: its title's tokens, then its description's."""
    return tuple(dict.fromkeys(tokens(title) + (tokens(description) if description else ())))


def has_prefixes(words: tuple[str, ...], title: str, description: str | None) -> bool:
    """Whether every word prefixes some token of the title or description (what the
    index answers for a prefix query on the words)."""
    toks = tokens(title) + (tokens(description) if description else ())
    return all(any(t.startswith(w) for t in toks) for w in words)


# Tags: a listing's kind, category and price bucket, indexed beside its words. A token per
# price bucket lets "cheapest" read the cheapest buckets first and stop once a page is full.
# Bounds are integers (minor units), so bucket order is price order.
PRICE_BOUNDS = tuple(sorted({round(10 * 1.25**i) for i in range(120)}))


def price_bucket(price: int) -> int:
    return bisect.bisect_right(PRICE_BOUNDS, price)


def kind_tag(kind: str) -> str:
    return f"k{kind}"


def category_tag(slug: str) -> str:
    return "c" + slug.replace("-", "")


def price_tag(bucket: int) -> str:
    return f"p{bucket}"


def tags(category: str, kind: str, price: int) -> tuple[str, str, str]:
    return kind_tag(kind), category_tag(category), price_tag(price_bucket(price))
