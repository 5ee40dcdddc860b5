"""Nearby search: the index never loses or invents a result; ranking, exclusions, text."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from p2pmarket import geo
from p2pmarket.bench.naive import naive_ids
from p2pmarket.errors import Invalid
from p2pmarket.models import (
    Condition,
    Contact,
    CreditDimension,
    CreditEvent,
    Kind,
    Tier,
    Unit,
    User,
)
from p2pmarket.services.market import search, shops
from p2pmarket.services.market.search import plan as search_plan
from p2pmarket.store.sqlite import search as sqlite_search
from tests.conftest import make_listing, make_user

CENTRE = (31.2290, 121.4480)


def _me(store, clock, handle="searcher", **kw):
    return make_user(store, clock, handle, lat=CENTRE[0], lon=CENTRE[1], **kw)


def _seen_at(store, clock, handle, lat):
    """A seller others see (and whose listings lie) at `lat` north of the centre.

    Their home is elsewhere, a few hundred metres away: where others see a seller is
    the public point, and these tests are about the distances people see.
    """
    return make_user(
        store, clock, handle, lat=lat + 0.003, lon=CENTRE[1] + 0.002, public=(lat, CENTRE[1])
    )


def _give_credit(session, user_id: int, score: int) -> None:
    """A recorded transaction score (the search reads the latest score_after)."""
    session.add(
        CreditEvent(
            user_id=user_id,
            dimension=CreditDimension.transaction,
            delta=score - 600,
            score_after=score,
            reason="test",
            source="test",
            at=0,
        )
    )


def _find(store, me, **kw) -> list[int]:
    query = search.Query(lat=CENTRE[0], lon=CENTRE[1], page_size=1000, **kw)
    with store.read() as session:
        page, _ = search.find(session, session.get(User, me.id), query)
    return [c.id for c in page]


def test_tokens_fold_latin_and_split_cjk():
    assert search.tokens("Café PIANO-lessons") == ("cafe", "piano", "lessons")
    assert set(search.tokens("少儿钢琴课")) >= {"钢琴", "琴课", "钢", "课"}
    assert search.query_tokens("钢琴课") == ("钢琴", "琴课")
    assert search.query_tokens("二手iPad") == ("二手", "ipad")


def test_prefix_and_chinese_matching(store, clock):
    me = _me(store, clock)
    seller = make_user(store, clock, "seller", lat=31.23, lon=121.45)
    piano = make_listing(store, clock, seller, title="Piano lessons for beginners")
    zh = make_listing(store, clock, seller, title="少儿钢琴课（4-10岁）")
    guitar = make_listing(store, clock, seller, title="Guitar", category="guitar-lessons")
    assert _find(store, me, text="pian") == [piano.id]
    assert _find(store, me, text="PIANO less") == [piano.id]
    assert _find(store, me, text="钢琴") == [zh.id]
    assert _find(store, me, text="钢") == [zh.id]
    assert _find(store, me, text="钢琴课") == [zh.id]
    assert _find(store, me, text="lessons piano") == [piano.id]
    assert _find(store, me, text="violin") == []
    assert set(_find(store, me)) == {piano.id, zh.id, guitar.id}


def test_exclusions_own_blocked_and_inactive(store, clock):
    me = _me(store, clock)
    friend = make_user(store, clock, "friend", lat=31.23, lon=121.45)
    foe = make_user(store, clock, "foe", lat=31.23, lon=121.45)
    blocker = make_user(store, clock, "blocker", lat=31.23, lon=121.45)
    mine = make_listing(store, clock, me)
    ok = make_listing(store, clock, friend)
    paused = make_listing(store, clock, friend)
    removed = make_listing(store, clock, friend)
    make_listing(store, clock, foe)
    make_listing(store, clock, blocker)
    with store.write() as session:
        shops.change_status(session, clock, session.get(User, friend.id), paused.id, "pause")
        shops.change_status(session, clock, session.get(User, friend.id), removed.id, "remove")
        session.add(Contact(owner_id=me.id, other_id=foe.id, tier=Tier.blocked, updated_at=1))
        session.add(Contact(owner_id=blocker.id, other_id=me.id, tier=Tier.blocked, updated_at=1))
    found = _find(store, me, text="piano")
    assert found == [ok.id]
    assert mine.id not in found


def test_edit_and_sold_out_stay_in_sync(store, clock):
    me = _me(store, clock)
    seller = make_user(store, clock, "seller", lat=31.23, lon=121.45)
    item = make_listing(store, clock, seller, title="Old title")
    with store.write() as session:
        shops.edit_listing(session, clock, session.get(User, seller.id), item.id, title="Ukulele")
    assert _find(store, me, text="old") == []
    assert _find(store, me, text="ukul") == [item.id]
    with store.write() as session:
        session.execute(
            text("UPDATE listing SET status = 'sold_out' WHERE id = :i"), {"i": item.id}
        )
    assert _find(store, me, text="ukul") == []


def test_raw_inserts_are_queued_and_caught_up(store, clock):
    me = _me(store, clock)
    seller = make_user(store, clock, "seller", lat=31.23, lon=121.45)
    with store.write() as session:
        session.execute(
            text(
                "INSERT INTO listing (seller_id, kind, title, description, category, unit, price,"
                " quantity, status, lat, lon, created_at, updated_at) VALUES (:s, 'goods',"
                " 'Folding bike', '', 'bicycles', 'item', 30000, 1, 'active', 31.23, 121.45, 0, 0)"
            ),
            {"s": seller.id},
        )
    with store.read() as session:
        assert search.pending(session) == 1
    with store.write() as session:
        assert search.catch_up(session) == 1
    assert len(_find(store, me, text="folding")) == 1
    with store.write() as session:
        assert search.rebuild(session) == 1
    assert len(_find(store, me, text="folding")) == 1


def test_sort_orders(store, clock):
    me = _me(store, clock)
    near = _seen_at(store, clock, "near", CENTRE[0] + 0.002)
    mid = _seen_at(store, clock, "mid", CENTRE[0] + 0.01)
    far = _seen_at(store, clock, "far", CENTRE[0] + 0.02)
    a = make_listing(store, clock, far, title="Piano lessons", price=9000)
    b = make_listing(store, clock, mid, title="Piano", price=30000)
    c = make_listing(store, clock, near, title="Pianola repair", price=20000)
    assert _find(store, me, text="pian", sort=search.Sort.nearest) == [c.id, b.id, a.id]
    assert _find(store, me, text="pian", sort=search.Sort.cheapest) == [a.id, c.id, b.id]
    # best: text score (exact word 1.0, prefix 0.7) over (1 + km): the close prefix match
    # still leads, but an exact match at 1.1 km beats it once it is 0.6 km further.
    assert _find(store, me, text="piano", sort=search.Sort.best) == [c.id, b.id, a.id]
    assert search.text_score(("piano",), "Piano")[0] == 1.0
    assert search.text_score(("piano",), "Pianola repair")[0] == search.PREFIX_SCORE
    # One typed letter is a prefix even where it is a whole token ("lin's" holds "s").
    assert search.text_score(("s",), "Lin's piano")[0] == search.PREFIX_SCORE
    # Credit: far publishes 720, near has no events yet (the base, 600), mid hides it.
    with store.write() as session:
        _give_credit(session, far.id, 720)
        hidden = session.get(User, mid.id)
        hidden.pub_credit = False
        session.add(hidden)
    assert _find(store, me, text="pian", sort=search.Sort.credit) == [a.id, c.id, b.id]
    assert _find(store, me, text="pian", min_credit=650) == [a.id]
    assert _find(store, me, text="pian", min_credit=500) == [c.id, a.id]  # unpublished: out
    with store.read() as session:
        assert search.seller_credit(session, [far.id, mid.id, near.id]) == {
            far.id: 720,
            mid.id: None,
            near.id: 600,
        }


def test_paging_and_why(store, clock):
    me = _me(store, clock)
    seller = _seen_at(store, clock, "seller", CENTRE[0] + 0.0072)
    for i in range(25):
        make_listing(store, clock, seller, title=f"Piano {i}", price=10000 + i)
    with store.read() as session:
        user = session.get(User, me.id)
        first = search.search(session, clock, user, search.Query(lat=CENTRE[0], lon=CENTRE[1]))
        second = search.search(
            session, clock, user, search.Query(lat=CENTRE[0], lon=CENTRE[1], page=2)
        )
    assert len(first.hits) == 20 and first.has_more
    assert len(second.hits) == 5 and not second.has_more
    hit = first.hits[0]
    assert hit.distance == "~0.8 km" and hit.distance_km == 0.8
    assert hit.seller == "seller"
    assert hit.why.startswith("nearby · 0.8 km · ")
    assert "24 similar 'piano' listings within 3 km" in hit.why
    assert "lat" not in hit.to_json()


@pytest.mark.parametrize(
    ("km", "shown"), [(0.01, "~0.1 km"), (0.84, "~0.8 km"), (1.25, "~1.2 km"), (12.6, "~13 km")]
)
def test_distances_are_rounded(km, shown):
    assert search.fmt_km(km) == shown


@pytest.mark.parametrize(
    "bad",
    [
        {"radius_km": 0},
        {"radius_km": -1},
        {"radius_km": 501},
        {"min_price": 500, "max_price": 100},
        {"page": 0},
        {"category": "no-such-thing"},
    ],
)
def test_bad_queries_are_invalid(bad):
    with pytest.raises(Invalid):
        search.check_query(search.Query(**bad))


@pytest.mark.parametrize("near", ["1,2,3", "north", "91,0", "0,181", "nan,1"])
def test_bad_near_is_invalid(near):
    with pytest.raises(Invalid):
        search.parse_near(near)


# ---------------------------------------------------------------- the oracle

WORDS = (
    "piano",
    "pianist",
    "bike",
    "guitar",
    "钢琴课",
    "少儿钢琴",
    "二手iPad",
    "lesson",
    "lessons",
)
QUERIES = (
    "",
    "pi",
    "pian",
    "piano",
    "bike",
    "les",
    "lessons piano",
    "钢琴",
    "钢",
    "琴课",
    "ipad",
    "zz",
    # One character: the first key typed (checked on candidates, not read from FTS5).
    "p",
    "l",
    "lessons p",
)
CATEGORIES = (("piano-lessons", Kind.skill, Unit.hour), ("bicycles", Kind.goods, Unit.item))


def _oracle(listings, credit_of, me_id, blocked, query: search.Query) -> list[int]:
    """Brute force: every row checked by haversine, prefix tokens and filters; sorted."""
    words = search.query_tokens(query.text)
    out = []
    for row in listings:
        if row["status"] != "active" or row["seller_id"] == me_id or row["seller_id"] in blocked:
            continue
        toks = search.tokens(row["title"])
        if not all(any(t.startswith(w) for t in toks) for w in words):
            continue
        if query.category and row["category"] != query.category:
            continue
        if query.kind and row["kind"] != query.kind:
            continue
        if query.min_price is not None and row["price"] < query.min_price:
            continue
        if query.max_price is not None and row["price"] > query.max_price:
            continue
        score = credit_of[row["seller_id"]]
        if query.min_credit is not None and (score is None or score < query.min_credit):
            continue
        km = geo.haversine_km(query.lat, query.lon, row["lat"], row["lon"])
        if km <= query.radius_km:
            if query.sort is search.Sort.cheapest:
                out.append((row["price"], km, row["id"]))
            elif query.sort is search.Sort.credit:
                out.append((score is None, -(score or 0), km, row["id"]))
            else:
                out.append((km, row["id"]))
    return [key[-1] for key in sorted(out)]


market = st.lists(
    st.tuples(
        st.integers(0, 5),  # seller
        st.sampled_from(WORDS),
        st.sampled_from((*WORDS, "")),
        st.integers(0, 1),  # category
        st.integers(1, 500),  # price in yuan
        st.booleans(),  # paused
    ),
    min_size=0,
    max_size=25,
)
homes = st.lists(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)), min_size=6, max_size=6)
# Per user: publishes credit?, recorded transaction score (None: no event, the base 600).
credits = st.lists(
    st.tuples(st.booleans(), st.sampled_from((None, 420, 600, 650, 780))), min_size=6, max_size=6
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=market,
    spots=homes,
    q=st.sampled_from(QUERIES),
    radius=st.sampled_from((0.05, 0.5, 2.0, 5.0, 12.0, 40.0, 499.0)),
    sort=st.sampled_from(list(search.Sort)),
    cat=st.sampled_from((None, "piano-lessons", "bicycles")),
    max_price=st.sampled_from((None, 25000)),
    block=st.booleans(),
    scores=credits,
    min_credit=st.sampled_from((None, 600, 700)),
    min_price=st.sampled_from((None, 5000)),
    direct=st.booleans(),
    expand=st.sampled_from((sqlite_search.EXPAND_MAX, 0)),
)
def test_index_matches_brute_force_oracle(
    store,
    clock,
    rows,
    spots,
    q,
    radius,
    sort,
    cat,
    max_price,
    block,
    scores,
    min_credit,
    min_price,
    direct,
    expand,
):
    with store.write() as session:
        session.execute(text("DELETE FROM contact"))
        session.execute(text("DELETE FROM credit_event"))
        session.execute(text("DELETE FROM listing"))
        session.execute(text('DELETE FROM "user"'))
        search.catch_up(session)
        users = []
        for i, (dlat, dlon) in enumerate(spots):
            home = (CENTRE[0] + dlat, CENTRE[1] + dlon)
            public = geo.public_point(*home, random.Random(i))
            user = User(
                handle=f"u{i}x",
                real_name="U",
                passphrase_hash="x",
                lat=home[0],
                lon=home[1],
                public_lat=public[0],
                public_lon=public[1],
                created_at=0,
                pub_credit=scores[i][0],
            )
            session.add(user)
            session.flush()
            users.append(user)
            if scores[i][1] is not None:
                _give_credit(session, user.id, scores[i][1])
        credit_of = {
            u.id: ((score if score is not None else 600) if shown else None)
            for u, (shown, score) in zip(users, scores, strict=True)
        }
        me = users[0]
        blocked = set()
        if block:
            session.add(
                Contact(owner_id=me.id, other_id=users[1].id, tier=Tier.blocked, updated_at=0)
            )
            blocked.add(users[1].id)
        listings = []
        for seller, w1, w2, c, price, paused in rows:
            slug, kind, unit = CATEGORIES[c]
            view = shops.add_listing(
                session,
                clock,
                users[seller],
                kind=kind,
                title=f"{w1} {w2}".strip(),
                category=slug,
                price=price * 100,
                unit=unit,
            )
            if paused:
                shops.change_status(session, clock, users[seller], view.id, "pause")
            listings.append(
                {
                    "id": view.id,
                    "title": view.title,
                    "category": slug,
                    "kind": kind,
                    "price": price * 100,
                    "seller_id": users[seller].id,
                    "status": "paused" if paused else "active",
                    # Where others see the seller, never their home.
                    "lat": users[seller].public_lat,
                    "lon": users[seller].public_lon,
                }
            )
        me_id = me.id
    query = search.Query(
        text=q,
        lat=CENTRE[0],
        lon=CENTRE[1],
        radius_km=radius,
        sort=sort,
        category=cat,
        min_price=min_price,
        max_price=max_price,
        min_credit=min_credit,
        page_size=1000,
    )
    expected = _oracle(listings, credit_of, me_id, blocked, query)
    # direct: one read of the whole radius; otherwise the plans for big markets (growing
    # the radius for nearest/best, walking price buckets for cheapest) even on tiny ones.
    small, search_plan.SMALL_MATCH = search_plan.SMALL_MATCH, (10**9 if direct else -1)
    # expand 0: every longer word is a prefix query and every one-character word is
    # checked on the candidates, as in a big market's vocabulary.
    wide, sqlite_search.EXPAND_MAX = sqlite_search.EXPAND_MAX, expand
    try:
        with Session(store.engine) as session:
            me_row = session.get(User, me_id)
            page, more = search.find(session, me_row, query)
            naive = naive_ids(session, me_row, query)
    finally:
        search_plan.SMALL_MATCH = small
        sqlite_search.EXPAND_MAX = wide
    assert sorted(c.id for c in page) == sorted(expected)
    if sort is not search.Sort.best:  # best mixes text and distance; the others are exact
        assert [c.id for c in page] == expected
    assert not more
    if min_credit is None:  # the baseline plan sorts by distance and ignores credit
        nearest = search.Query(**{**vars(query), "sort": search.Sort.nearest})
        assert naive == _oracle(listings, credit_of, me_id, blocked, nearest)


def test_an_empty_page_tells_how_far_the_nearest_match_is(store, clock):
    me = _me(store, clock)
    # About 4.4 km north of the centre (0.04° of latitude).
    far = _seen_at(store, clock, "far", CENTRE[0] + 0.04)
    make_listing(store, clock, far, title="Piano lessons at home")
    with store.read() as session:
        searcher = session.get(User, me.id)

        def results(text: str, **kw) -> search.Results:
            query = search.Query(text=text, lat=CENTRE[0], lon=CENTRE[1], **kw)
            return search.search(session, clock, searcher, query)

        empty = results("piano")
        assert empty.hits == () and (empty.nearest_beyond_km, empty.widen_to_km) == (4.4, 5)
        assert empty.nothing_found() == (
            "Nothing found within 3 km of home; the nearest is ~4.4 km away: "
            "widen the radius to 5 km."
        )
        widened = results("piano", radius_km=empty.widen_to_km)
        assert len(widened.hits) == 1 and widened.nearest_beyond_km is None
        nowhere = results("violin")
        assert nowhere.nearest_beyond_km is None
        assert nowhere.nothing_found() == "Nothing found within 3 km of home (nor within 50 km)."


@pytest.mark.sqlite_only  # kept in the store's memo: SQLite's data_version; PostgreSQL keeps none
def test_words_found_nowhere_beyond_are_not_looked_for_again_as_one_types_on(
    store, clock, monkeypatch
):
    from p2pmarket.services.market.search import results as search_results

    me = _me(store, clock)
    looks = []
    real = search_results.find
    monkeypatch.setattr(
        search_results,
        "find",
        lambda session, who, q: looks.append(q.text) or real(session, who, q),
    )

    def beyond(text: str) -> float | None:
        with store.read() as session:
            query = search.Query(text=text, lat=CENTRE[0], lon=CENTRE[1])
            return search.search(session, clock, session.get(User, me.id), query).nearest_beyond_km

    assert beyond("violi") is None and looks == ["violi", "violi"]  # the page, then 50 km
    # "violin" and "violin l" match fewer listings than "violi": nothing 50 km out either.
    assert beyond("violin") is None and beyond("violin l") is None
    assert looks == ["violi", "violi", "violin", "violin l"]
    assert beyond("viola") is None and looks[-2:] == ["viola", "viola"]  # not narrower
    # A listing written: the store changed, so what was found nowhere is looked for again.
    far = _seen_at(store, clock, "far", CENTRE[0] + 0.09)  # ~10 km north
    make_listing(store, clock, far, title="Violin lessons")
    assert beyond("violin") == 10.0 and looks[-2:] == ["violin", "violin"]


def test_condition_filter_keeps_goods_in_that_condition_or_better(store, clock):
    me = _me(store, clock)
    seller = _seen_at(store, clock, "seller", CENTRE[0] + 0.005)
    said = {}
    for condition in (*Condition, None):
        view = make_listing(
            store,
            clock,
            seller,
            kind=Kind.goods,
            title=f"Desk lamp {condition or 'unsaid'}",
            category="home-appliances",
            unit=Unit.item,
            price=5000,
            condition=condition,
        )
        said[view.id] = condition
    with store.read() as session:
        user = session.get(User, me.id)

        def found(condition):
            query = search.Query(text="lamp", lat=CENTRE[0], lon=CENTRE[1], condition=condition)
            return search.search(session, clock, user, query).hits

        everything = found(None)
        good_or_better = found(Condition.good)
    assert len(everything) == 6
    assert {said[h.id] for h in good_or_better} == {"new", "like_new", "good"}
    assert {h.condition for h in good_or_better} == {"new", "like_new", "good"}
    like_new = next(h for h in good_or_better if h.condition == "like_new")
    assert " · like new · " in like_new.why
