"""The shop use cases on a real store: one transaction each, views out, checks in one place."""

from __future__ import annotations

import pytest

from p2pmarket.errors import Invalid, Refused, Superseded
from p2pmarket.market import shop
from p2pmarket.models import Kind, Listing, ListingStatus, Unit
from p2pmarket.services.market import catalog, search
from p2pmarket.services.money import ledger
from p2pmarket.services.trust import privacy
from tests.conftest import make_listing, make_user

HOME = (31.2290, 121.4480)


def _seller_nearby(store, clock, handle="lin"):
    return make_user(store, clock, handle, lat=HOME[0] + 0.004, lon=HOME[1], public=HOME)


def test_add_listing_judges_its_price_against_the_band_without_it(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    amy = market.trusted_actor("amy")
    prior = catalog.category("piano-lessons").prior[Unit.hour]

    listed = amy.add_listing(
        kind=Kind.skill,
        title="Piano lessons",
        category="piano-lessons",
        price=prior.p75 * 3,
        unit=Unit.hour,
    )

    assert listed.listing.seller == "amy" and listed.listing.status == "active"
    # Alone in the market, the band is the category's prior: the new listing is not a vote,
    # and with nothing like it there is no verdict.
    assert listed.suggestion.listings == 0 and listed.verdict is None
    assert listed.suggestion.basis.startswith("no similar 'lessons' items yet")


def test_pause_or_resume_toggles_and_refuses_a_removed_listing(market, store, clock):
    lin = _seller_nearby(store, clock)
    listing = make_listing(store, clock, lin)
    actor = market.trusted_actor("lin")

    assert actor.pause_or_resume(listing.id).status == "paused"
    assert actor.pause_or_resume(listing.id).status == "active"
    assert actor.move_listing(listing.id, "remove").status == "removed"
    with pytest.raises(Refused, match="was removed"):
        actor.pause_or_resume(listing.id)


def test_someone_else_cannot_change_my_listing(market, store, clock):
    lin = _seller_nearby(store, clock)
    make_user(store, clock, "mallory")
    listing = make_listing(store, clock, lin)

    with pytest.raises(Refused, match="belongs to another seller"):
        market.trusted_actor("mallory").pause_or_resume(listing.id)
    with pytest.raises(Refused, match="belongs to another seller"):
        market.trusted_actor("mallory").edit_listing(listing.id, price=1)
    assert shop.listing(market, listing.id).status == "active"


def test_search_indexes_what_is_queued_then_finds_it(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    lin = _seller_nearby(store, clock)
    # Written past the shop services (another tool, an older version): queued, not indexed.
    with store.write() as session:
        session.add(
            Listing(
                seller_id=lin.id,
                kind=Kind.skill,
                title="Violin lessons",
                description="",
                category="piano-lessons",
                unit=Unit.hour,
                price=12000,
                quantity=1,
                lat=HOME[0],
                lon=HOME[1],
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    with store.read() as session:
        assert search.pending(session) == 1

    found = market.trusted_actor("amy").search(search.Query(text="violin"))

    assert [h.title for h in found.results.hits] == ["Violin lessons"]
    assert (found.query.lat, found.query.lon, found.results.centre) == (*HOME, "home")
    with store.read() as session:
        assert search.pending(session) == 0


def test_a_page_priced_after_is_the_page_searched_with_prices(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    lin = _seller_nearby(store, clock)
    for price in (8000, 15000, 40000, 12000, 20000):
        make_listing(store, clock, lin, price=price)
    amy = market.trusted_actor("amy")
    query = search.Query(text="piano")

    plain = amy.search(query, finished=False)
    priced = amy.finish(plain)

    assert priced == amy.search(query)
    assert [h.id for h in priced.results.hits] == [h.id for h in plain.results.hits]
    for before, after in zip(plain.results.hits, priced.results.hits, strict=True):
        assert after.why.startswith(before.why + " · ")
        assert "4 similar 'lessons' listings within 3 km" in after.why
        assert "similar" not in before.why


def test_a_pass_cancelled_part_way_stops_between_rows_and_returns_nothing(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    lin = _seller_nearby(store, clock)
    for price in (8000, 15000, 40000, 12000, 20000):
        make_listing(store, clock, lin, price=price)
    amy = market.trusted_actor("amy")
    plain = amy.search(search.Query(text="piano"), finished=False)
    asked = []

    def cancelled_after_two_rows() -> bool:
        asked.append(len(asked))
        return len(asked) > 2

    with pytest.raises(Superseded):
        amy.finish(plain, cancelled=cancelled_after_two_rows)

    # Asked once per row until it said yes: two rows priced, the third never started.
    assert len(asked) == 3
    # What it worked out before stopping is sound: the next pass finishes the same page.
    assert amy.finish(plain, cancelled=lambda: False) == amy.search(search.Query(text="piano"))


def test_an_empty_page_is_shown_first_and_told_how_far_the_nearest_is_after(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    # About 4.4 km north of home (0.04° of latitude), outside the 3 km radius.
    far_away = (HOME[0] + 0.04, HOME[1])
    far = make_user(store, clock, "far", lat=far_away[0], lon=far_away[1], public=far_away)
    make_listing(store, clock, far, title="Piano lessons at home")
    amy = market.trusted_actor("amy")
    query = search.Query(text="piano")

    quick = amy.search(query, finished=False)
    finished = amy.finish(quick)

    assert quick.results.hits == () and quick.results.nearest_beyond_km is None
    assert quick.results.nothing_found(finished=False) == (
        "Nothing found within 3 km of home; looking further…"
    )
    assert finished == amy.search(query)
    assert finished.results.nothing_found() == (
        "Nothing found within 3 km of home; the nearest is ~4.4 km away: widen the radius to 5 km."
    )


def test_search_centres_on_an_area_or_a_point_not_both(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    amy = market.trusted_actor("amy")
    place = next(iter(catalog.areas().values()))

    assert amy.search(search.Query(), area=place.slug).results.centre == place.slug
    assert amy.search(search.Query(), near="31.2,121.5").results.centre == "31.200,121.500"
    with pytest.raises(Invalid, match="not both"):
        amy.search(search.Query(), near="31.2,121.5", area=place.slug)
    with pytest.raises(Invalid, match="Radius"):
        amy.search(search.Query(radius_km=0))


def test_search_maps_results_in_coarse_steps_only_when_asked(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    lin = _seller_nearby(store, clock)
    listing = make_listing(store, clock, lin)
    amy = market.trusted_actor("amy")

    assert amy.search(search.Query()).offsets == {}
    mapped = amy.search(search.Query(radius_km=0.5), map_steps=6)
    assert mapped.step_km == privacy.MAP_STEP_MIN_KM  # 0.5 km / 6 would show a spot
    assert set(mapped.offsets) == {listing.id}


def test_home_shows_my_live_shop_and_wallet(market, store, clock):
    lin = _seller_nearby(store, clock)
    kept = make_listing(store, clock, lin, title="Piano lessons")
    gone = make_listing(store, clock, lin, title="Old piano stool")
    with store.write() as session:
        ledger.topup(session, clock, lin.id, 5000, "test:topup")
    actor = market.trusted_actor("lin")
    actor.move_listing(gone.id, "remove")

    home = actor.home()

    assert [v.id for v in home.shop] == [kept.id]
    assert home.balance == 5000
    assert home.orders == () and home.waiting_on_me == 0
    assert home.unread == () and home.unread_messages == 0 and home.deadlines == ()


def test_listing_page_shows_the_seller_as_the_viewer_may_see_them(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    lin = _seller_nearby(store, clock)
    listing = make_listing(store, clock, lin)

    page = market.trusted_actor("amy").listing_page(listing.id)

    assert page.listing.id == listing.id and page.seller.handle == "lin"
    assert page.reviews == ()
    with pytest.raises(Invalid, match="No listing #999"):
        market.trusted_actor("amy").listing_page(999)


def test_suggest_price_checks_the_category_first(market, store, clock):
    make_user(store, clock, "amy", lat=HOME[0], lon=HOME[1])
    amy = market.trusted_actor("amy")

    band = amy.suggest_price("piano-lessons", Unit.hour)
    assert band.p25 <= band.p50 <= band.p75 and band.unit == "hour"
    with pytest.raises(Invalid, match="Unknown category"):
        amy.suggest_price("nope", Unit.hour, near="not a place")
    with pytest.raises(Invalid, match="priced per"):
        amy.suggest_price("piano-lessons", Unit.day)


def test_listings_browse_by_seller_and_status(market, store, clock):
    lin = _seller_nearby(store, clock)
    first = make_listing(store, clock, lin)
    second = make_listing(store, clock, lin, title="Piano tuning")
    market.trusted_actor("lin").move_listing(second.id, "pause")

    assert [v.id for v in shop.listings(market, seller="lin")] == [first.id, second.id]
    paused = shop.listings(market, status=ListingStatus.paused)
    assert [v.id for v in paused] == [second.id]
