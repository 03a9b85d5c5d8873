"""Alembic environment: always given an open connection by todo_api.migrate (never a URL or an ini file)."""

from alembic import context

from todo_api.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
