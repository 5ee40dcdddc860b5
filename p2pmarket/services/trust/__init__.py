"""Trust among strangers: accounts and roles, contacts, chat, the money gate, credit, privacy,
reviews.
"""
