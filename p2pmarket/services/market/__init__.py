"""The market's goods: shops and listings, the catalog, nearby search, suggested prices,
the demo.
"""
