"""Alembic migrations of the store; `store.database.upgrade` runs them."""
