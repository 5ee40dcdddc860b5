"""Money: the double-entry ledger, orders and their escrow timers,
what needs a person's attention.
"""
