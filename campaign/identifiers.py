"""What a member id or a transaction id may hold, decided once for every door.

The API, transaction files, entries, video views and URLs all check ids with ``id_problem``: an id
is 1 to 64 printable characters (no control characters, no lone surrogates, no NUL), and it may not
start like a spreadsheet formula (``=``, ``+``, ``-``, ``@``), so that no export opened in Excel
runs it. Member ids are stricter still: printable ASCII without spaces, as the Wesmo! system issues them.
"""

from __future__ import annotations

MAX_ID = 64
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def id_problem(value: object, *, member: bool = False) -> str | None:
    """Why ``value`` cannot be an id (a stable code), or None when it can.

    Codes: ``not_text``, ``empty``, ``too_long``, ``not_printable`` (control characters, NUL,
    lone surrogates, or, for a member id, anything but printable ASCII without spaces) and
    ``formula`` (a leading ``= + - @``, tab or CR).
    """
    if not isinstance(value, str):
        return "not_text"
    if not value:
        return "empty"
    if len(value) > MAX_ID:
        return "too_long"
    if member:
        if not value.isascii() or not value.isprintable() or " " in value:
            return "not_printable"
    elif not value.isprintable():  # also refuses lone surrogates (category Cs) and NUL
        return "not_printable"
    if value.startswith(FORMULA_STARTS):
        return "formula"
    return None
