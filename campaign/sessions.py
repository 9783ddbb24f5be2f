"""Django's database sessions, read with one plain query.

Every signed-in page reads its session first. Compiling the ORM's query for it cost about 0.4 ms
of CPU, several times the query itself and as much as a whole minimal request (bench/load.py);
the read is also prepared once per connection (campaign.prepared).
Same table, rows, expiry and writes as Django's own store (settings.SESSION_ENGINE names this
module): only the read differs, so an ended or expired session is refused on the next request.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import router
from django.utils import timezone

from campaign.prepared import prepared_cursor


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        model = self.model
        with prepared_cursor(router.db_for_read(model)) as cursor:
            cursor.execute(
                f"SELECT session_data FROM {model._meta.db_table} WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])
