"""Fresh PostgreSQL databases for tests: cloned from a template that holds the schema."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import make_url


class Server:
    def __init__(self, url: str) -> None:
        import psycopg

        self.url = make_url(url)
        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(dsn, autocommit=True)
        # One template per test process (each xdist worker makes its own, so no two clone
        # from one at once: CREATE DATABASE refuses a template another session is using),
        # unique even when runs on other hosts with the same pid share the server.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.template = f"p2pmarket_tpl_{worker}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.made: set[str] = set()
        self.admin.execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self.admin.execute(f"CREATE DATABASE {self.template}")
        # The template holds the current schema and search objects: Store.open on a
        # clone only checks the version.
        from p2pmarket import config as config_mod
        from p2pmarket.store.engine import Store

        store = Store.open(config_mod.resolve(home="/nonexistent", db=self.url_of(self.template)))
        store.close()

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, *, empty: bool = False) -> str:
        template = "template0" if empty else self.template
        self.admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        self.made.add(name)
        return self.url_of(name)

    def drop(self, name: str) -> None:
        import psycopg

        try:
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except psycopg.errors.InsufficientPrivilege:
            # A server session we may not end (autovacuum) still uses it: drop it at close.
            return
        self.made.discard(name)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(name)
        self.drop(self.template)
        self.admin.close()
