"""What the market's state machines share: a fresh store on a fixed clock, a step the
rules may refuse, and the ledger that must balance after every step."""

import tempfile
from pathlib import Path

from hypothesis.stateful import RuleBasedStateMachine, invariant

from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock
from p2pmarket.errors import MarketError
from p2pmarket.services.money import ledger
from p2pmarket.store.engine import Store
from tests.conftest import START, fresh_config


class MarketMachine(RuleBasedStateMachine):
    def open_store(self) -> None:
        """Call first in the machine's @initialize rule."""
        self.dir = tempfile.TemporaryDirectory()
        self.store = Store.open(fresh_config(Path(self.dir.name)))
        self.clock = FixedClock(START)
        self.settings = config_mod.Settings()

    def teardown(self):
        self.store.close()
        self.dir.cleanup()

    def _try(self, fn):
        """`fn(session)` in one write transaction; None if the rules refused it."""
        try:
            with self.store.write() as s:
                return fn(s)
        except MarketError:
            return None

    @invariant()
    def the_ledger_balances(self):
        if not hasattr(self, "store"):
            return
        with self.store.read() as s:
            totals = ledger.totals(s)
        assert (totals.sum_of_balances, totals.sum_of_entries, totals.negative_wallets) == (0, 0, 0)
