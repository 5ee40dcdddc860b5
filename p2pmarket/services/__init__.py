"""The domain. Services take a session and a clock, return plain values or raise Refused.

No UI imports here, ever (enforced by import-linter and tests/test_architecture.py).
"""
