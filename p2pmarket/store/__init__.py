"""The store's own layer: what differs by SQL dialect, below the services."""
