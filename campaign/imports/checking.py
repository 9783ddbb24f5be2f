"""The one check of a transaction row (SPEC 3.1, R9), shared by files and the system API.

A row is the values of COLUMNS in that order, as text (CSV), typed cells (XLSX) or JSON values
(API). ``record_check`` returns the normalized record or the reasons by column; it is the import's
hot loop (a million rows a file), so the common well-formed row costs a few string methods and
one ``datetime.fromisoformat``, and the sentences are only written for the rows that need them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from campaign import clock
from campaign.env import JST
from campaign.identifiers import MAX_ID, id_problem
from campaign.models import Campaign
from campaign.services import CLOCK_SKEW, after_cutoff_reason

MAX_AMOUNT = 10**12
# Digits of the largest amount, with room for grouping commas: anything longer is too large
# without converting it (int() of thousands of digits is slow and refused by Python above 4,300).
MAX_NUMBER_TEXT = 20
MAX_TIME_TEXT = 40
# PostgreSQL reads UTC offsets up to 15:59, Python up to 23:59: beyond, the time is kept in UTC.
MAX_OFFSET = timedelta(hours=15, minutes=59)

# The columns of SPEC 3.1, in the order the normalized record keeps them.
COLUMNS = (
    "transaction_id",
    "member_id",
    "type",
    "amount",
    "points_used",
    "merchant_code",
    "occurred_at",
    "original_transaction_id",
    "charge_method",
)
REQUIRED_COLUMNS = ("transaction_id", "member_id", "type", "amount", "occurred_at")
JAPANESE_COLUMNS = {
    "取引ID": "transaction_id",
    "会員ID": "member_id",
    "取引種別": "type",
    "金額": "amount",
    "ポイント利用額": "points_used",
    "加盟店コード": "merchant_code",
    "取引日時": "occurred_at",
    "元取引ID": "original_transaction_id",
    "チャージ方法": "charge_method",
}
_JAPANESE_NAMES = {column: name for name, column in JAPANESE_COLUMNS.items()}


def column_label(column: str) -> str:
    """A column as a reason names it; in Japanese with the name a Japanese header gives it too (amount（金額）),
    since staff read the report beside a file headed 金額, not amount."""
    japanese = _JAPANESE_NAMES.get(column)
    return f"{column}（{japanese}）" if japanese and (get_language() or "").startswith("ja") else column


TYPES = {
    "charge": "charge",
    "payment": "payment",
    "cancel": "cancel",
    "チャージ": "charge",
    "支払": "payment",
    "支払い": "payment",
    "取消": "cancel",
    "取消し": "cancel",
}
CHARGE_METHODS = {"card", "jwest_card", "seven_atm", "bank"}
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+$")
_LOOSE_TIME = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?$")


class Record(NamedTuple):
    """A valid transaction, normalized: what is stored and what duplicates are compared on."""

    transaction_id: str
    member_id: str
    type: str
    amount: int
    points_used: int
    merchant_code: str
    occurred_at: datetime
    original_transaction_id: str
    charge_method: str

    def content(self) -> tuple:
        """Everything but the id, with the time in UTC: equal content means a duplicate."""
        return (*self[1:6], self.occurred_at.astimezone(UTC), *self[7:])


_record_new = tuple.__new__  # a Record without the generated __new__'s call: half the cost, a million times


@dataclass
class Window:
    """What R9 judges a record against: the campaign period, the portal's clock and the cut-off."""

    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    now: datetime
    skew: timedelta

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_limits", None)  # a changed field changes the limits

    @property
    def latest(self) -> datetime:
        return self.now + self.skew

    def limits(self) -> tuple[str, str, str, bool]:
        """(start, end, latest) as row texts of the Wesmo! system's form (2026-03-06T07:30:00+09:00),
        rounded to the second the way that keeps each comparison exact for rows of whole seconds,
        and whether the cut-off has passed. Texts of that one width and offset sort as the times
        they name: comparing them costs a fraction of comparing datetimes."""
        if self._limits is None:
            limits = (_row_text(self.starts_at, up=True), _row_text(self.ends_at, up=True), _row_text(self.latest))
            object.__setattr__(self, "_limits", (*limits, self.now > self.cutoff_at))
        return self._limits


def window_for(campaign: Campaign) -> Window:
    """The campaign's window on the portal's clock now."""
    return Window(
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        cutoff_at=campaign.data_cutoff_at,
        now=clock.now(),
        skew=CLOCK_SKEW,
    )


@dataclass
class RecordCounts:
    """What became of the records of a file or of a push: the counts SPEC's import summary names."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def summary(self) -> str:
        return f"rows={self.rows} accepted={self.accepted} duplicates={self.duplicates} rejected={self.rejected}"


def _row_text(moment: datetime, *, up: bool = False) -> str:
    moment = moment.astimezone(JST)
    if up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.replace(microsecond=0).isoformat()


def text_of(value: Any) -> str:
    """A cell or JSON value as stripped text (a whole float as an integer)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cut(value: Any) -> Any:
    """A value as a reason quotes it, cut short: a reason never carries a whole huge cell."""
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "..."
    return value


def _yen(raw: Any, column: str, errors: dict[str, list[str]]) -> int | None:
    """Whole yen from ``1000``, ``"1000"`` or ``"1,000"`` (at most MAX_AMOUNT); None with an error otherwise."""
    if type(raw) is str and raw.isdigit() and raw.isascii() and len(raw) <= 13:
        return int(raw)
    if isinstance(raw, float) and not isinstance(raw, bool):
        if raw != raw or raw in (float("inf"), float("-inf")):
            value = None
        elif not raw.is_integer():
            message = _("%(column)s %(value)s is not whole yen: decimals are not allowed.")
            errors.setdefault(column, []).append(message % {"column": column_label(column), "value": raw})
            return None
        else:
            value = int(raw)
    elif type(raw) is int:
        value = raw
    else:
        value = _yen_text(text_of(raw), column, errors)
    if value is None:
        if column not in errors:
            message = _("%(column)s %(value)r is not a number of yen (write 1000 or 1,000).")
            errors.setdefault(column, []).append(message % {"column": column_label(column), "value": cut(text_of(raw))})
        return None
    if value < 0:
        message = _("%(column)s %(value)r is negative: it must be whole yen, 0 or more.")
        errors.setdefault(column, []).append(message % {"column": column_label(column), "value": value})
        return None
    if value > MAX_AMOUNT:
        errors.setdefault(column, []).append(_too_large(column, value))
        return None
    return value


def _too_large(column: str, value: Any) -> str:
    return _("%(column)s %(value)r is too large.") % {"column": column_label(column), "value": cut(str(value))}


def _yen_text(text: str, column: str, errors: dict[str, list[str]]) -> int | None:
    """``_yen`` of a text: the number, or None (with an error unless it is only not a number)."""
    digits = text.replace(",", "") if _GROUPED.match(text) else text
    if digits.isascii() and digits.isdigit():
        if len(digits) > MAX_NUMBER_TEXT:  # never int() of thousands of digits: too large as it is
            errors.setdefault(column, []).append(_too_large(column, text))
            return None
        return int(digits)
    if text.startswith("-") and text[1:].replace(",", "").replace(".", "").isdigit():
        message = _("%(column)s %(value)r is negative: it must be whole yen, 0 or more.")
    elif text.replace(",", "").replace(".", "", 1).isdigit() and text.isascii():
        message = _("%(column)s %(value)r is not whole yen: decimals are not allowed.")
    else:
        return None
    errors.setdefault(column, []).append(message % {"column": column_label(column), "value": cut(text)})
    return None


def parse_time(raw: Any) -> datetime | None:
    """A time of SPEC 3.1 as an aware datetime; a time without an offset is JST. None if unreadable.

    An offset PostgreSQL cannot read (beyond ±15:59) is turned into UTC: the same instant.
    """
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, date) or not isinstance(raw, str):
        return None
    else:
        text = raw.strip()
        if len(text) > MAX_TIME_TEXT or (":" not in text and "T" not in text):  # a date alone is not a time
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = _loose_time(text)
            if parsed is None:
                return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=JST)
    offset = parsed.utcoffset()
    if offset > MAX_OFFSET or offset < -MAX_OFFSET:
        return parsed.astimezone(UTC)
    return parsed


def _loose_time(text: str) -> datetime | None:
    match = _LOOSE_TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or ".0")[1:].ljust(6, "0")),
        )
    except ValueError:
        return None


_ID_REASONS = {
    "formula": gettext_noop("%(column)s %(value)r starts like a spreadsheet formula (= + - @, tab): it is refused."),
    "not_printable": gettext_noop("%(column)s %(value)r contains control characters or text that is not Unicode."),
}


def _id_check(value: Any, column: str, errors: dict[str, list[str]], *, member: bool = False) -> str:
    """The id stripped; an error under ``column`` when ``campaign.identifiers.id_problem`` refuses it."""
    text = value.strip() if type(value) is str else text_of(value)
    problem = id_problem(text, member=member)
    if problem is None:
        return text
    if problem == "not_printable" and member and text.isprintable():
        problem = "member_form"  # full-width letters or a space: not a control character, the form is wrong
    if problem in _ID_REASONS:
        message = _(_ID_REASONS[problem]) % {"column": column_label(column), "value": cut(text)}
    elif member:
        message = _("member_id %(value)r must be 1 to 64 letters, digits or symbols, without spaces.") % {
            "value": cut(text)
        }
    elif column == "transaction_id":
        message = _("transaction_id %(value)r must be 1 to 64 characters.") % {"value": cut(text)}
    else:  # an original_transaction_id, known not to be empty
        message = _("original_transaction_id %(value)r is longer than 64 characters.") % {"value": cut(text)}
    errors.setdefault(column, []).append(message)
    return text


def record_check(values: tuple | list, window: Window) -> tuple[Record | None, dict[str, list[str]]]:
    """Check one row given as the values of COLUMNS, in that order (missing: "" or None).

    Returns the normalized record, or None and the errors by column: clear sentences that
    name the column and the bad value, one list per column as the API answers them. The common
    case is decided inline; the helpers are called for what needs more (and to explain).
    """
    raw_tid, raw_mid, raw_type, raw_amount, raw_points, raw_merchant, raw_time, raw_original, raw_method = values
    errors: dict[str, list[str]] = {}
    tid = raw_tid.strip() if type(raw_tid) is str else text_of(raw_tid)
    if id_problem(tid) is not None:
        _id_check(tid, "transaction_id", errors)
    mid = raw_mid.strip() if type(raw_mid) is str else text_of(raw_mid)
    if id_problem(mid, member=True) is not None:
        _id_check(mid, "member_id", errors, member=True)
    type_text = raw_type.strip() if type(raw_type) is str else text_of(raw_type)
    kind = TYPES.get(type_text) or TYPES.get(type_text.lower())
    if kind is None:
        message = _("type %(value)r is not one of charge, payment, cancel (チャージ, 支払, 取消).")
        errors["type"] = [message % {"value": cut(type_text)}]
    if type(raw_amount) is str and raw_amount.isdigit() and raw_amount.isascii() and len(raw_amount) <= 13:
        amount = int(raw_amount)  # the common case, as _yen would read it
    elif raw_amount == "" or raw_amount is None or (type(raw_amount) is str and not raw_amount.strip()):
        amount = 0 if kind == "cancel" else None
        if amount is None:
            errors["amount"] = [_("amount is required.")]
    else:
        amount = _yen(raw_amount, "amount", errors)
    if raw_points == "0" or raw_points == "" or raw_points is None:
        points = 0
    else:
        points = _yen(raw_points, "points_used", errors)
    if points:
        _points_check(kind, points, amount, errors)
    merchant = raw_merchant.strip() if type(raw_merchant) is str else text_of(raw_merchant)
    original = raw_original.strip() if type(raw_original) is str else text_of(raw_original)
    method = raw_method.strip() if type(raw_method) is str else text_of(raw_method)
    if kind != "payment" or not merchant or original or method or len(merchant) > MAX_ID or not merchant.isprintable():
        method = _kind_check(kind, tid, merchant, original, method, errors)
    occurred = None
    if type(raw_time) is str and 10 < len(raw_time) <= MAX_TIME_TEXT:
        try:  # noqa: SIM105 (contextlib.suppress costs a context manager per row of a million)
            occurred = datetime.fromisoformat(raw_time)
        except ValueError:
            pass
    usual = False  # the time is written in the Wesmo! system's form (see Window.limits)
    if occurred is None or occurred.tzinfo is None or raw_time[-6:] != "+09:00":  # else nothing to normalize
        occurred = parse_time(raw_time if occurred is None else occurred)
    else:
        usual = (
            len(raw_time) == 25 and raw_time[7] == "-" and raw_time[10] == "T" and raw_time[13] == raw_time[16] == ":"
        )
    if occurred is None:
        message = _(
            "occurred_at %(value)r is not a time such as 2026-03-06T07:30:00+09:00, "
            "2026-03-06 07:30:00 or 2026/03/06 7:30:00."
        )
        errors["occurred_at"] = [message % {"value": cut(text_of(raw_time))}]
    else:
        start, end, latest, closed = window.limits()
        if closed or not usual or raw_time > latest or raw_time < start or (kind != "cancel" and raw_time >= end):
            _time_check(kind, occurred, window, errors)
    if errors:
        return None, errors
    return _record_new(Record, (tid, mid, kind, amount, points, merchant, occurred, original, method)), errors


def _points_check(kind: str | None, points: int, amount: int | None, errors: dict[str, list[str]]) -> None:
    if kind == "charge":
        message = _("points_used %(value)r is only for payments: a charge uses no points.")
        errors.setdefault("points_used", []).append(message % {"value": points})
    elif amount is not None and points > amount:
        message = _("points_used %(points)r is more than the amount %(amount)r.")
        errors.setdefault("points_used", []).append(message % {"points": points, "amount": amount})


def _kind_check(
    kind: str | None, tid: str, merchant: str, original: str, method: str, errors: dict[str, list[str]]
) -> str:
    """The rules between the type and merchant_code, original_transaction_id, charge_method; the method."""
    if kind == "payment" and not merchant:
        errors["merchant_code"] = [_("merchant_code is required for a payment.")]
    elif kind == "charge" and merchant:
        errors["merchant_code"] = [_("merchant_code %(value)r must be empty for a charge.") % {"value": cut(merchant)}]
    elif len(merchant) > MAX_ID:
        message = _("merchant_code %(value)r is longer than 64 characters.")
        errors["merchant_code"] = [message % {"value": cut(merchant)}]
    elif not merchant.isprintable():  # a line break, NUL, or a bidi override that would disguise the code shown
        message = _(_ID_REASONS["not_printable"]) % {"column": column_label("merchant_code"), "value": cut(merchant)}
        errors["merchant_code"] = [message]
    if kind == "cancel":
        if not original:
            errors["original_transaction_id"] = [_("original_transaction_id is required for a cancel.")]
        elif original == tid:
            message = _("original_transaction_id %(value)r names the cancel itself.")
            errors["original_transaction_id"] = [message % {"value": cut(original)}]
        else:
            _id_check(original, "original_transaction_id", errors)
    elif original and kind is not None:
        message = _("original_transaction_id %(value)r is only for cancels.")
        errors["original_transaction_id"] = [message % {"value": cut(original)}]
    if method:
        method = method.lower()
        if method not in CHARGE_METHODS:
            message = _("charge_method %(value)r is not one of card, jwest_card, seven_atm, bank.")
            errors["charge_method"] = [message % {"value": cut(method)}]
        elif kind == "payment":
            errors["charge_method"] = [_("charge_method %(value)r is only for charges.") % {"value": method}]
    return method


def _time_check(kind: str | None, occurred: datetime, window: Window, errors: dict[str, list[str]]) -> None:
    """R9 on the portal's clock: a cancel counts whatever its own time, but not from the future."""
    if window.now > window.cutoff_at:
        errors.setdefault("non_field_errors", []).append(after_cutoff_reason(window.cutoff_at))
    elif occurred > window.latest:
        errors["occurred_at"] = [_("occurred_at %(value)s is in the future.") % {"value": occurred.isoformat()}]
    elif kind == "cancel" and not _storable(occurred):
        # A cancel counts whatever its own time, but 0001-01-01 00:00 JST is before the year 1 in UTC,
        # where the database keeps times: storing it failed the whole push or file with an OverflowError.
        message = _("occurred_at %(value)s is before the year 1 in UTC: no time that early can be stored.")
        errors["occurred_at"] = [message % {"value": occurred.isoformat()}]
    elif kind != "cancel" and not (window.starts_at <= occurred < window.ends_at):
        message = _("occurred_at %(value)s is outside the campaign period.")
        errors["occurred_at"] = [message % {"value": occurred.isoformat()}]


def _storable(moment: datetime) -> bool:
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def errors_reason(errors: dict[str, list[str]]) -> str:
    """The errors of a row as one sentence list, for the import report."""
    return " ".join(message for messages in errors.values() for message in messages)
