"""market.records: the people-and-records use cases, on a real store."""

from __future__ import annotations

import json

import pytest

from p2pmarket.clock import DAY
from p2pmarket.errors import Invalid, Refused
from p2pmarket.market import records
from p2pmarket.models import Role, User
from p2pmarket.services.trust import operators
from tests.conftest import PASSPHRASE, make_user


def _add(market, handle, **kw):
    return records.add_user(
        market,
        handle=handle,
        real_name=handle.title(),
        passphrase=kw.pop("passphrase", PASSPHRASE),
        home=records.home_of(None, 31.2, 121.4),
        **kw,
    )


def test_home_of_an_area_or_coordinates_which_win():
    centre = records.home_of("jingan", None, None)
    assert centre.area == "jingan" and centre.lat and centre.lon
    assert records.home_of("jingan", 31.0, 121.0) == records.Home("jingan", 31.0, 121.0)
    with pytest.raises(Invalid, match="--lat and --lon"):
        records.home_of(None, 31.0, None)


def test_the_first_user_is_the_operator_and_may_make_a_newcomer_a_mediator(market):
    amy = _add(market, "amy")
    boss = market.trusted_actor("amy")
    bob = _add(market, "bob", mediator=True, by=boss)
    assert bob.role == "mediator"
    assert records.show_user(market, "amy", by=boss)["operator"] is True
    assert amy.role == "member"


def test_a_refused_mediator_grant_adds_nobody(market):
    _add(market, "amy")
    _add(market, "bob")
    with pytest.raises(Refused, match="--as amy"):
        _add(market, "cat", mediator=True)
    with pytest.raises(Refused, match="not bob"):
        _add(market, "cat", mediator=True, by=market.trusted_actor("bob"))
    with pytest.raises(Invalid, match="No user 'cat'"):
        records.show_user(market, "cat")


def test_a_short_passphrase_is_refused_before_the_operator_is_asked(market):
    with pytest.raises(Invalid, match="at least"):
        _add(market, "cat", passphrase="short", mediator=True)


def test_others_see_published_facts_and_oneself_everything(market):
    _add(market, "amy")
    _add(market, "bob")
    bob = market.trusted_actor("bob")
    own = records.show_user(market, "bob", by=bob)
    assert own["real_name"] == "Bob" and own["operator"] is False
    seen = records.show_user(market, "bob")
    assert seen["handle"] == "bob" and "real_name" not in seen and seen["distance"] is None
    assert records.show_user(market, "bob", by=market.trusted_actor("amy"))["distance"]
    assert [u.profile.handle for u in records.list_users(market)] == ["amy", "bob"]


def test_operator_acts_say_whether_they_changed_anything(market, store):
    _add(market, "amy")
    _add(market, "bob")
    boss = market.trusted_actor("amy")
    assert records.verify_user(market, "BOB", boss) == records.OperatorAct("bob", True)
    assert records.verify_user(market, "bob", boss).changed is False
    assert records.set_role(market, "bob", Role.mediator, boss).changed is True
    with pytest.raises(Refused, match="Only the market's operator"):
        records.set_role(market, "bob", Role.member, None)
    with store.read() as session:
        bob = session.get(User, market.trusted_actor("bob").user.id)
        assert bob.verified and bob.role == Role.mediator


def test_init_names_an_operator_only_for_a_market_without_one(market):
    setup = records.init(market, "zed")
    assert setup.operator == operators.OperatorView("zed", pending=True)
    assert setup.to_json()["pending"] is True and setup.schema_version
    _add(market, "zed")
    with pytest.raises(Refused, match="operator is zed"):
        records.init(market, "amy")


def test_export_is_of_ones_own_history_and_verifies_against_the_store(market, store, clock):
    make_user(store, clock, "amy")
    amy = market.trusted_actor("amy")
    with pytest.raises(Refused, match="only your own"):
        amy.export_history("bob")
    made = amy.export_history(" AMY ")
    data = json.loads(made.text)
    assert data["handle"] == "amy" and data["history_hash"] == made.history_hash
    assert records.verify_export(market, data).ok
    csv_text = amy.export_history("amy", "csv").text
    assert csv_text.splitlines()[-1].endswith(made.history_hash)


def test_credit_records_show_my_scores_as_the_tick_wrote_them(market, store, clock):
    make_user(store, clock, "amy")
    amy = market.trusted_actor("amy")
    clock.advance(90 * DAY)  # the account's age counts once the tick has written it
    assert amy.credit_records().history == []
    market.tick()
    shown = amy.credit_records()
    assert [e.reason for e in shown.history] == ["account 3 months old"]
    assert shown.scores.transaction == shown.history[-1].score_after
    assert shown.statement == []
    assert amy.history() == [
        {k: e.__dict__[k] for k in ("id", "at", "delta", "score_after", "reason")}
        for e in reversed(shown.history)
        if e.dimension == "transaction"
    ]


@pytest.mark.sqlite_only
def test_backups_and_reset_are_stamped_by_the_markets_clock(market, store, clock, config):
    make_user(store, clock, "amy")
    made = records.backup(market, reason="tui")
    assert records.list_backups(market) == [made]
    assert records.verify(market).ok
    store.close()
    kept = records.reset(config, clock)
    assert kept.name == f"market-{clock.now()}-pre-reset.db"
    assert not config.sqlite_path.exists()


def test_migrate_refuses_the_same_store_and_a_missing_source(config, tmp_path):
    with pytest.raises(Refused, match="same store"):
        records.migrate(config, "sqlite:///x.db", "sqlite:///x.db")
    with pytest.raises(Refused, match="no market"):
        records.migrate(config, f"sqlite:///{tmp_path}/none.db", f"sqlite:///{tmp_path}/b.db")


def _tamper(store, statement):
    """An edit outside the market (no signature, no entry): what someone with the file does."""
    from sqlalchemy import text

    with store.write() as session:
        session.connection().execute(text(statement))


@pytest.fixture
def clean(market):
    """Two people added as the market adds them (it passes verify), one with money."""
    _add(market, "ops")
    _add(market, "bob")
    bob = market.actor("bob", PASSPHRASE)
    bob.topup(10_000, "fund")
    assert records.verify(market).ok  # remembered: later opens check only what follows
    return bob


def test_a_market_opened_unchecked_moves_nothing_until_checked_and_a_write_checks_first(
    clean, store, clock
):
    from p2pmarket.market import Market

    assert Market(store, clock).damage is None
    _tamper(store, "UPDATE account SET balance = balance + 7")
    opened = Market(store, clock, check=False)  # as the TUI opens it, the check after home
    assert not opened.checked
    assert opened.tick() == [] and not opened.checked  # its timers wait for the check
    later = opened.actor("bob", PASSPHRASE)
    with pytest.raises(Refused) as info:
        later.topup(500, "after-tamper")  # a write checks first: refused, as at a checked open
    assert info.value.code == "store_damaged" and "balances sum to" in info.value.message
    assert opened.checked and opened.damage == info.value.message
    assert later.wallet().balance == 10_000 + 7  # the tampering only: the top-up made nothing


def test_a_row_damaged_after_the_last_clean_verify_is_caught_at_the_next_open(clean, store, clock):
    from p2pmarket.market import Market

    clean.topup(2_500, "after-the-verify")
    assert Market(store, clock).damage is None
    # The newest ledger row, made after the last clean verify, edited in place.
    _tamper(store, "UPDATE entry SET amount = amount + 1 WHERE id = (SELECT max(id) FROM entry)")
    damage = Market(store, clock).damage
    assert damage is not None and "entry #" in damage
    _tamper(store, "UPDATE entry SET amount = amount - 1 WHERE id = (SELECT max(id) FROM entry)")
    assert Market(store, clock).damage is None
    # A column no chain holds, on a row older than that verify: still checked whole.
    _tamper(store, f"UPDATE \"user\" SET passphrase_hash = 'x' WHERE id = {clean.user.id}")
    assert "passphrase hash" in Market(store, clock, check=False).damage


def test_logging_in_a_person_with_a_sealed_key_refuses_a_wrong_passphrase_for_that(market):
    # The key is unsealed beside the passphrase's check (both argon2): a passphrase that
    # opens no account is refused as such, not as a key that would not unseal.
    make_user(market.store, market.clock, "ana", verified=True, role=Role.member)
    ana = market.actor("ana", PASSPHRASE)
    ana.topup(1_000, "first-write")  # her first write with her passphrase seals her key
    with pytest.raises(Refused) as refused:
        market.actor("ana", PASSPHRASE + "x")
    assert refused.value.code == "wrong_passphrase"
    again = market.actor("ana", PASSPHRASE)
    assert again.key is not None
    assert again.key.public_key().public_bytes_raw() == ana.key.public_key().public_bytes_raw()
