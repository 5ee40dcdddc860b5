"""The search index's schema on PostgreSQL: postings (term, geographic key) in a btree, the
listings' keys, the term counts, the queue and the price index.
Derived data (rebuilt from the listings), created once per store by `Store.open`;
store/postgres/search.py reads and fills it."""

from __future__ import annotations

from sqlalchemy import Connection, text

# A store whose index was made by another version is rebuilt on open.
INDEX_VERSION = "pg-4"

DDL = (
    # Per listing: its geographic key (geo.geo_key) and the terms it was indexed under
    # (space-separated), to find its postings again when it changes.
    "CREATE TABLE IF NOT EXISTS search_doc ("
    " listing_id integer PRIMARY KEY, key bigint NOT NULL, terms text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_search_doc_key ON search_doc (key)",
    # The inverted index: one row per (token or tag, listing key), in key order within a
    # term, so a term's listings inside a map cell are one range of the primary key.
    # "C": terms compare as bytes whatever the database's collation (prefixes are ranges).
    "CREATE TABLE IF NOT EXISTS search_posting ("
    ' term text COLLATE "C" NOT NULL, key bigint NOT NULL, PRIMARY KEY (term, key))',
    "CREATE TABLE IF NOT EXISTS search_terms ("
    ' term text COLLATE "C" PRIMARY KEY, docs integer NOT NULL)',
    "CREATE TABLE IF NOT EXISTS search_dirty (listing_id integer PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS search_version (version text NOT NULL)",
    "CREATE OR REPLACE FUNCTION search_listing_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP <> 'INSERT' THEN"
    "   INSERT INTO search_dirty VALUES (OLD.id) ON CONFLICT DO NOTHING; END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "   INSERT INTO search_dirty VALUES (NEW.id) ON CONFLICT DO NOTHING; END IF;"
    "  RETURN NULL;"
    " END $$",
    "DROP TRIGGER IF EXISTS search_listing_changed ON listing",
    "CREATE TRIGGER search_listing_changed AFTER INSERT OR DELETE"
    " OR UPDATE OF title, description, category, kind, price, lat, lon ON listing"
    " FOR EACH ROW EXECUTE FUNCTION search_listing_changed()",
    # Suggested prices (prices.py): category + unit, then a latitude range.
    "CREATE INDEX IF NOT EXISTS ix_listing_price_guide"
    " ON listing (category, unit, lat, lon, status, price, updated_at)",
)


def installed(conn: Connection) -> bool:
    if conn.exec_driver_sql("SELECT to_regclass('search_version')").scalar() is None:
        return False
    version = conn.exec_driver_sql("SELECT max(version) FROM search_version").scalar()
    return version == INDEX_VERSION


def install(conn: Connection) -> None:
    """Create (or upgrade) the derived search objects; every listing is queued."""
    conn.exec_driver_sql(
        "DROP TABLE IF EXISTS search_doc, search_posting, search_terms, search_dirty,"
        " search_version"
    )
    for statement in DDL:
        conn.exec_driver_sql(statement)
    conn.execute(text("INSERT INTO search_version VALUES (:v)"), {"v": INDEX_VERSION})
    conn.exec_driver_sql("INSERT INTO search_dirty SELECT id FROM listing ON CONFLICT DO NOTHING")
