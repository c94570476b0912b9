"""Application tables (filing orders, tickets, lookup attempts) on SQLAlchemy 1.4.

Nothing here opens a database on import: engines come from `bot.storage.db` when first asked for.
"""
