"""What the market's use-case tests share: a market on the test store, and two neighbours."""

import pytest

from p2pmarket.market import Market
from p2pmarket.models import Role
from tests.conftest import PASSPHRASE, make_listing, make_user


@pytest.fixture
def market(store, clock):
    return Market(store, clock)


@pytest.fixture
def neighbours(market):
    """Bob buys from Lin (piano lessons, ¥150 an hour, 2 left); Bob holds ¥1,000. Both act
    with their passphrase (their keys sign)."""
    store, clock = market.store, market.clock
    for handle in ("bob", "lin"):
        make_user(store, clock, handle, verified=True, role=Role.member)
    lin = market.actor("lin", PASSPHRASE)
    listing = make_listing(store, clock, lin.user, quantity=2)
    bob = market.actor("bob", PASSPHRASE)
    bob.topup(100_000, "fund")
    return bob, lin, listing
