"""Benchmarks and their naive baselines; nothing outside `p2pmarket bench` imports them."""
