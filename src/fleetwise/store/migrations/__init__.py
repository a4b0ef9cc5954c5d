"""Alembic environment and revision scripts of the central store (run via ``store.database``)."""
