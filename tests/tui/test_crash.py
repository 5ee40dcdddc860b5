"""A bug ends the app with its traceback, never with the values its frames held."""

from __future__ import annotations

import pytest

from p2pmarket.tui.app import MarketApp


async def test_a_bug_shows_its_traceback_without_the_values_it_held(store, config, clock, capfd):
    app = MarketApp(config=config, clock=clock)

    def bug() -> None:
        passphrase = " ".join(["correct", "horse"])  # noqa: F841 (a value, not its source)
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        async with app.run_test() as pilot:
            app.call_later(bug)
            await pilot.pause()
    printed = capfd.readouterr().err  # what the app printed on its way out
    assert "RuntimeError" in printed and "a bug" in printed
    assert "correct horse" not in printed
