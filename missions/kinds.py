"""The kinds of mission, each defined once: its parameters and their validation, the SQL condition a
record must meet, how its progress counts, and how the customer reads it.

The scorer (``missions.evaluate``), the "why it counted" list, the progress document, the stamp card,
the admin's mission form, ``load_campaign`` and the public campaign API all ask the kind of a mission
(``KINDS[mission.kind]``); adding a kind is one class here (shaped like healthchecks' transports).

A record-counting kind sees each of the member's countable records (a charge or payment in the
period, not cancelled, eligible amount > 0) as a row with these columns: ``type``, ``elig`` (the
eligible amount, R5), ``merchant_code``, ``bonus`` (1 at an active bonus merchant), ``d`` (JST day
number), ``tod`` (JST seconds since midnight) and ``dow`` (ISO weekday), in the member's time order
(window ``w``). Its ``checks`` say whether a record qualifies (``q``, 0/1, with the first failed
check as the reason); its ``progress_sql`` is the member's running progress after each record,
never decreasing, and at least 1 from the first record that qualifies (so the scorer clears a
mission of target 1 at that record without computing the progress). The record at which the
running progress first reaches the target clears the mission (R4), so every kind shares one way of
finding ``cleared_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from missions.rules import Rule

RUNNING = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
BEFORE = "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
RECORD_FILTERS = ("min_amount", "window_start", "window_end", "weekdays", "bonus_merchants_only")


class Check(NamedTuple):
    """One condition over a record row; ``reason`` says why a record that fails it does not count."""

    reason: str
    sql: str


class Step(NamedTuple):
    """A column of the running progress, computed at ``level`` (2, 3 or 4) over the window ``w``."""

    level: int
    name: str
    sql: str


def _new_day(k: int) -> str:  # no earlier qualifying record on the record's JST day
    return f"(b{k} IS NULL OR b{k} < d)"


def _new_run(k: int) -> str:  # nor on the day before: a run of consecutive days starts here
    return f"(b{k} IS NULL OR b{k} < d - 1)"


def _seconds(value) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


@dataclass(frozen=True)
class Kind:
    """What every kind answers. ``record_type`` is the record it counts (None: not records)."""

    code: str
    label: str
    record_type: str | None = None
    unit_ja: str = "回"
    unit_en: str = ""
    # The reason a qualifying record adds nothing ("an earlier payment already counted this day").
    no_gain: str = ""
    fields: tuple[str, ...] = ("target_count",)
    units_allowed: bool = True

    def checks(self, rule: Rule) -> list[Check]:
        """The record conditions, in the order the "why" list reports the first one failed."""
        checks = [Check("wrong_type", f"type = '{self.record_type}'")]
        if rule.bonus_only:
            checks.append(Check("not_bonus_merchant", "bonus = 1"))
        checks.append(Check("below_threshold", f"elig >= {int(rule.min_amount)}"))
        if rule.window_start is not None and rule.window_end is not None:
            start, end = _seconds(rule.window_start), _seconds(rule.window_end)
            checks.append(Check("outside_window", f"tod >= {start} AND tod < {end}"))
        if rule.weekdays:
            checks.append(Check("wrong_weekday", f"dow IN ({', '.join(str(int(d)) for d in rule.weekdays)})"))
        return checks

    def progress_sql(self, k: int) -> list[Step]:
        """The steps whose last column ``p{k}`` is the running progress; ``q{k}`` says the record qualifies."""
        return [Step(2, f"p{k}", f"sum(q{k}) OVER (w {RUNNING})")]

    def gained_sql(self, k: int) -> str:
        """Whether a record added to the progress (the "why" list's "counted")."""
        return f"p{k} > v{k}"

    def clean(self, mission) -> dict[str, str]:
        errors: dict[str, str] = {}
        if mission.unit_points and not self.units_allowed:
            errors["unit_points"] = str(_("This kind of mission has no per-unit reward."))
        elif mission.unit_points and mission.unit_points * mission.target_count != mission.reward_points:
            errors["reward_points"] = str(_("With points per unit, the reward must be points per unit × target."))
        if self.record_type is None:
            return errors
        start, end = mission.window_start, mission.window_end
        if (start is None) != (end is None):
            errors["window_end"] = str(_("Give both ends of the time window, or neither."))
        elif start is not None and start >= end:
            errors["window_end"] = str(_("The time window must start before it ends."))
        weekdays = mission.weekdays if isinstance(mission.weekdays, list) else None
        if weekdays is None or any(not isinstance(d, int) or d not in range(1, 8) for d in weekdays):
            errors["weekdays"] = str(_("Weekdays are a list of numbers from 1 (Monday) to 7 (Sunday)."))
        return errors

    def unit(self, language: str) -> str:
        return self.unit_ja if language == "ja" else self.unit_en


@dataclass(frozen=True)
class DistinctDays(Kind):
    """Payments on N different JST days: a record adds a day when no earlier qualifying record is on it."""

    def progress_sql(self, k: int) -> list[Step]:
        return [
            Step(2, f"b{k}", f"max(CASE WHEN q{k} = 1 THEN d END) OVER (w {BEFORE})"),
            Step(3, f"p{k}", f"sum(CASE WHEN q{k} = 1 AND {_new_day(k)} THEN 1 ELSE 0 END) OVER (w {RUNNING})"),
        ]


@dataclass(frozen=True)
class ConsecutiveDays(Kind):
    """Payments on N consecutive JST days: progress is the longest run of days so far.

    ``s`` is the first day of the run the record belongs to: the latest qualifying day that did not
    follow a qualifying day (days only grow in the window's order).
    """

    def progress_sql(self, k: int) -> list[Step]:
        return [
            Step(2, f"b{k}", f"max(CASE WHEN q{k} = 1 THEN d END) OVER (w {BEFORE})"),
            Step(3, f"s{k}", f"max(CASE WHEN q{k} = 1 AND {_new_run(k)} THEN d END) OVER (w {RUNNING})"),
            Step(4, f"p{k}", f"max(CASE WHEN q{k} = 1 THEN d - s{k} + 1 ELSE 0 END) OVER (w {RUNNING})"),
        ]

    def gained_sql(self, k: int) -> str:  # a new day of a run counts, even one shorter than the best so far
        return f"q{k} = 1 AND {_new_day(k)}"


@dataclass(frozen=True)
class DistinctMerchants(Kind):
    """Payments at N different merchants: a record adds its merchant the first time it qualifies there."""

    def progress_sql(self, k: int) -> list[Step]:
        first = f"row_number() OVER (PARTITION BY member_id, merchant_code, q{k} ORDER BY occurred_at, transaction_id)"
        return [
            Step(2, f"f{k}", first),
            Step(3, f"p{k}", f"sum(CASE WHEN q{k} = 1 AND f{k} = 1 THEN 1 ELSE 0 END) OVER (w {RUNNING})"),
        ]


@dataclass(frozen=True)
class CumulativeAmount(Kind):
    """An eligible amount of at least X yen in total over the period (the target is in yen)."""

    def progress_sql(self, k: int) -> list[Step]:
        return [Step(2, f"p{k}", f"sum(CASE WHEN q{k} = 1 THEN elig ELSE 0 END) OVER (w {RUNNING})")]


@dataclass(frozen=True)
class Videos(Kind):
    """Watch N of the campaign's videos; with points per unit, each video is its own reward."""


@dataclass(frozen=True)
class Completion(Kind):
    """Clear every mission it requires; cleared when the last of them is."""

    def clean(self, mission) -> dict[str, str]:
        errors = super().clean(mission)
        if mission.pk and mission.code in {m.code for m in mission.requires.all()}:
            errors["requires"] = str(_("A completion mission cannot require itself."))
        return errors


_COUNTS = ("target_count", *RECORD_FILTERS, "unit_points")
KINDS: dict[str, Kind] = {
    kind.code: kind
    for kind in (
        Kind("charge", _("charges"), "charge", "回", " charges", fields=_COUNTS),
        Kind("payment", _("payments"), "payment", "回", " payments", fields=_COUNTS),
        DistinctDays(
            "payment_days", _("payments on different days"), "payment", "日", " days", "day_already_counted", _COUNTS
        ),
        ConsecutiveDays(
            "payment_streak",
            _("payments on consecutive days"),
            "payment",
            "日連続",
            " days in a row",
            "day_already_counted",
            _COUNTS,
        ),
        DistinctMerchants(
            "payment_merchants",
            _("payments at different merchants"),
            "payment",
            "店",
            " merchants",
            "merchant_already_counted",
            _COUNTS,
        ),
        CumulativeAmount(
            "payment_amount",
            _("eligible amount in total"),
            "payment",
            "円",
            " yen",
            fields=("target_count", *RECORD_FILTERS),
            units_allowed=False,
        ),
        Videos("video", _("video views"), None, "本", " videos", fields=("target_count", "unit_points")),
        Completion("completion", _("other missions cleared"), None, "", "", fields=("requires",), units_allowed=False),
    )
}
KIND_CHOICES = [(kind.code, kind.label) for kind in KINDS.values()]


def kind_of(code: str) -> Kind:
    return KINDS[code]


# The records any mission may count: the conditions the scorer applies before the kinds' own, in
# the order the "why" list reports them. ``{tx}`` is the transaction table, ``t`` the record.
BASE_CHECKS: list[tuple[str, Callable[[str], str]]] = [
    ("is_cancel", lambda tx: "t.type IN ('payment', 'charge')"),
    (
        "cancelled",
        lambda tx: (
            f"NOT EXISTS (SELECT 1 FROM {tx} c WHERE c.type = 'cancel' "
            f"AND c.original_transaction_id = t.transaction_id)"
        ),
    ),
    ("outside_period", lambda tx: "t.occurred_at >= %(starts)s AND t.occurred_at < %(ends)s"),
    ("paid_with_points", lambda tx: "NOT (t.type = 'payment' AND t.points_used > 0 AND t.amount <= t.points_used)"),
    ("zero_amount", lambda tx: "t.amount - (CASE WHEN t.type = 'payment' THEN t.points_used ELSE 0 END) > 0"),
]
