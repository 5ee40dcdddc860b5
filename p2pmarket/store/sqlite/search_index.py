"""The search index's schema on SQLite: FTS5 with map-grid cells as tokens, its queue and
the price index. Derived data (rebuilt from the listings), created once per store by
`Store.open`; store/sqlite/search.py reads and fills it."""

from __future__ import annotations

from sqlalchemy import Connection

# A store whose index was made by another version is re-queued whole on open.
INDEX_VERSION = "2"

DDL = (
    # `ascii` splits only on ASCII punctuation and spaces: our tokens arrive intact.
    # rowid = geo_key(lat, lon, listing id), so a place is a rowid range (see geo_key).
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "words, tags, tokenize='ascii', prefix='2 3', detail=column, columnsize=0)",
    # listing id -> its rowid in search_fts, to delete a listing's old entry.
    "CREATE TABLE IF NOT EXISTS search_key (listing_id INTEGER PRIMARY KEY, key INTEGER NOT NULL)",
    # Every token ever indexed and about how many listings hold it (an upper bound: counts
    # only grow until the next rebuild). Prefixes expand to these terms; plans read counts.
    "CREATE TABLE IF NOT EXISTS search_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS search_version (version TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS search_dirty (listing_id INTEGER PRIMARY KEY, fresh INTEGER)",
    "CREATE TRIGGER IF NOT EXISTS search_listing_insert AFTER INSERT ON listing BEGIN "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (new.id, 1); END",
    "CREATE TRIGGER IF NOT EXISTS search_listing_update AFTER UPDATE OF "
    "title, description, category, kind, price, lat, lon ON listing BEGIN "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (old.id, 0); "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (new.id, 0); END",
    "CREATE TRIGGER IF NOT EXISTS search_listing_delete AFTER DELETE ON listing BEGIN "
    "INSERT OR REPLACE INTO search_dirty (listing_id, fresh) VALUES (old.id, 0); END",
    # Suggested prices (pricing.py): category + unit, then a latitude range per 0.01°
    # longitude strip, covering what is read. It replaced ix_listing_price_guide (one
    # latitude range across the whole market).
    "DROP INDEX IF EXISTS ix_listing_price_guide",
    "CREATE INDEX IF NOT EXISTS ix_listing_price_strips ON listing (category, unit, "
    "CAST(lon * 100 AS INTEGER), lat, lon, status, price, updated_at)",
)
OBJECTS = (
    "search_fts",
    "search_key",
    "search_terms",
    "search_version",
    "search_dirty",
    "search_listing_insert",
    "search_listing_update",
    "search_listing_delete",
    "ix_listing_price_strips",
)
# Derived objects of earlier index versions, dropped on upgrade.
OLDOBJECTS = (
    ("TRIGGER", "search_listing_update"),
    ("TABLE", "search_vocab"),
    ("TABLE", "search_fts"),
    ("TABLE", "search_key"),
    ("TABLE", "search_terms"),
    ("TABLE", "search_dirty"),
)


def installed(conn: Connection) -> bool:
    marks = ",".join("?" * len(OBJECTS))
    count = conn.exec_driver_sql(
        f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", OBJECTS
    ).scalar()
    if count != len(OBJECTS):
        return False
    version = conn.exec_driver_sql("SELECT max(version) FROM search_version").scalar()
    return version == INDEX_VERSION


def install(conn: Connection) -> None:
    """Create (or upgrade) the derived search objects (SQLite only). Listings are queued."""
    has_version = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'search_version'"
    ).first()
    version = (
        conn.exec_driver_sql("SELECT max(version) FROM search_version").scalar()
        if has_version
        else None
    )
    fresh = version != INDEX_VERSION
    if fresh:
        for what, name in OLDOBJECTS:
            conn.exec_driver_sql(f"DROP {what} IF EXISTS {name}")
    for statement in DDL:
        conn.exec_driver_sql(statement)
    if fresh:
        conn.exec_driver_sql("DELETE FROM search_version")
        conn.exec_driver_sql("INSERT INTO search_version (version) VALUES (?)", (INDEX_VERSION,))
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) SELECT id, 1 FROM listing"
        )
