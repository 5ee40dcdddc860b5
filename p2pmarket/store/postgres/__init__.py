"""PostgreSQL: derived data a PostgreSQL store keeps."""
