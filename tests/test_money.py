import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pmarket import money
from p2pmarket.errors import Invalid


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("¥12.50", 1250),
        ("12", 1200),
        (" 0.01 ", 1),
        ("CNY 3", 300),
        ("￥100000", 10_000_000),
    ],
)
def test_parse_accepts_plain_amounts(text, minor):
    assert money.parse(text) == minor


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("-5", "amount_negative"),
        ("0.001", "amount_precision"),
        ("1e3", "amount_format"),
        ("NaN", "amount_format"),
        ("inf", "amount_format"),
        ("", "amount_format"),
        ("0", "amount_zero"),
        ("12,5", "amount_format"),
        ("١٢", "amount_format"),
        ("99999999999", "amount_too_large"),
        ("1.2.3", "amount_format"),
    ],
)
def test_parse_refuses_with_a_reason(text, code):
    with pytest.raises(Invalid) as info:
        money.parse(text)
    assert info.value.code == code
    assert info.value.message


@given(st.integers(min_value=1, max_value=money.MAX_MINOR))
def test_format_then_parse_round_trips(minor):
    assert money.parse(money.fmt(minor).replace(",", "")) == minor


@given(st.text(max_size=30))
def test_parse_never_crashes_and_never_returns_a_float(text):
    try:
        value = money.parse(text)
    except Invalid:
        return
    assert isinstance(value, int)
    assert 0 < value <= money.MAX_MINOR


def test_check_refuses_floats_and_bools():
    for bad in (12.5, True, "12"):
        with pytest.raises(Invalid):
            money.check(bad)


@pytest.mark.parametrize("text", ["", "  ", "¥", "¥ "])
def test_an_empty_amount_asks_for_one(text):
    # Not "Amount '' is not a plain amount": an empty box (the editor, an offer) asks.
    with pytest.raises(Invalid, match=r"^Type an amount, like 12 or 12\.50\.$"):
        money.parse(text)
