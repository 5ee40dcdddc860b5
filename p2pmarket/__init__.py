"""p2pmarket: a local-first, peer-to-peer marketplace in the terminal."""

__version__ = "0.1.0"
