"""Cells of the CSV files the portal writes for people, kept from running as spreadsheet formulas.

A text cell starting with ``= + - @``, tab or CR is read by Excel as a formula (or a DDE payload):
it is written with a leading ``'``, as the merchant export does (``merchants.resources``). Numbers
are left alone, so a reversal's ``-200`` points stay a number. Ids can no longer start that way
(``campaign.identifiers``); this covers what was stored before and free text such as a reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from campaign.identifiers import FORMULA_STARTS

FORMULA_ESCAPE = "'"


def cell_escape(value: object) -> object:
    """``value`` as a spreadsheet shows it and never runs it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return FORMULA_ESCAPE + value
    return value


def row_escape(row: Iterable[object]) -> list[object]:
    return [cell_escape(value) for value in row]
