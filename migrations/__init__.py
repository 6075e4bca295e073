"""Alembic migrations of the read-model database (run with ``activities.database.migrate``)."""
