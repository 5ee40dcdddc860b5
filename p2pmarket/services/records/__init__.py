"""Records nobody rewrites unnoticed: the hash chains, verify, backups and restore, export,
copying.
"""
