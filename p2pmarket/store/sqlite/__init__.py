"""SQLite: derived data a SQLite store keeps."""
