"""A cursor for the plain-SQL reads of every request, whose statements PostgreSQL plans once per connection.

Django binds parameters on the client, so PostgreSQL plans each statement afresh: for the progress
document's query the planning was 0.4 ms of its 0.55 ms, ten times the whole query of a minimal
request (bench/load.py). On this cursor the parameters are bound by the server and each statement
is prepared the first time a connection runs it (psycopg keeps them per connection): PostgreSQL
then only executes it. Only the few hot reads use it (the progress document, the token, the
session, the member and the stamp card's state); the ORM keeps Django's client-side binding and
unprepared statements (Django's default, for connection poolers: a pooler in transaction mode must
keep prepared statements, as PgBouncer ≥ 1.21 does with max_prepared_statements). Elsewhere
(SQLite) it is Django's cursor. Its queries are logged and counted as Django's own.
"""

from __future__ import annotations

from django.db import connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper


def prepared_cursor(using: str = "default") -> CursorWrapper:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    # Django turns psycopg's prepared statements off (None); on: only server-binding cursors, this
    # module's, prepare (at the first run): Django's client-binding cursors never do.
    connection.connection.prepare_threshold = 0
    with connection.wrap_database_errors:
        # What connection.cursor() does with the cursor class it creates (a private method of Django's).
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))
