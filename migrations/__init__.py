"""Alembic migrations of the read-model database (run with ``infra.database.migrate``)."""
