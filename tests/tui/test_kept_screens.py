"""A kept section shown again reads only if the store changed or the clock moved since its
last read: it shows what is true now (another process's commit, a deadline passed) and,
when nothing changed, shows itself as it was without reading (bench tui: screen switch)."""

import gc
import subprocess
import sys

import pytest

from p2pmarket.clock import DAY
from p2pmarket.market import Market
from p2pmarket.tui.app import MarketApp
from tests.conftest import PASSPHRASE
from tests.tui.helpers import SIZE, Trade, cells, settle

# lin, in a process of her own, accepts bob's order: a commit this app's store never made.
ACCEPT_ELSEWHERE = """
import sys
from pathlib import Path
from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock
from p2pmarket.market import Market

home, now, order_id, passphrase = sys.argv[1:]
market = Market.open(config_mod.resolve(home=Path(home)), FixedClock(int(now)))
market.actor("lin", passphrase).act(int(order_id), "accept")
market.close()
"""


def _bob_ordered(store, config, clock, *, paid: bool = False) -> tuple[MarketApp, int]:
    """bob's app, and his order of a trade's listing (accepted by lin and paid, with `paid`)."""
    trade = Trade(store, clock)
    market = Market.open(config, clock)
    try:
        bob = market.actor("bob", PASSPHRASE)
        order_id = bob.create_order(trade.listing.id).id
        if paid:
            market.actor("lin", PASSPHRASE).act(order_id, "accept")
            bob.pay(order_id)
    finally:
        market.close()
    return MarketApp(config=config, clock=clock, user="bob"), order_id


async def _show(pilot, key: str) -> None:
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


def _status(app, order_id: int) -> str:
    rows = {row[0]: row for row in cells(app.screen.query_one("#buying"))}
    return rows[str(order_id)][3]


async def test_shown_again_with_nothing_changed_it_is_not_read_again(store, config, clock):
    app, order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "o")
        orders = app.screen
        reads = []
        reload = orders.reload
        orders.reload = lambda: (reads.append(1), reload())
        for key in ("h", "o", "l", "o"):
            await _show(pilot, key)
        assert app.screen is orders
        assert reads == []
        await _show(pilot, "h")
        orders._countdowns()  # its 20 s timer runs on while another screen is shown
        assert reads == []
        await _show(pilot, "o")
        assert _status(app, order_id) == "requested"
        # This terminal's own write is a change too: read again.
        app.market.actor("bob", PASSPHRASE).act(order_id, "cancel")
        await _show(pilot, "h")
        await _show(pilot, "o")
        assert reads == [1]
        assert _status(app, order_id) == "cancelled"


@pytest.mark.sqlite_only  # the other process opens the same market by its home folder
async def test_shown_again_it_shows_what_another_process_committed(store, config, clock):
    app, order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "o")
        assert _status(app, order_id) == "requested"
        orders = app.screen
        await _show(pilot, "h")
        elsewhere = [str(config.home), str(clock.now()), str(order_id), PASSPHRASE]
        subprocess.run([sys.executable, "-c", ACCEPT_ELSEWHERE, *elsewhere], check=True)
        await _show(pilot, "o")
        assert app.screen is orders
        assert _status(app, order_id) == "accepted"


async def test_shown_again_after_the_clock_passed_a_deadline_it_is_settled(store, config, clock):
    """Nobody commits meanwhile: only the clock moves, past the delivery deadline."""
    app, order_id = _bob_ordered(store, config, clock, paid=True)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "o")
        assert _status(app, order_id) == "paid"
        await _show(pilot, "h")
        clock.advance(8 * DAY)
        await _show(pilot, "o")
        assert _status(app, order_id) == "refunded"


async def test_kept_screens_are_out_of_the_collectors_walk_while_their_person_is_in(
    store, config, clock
):
    """The collector's full pass walked every kept screen's widgets, 200–300 ms in the middle
    of a switch (bench tui): a section once shown is frozen out of its walk; another person
    logging in (their sections are dropped) or quitting lets it all be collected again."""
    app, _order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() == 0
        await _show(pilot, "o")
        assert gc.get_freeze_count() > 0
        await _show(pilot, "u")
        await pilot.press(*"lin", "enter", *PASSPHRASE, "enter")
        await settle(pilot)
        assert app.user.handle == "lin" and app._sections == {}
        assert gc.get_freeze_count() == 0
        await _show(pilot, "o")
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_shown_again_after_an_unrelated_commit_its_panes_keep_what_is_the_same(
    store, config, clock
):
    """A re-read that finds the order as it was keeps its buttons and its timeline, and a
    pane given the words it shows lays nothing out: new buttons cost their mount and a
    layout of the whole screen (bench tui: screen switch)."""
    app, order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "o")
        panel = app.screen.query_one("#order-panel")
        assert panel.order.id == order_id
        buttons = list(panel.query("#order-actions Button"))
        timeline = panel.query_one("#order-timeline").content
        assert buttons and timeline
        app.market.actor("bob", PASSPHRASE).send_message("lin", "still there?")
        await _show(pilot, "h")
        await _show(pilot, "o")
        assert list(panel.query("#order-actions Button")) == buttons
        assert panel.query_one("#order-timeline").content is timeline
        head = panel.query_one("#order-head")
        head.update(head.content)
        assert not app.screen._layout_required
        app.market.actor("bob", PASSPHRASE).act(order_id, "cancel")
        await _show(pilot, "h")
        await _show(pilot, "o")
        assert [b.name for b in panel.query("#order-actions Button")] != [b.name for b in buttons]
        assert panel.query_one("#order-timeline").content is not timeline


async def test_credit_shown_again_with_the_same_history_keeps_its_plot(store, config, clock):
    """Drawing the plot again costs its whole render: a re-read that finds the same credit
    history (someone committed something else) keeps the plot drawn."""
    app, _order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "r")
        plt = app.screen.query_one("#credit-plot").plt
        drawn, clear_data = [], plt.clear_data
        plt.clear_data = lambda: (drawn.append(1), clear_data())
        app.market.actor("bob", PASSPHRASE).send_message("lin", "still there?")
        await _show(pilot, "h")
        await _show(pilot, "r")
        assert app.screen.history is not None and drawn == []


async def test_credit_shown_again_keeps_its_records_result_until_the_new_one(store, config, clock):
    """Shown again after a commit, Credit verifies again in the background: its last result
    stays up until the new one replaces it (no "verifying…" in between: two layouts); `v`
    still says it is verifying."""
    app, _order_id = _bob_ordered(store, config, clock)
    async with app.run_test(size=SIZE) as pilot:
        await _show(pilot, "r")
        screen = app.screen
        status = screen.query_one("#records-status")
        assert "✓ verified" in str(status.render())
        drawn, records_status = [], screen._records_status
        screen._records_status = lambda *args, **kw: (
            drawn.append(args),
            records_status(*args, **kw),
        )
        app.market.actor("bob", PASSPHRASE).send_message("lin", "still there?")
        await _show(pilot, "h")
        await _show(pilot, "r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert drawn and all(args for args in drawn), "no 'verifying…' drawn when shown again"
        assert "✓ verified" in str(status.render())
        before = len(drawn)
        await pilot.press("v")
        assert drawn[before] == ()  # asked for: "verifying…" first
