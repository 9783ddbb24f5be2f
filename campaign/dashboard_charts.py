"""The dashboard's charts: each one a Chart.js configuration, the table behind it and its CSV rows.

One description per chart serves the three views of it, so the chart, "表で見る" and the CSV
file can never disagree. The configuration is plain JSON (passed with ``json_script``, drawn by
``static/backoffice/dashboard.js``): no inline script, no code in the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from django.utils.formats import number_format
from django.utils.translation import get_language, gettext, pgettext

from campaign.dashboard import LOTTERY, DashboardFigures
from campaign.models import Campaign, PointType
from campaign.templatetags.site import WEEKDAYS_EN, WEEKDAYS_JA
from missions.models import Course

# Okabe–Ito: told apart by people with any colour vision; repeated beyond eight series.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass
class Series:
    name: str
    values: list[float | int | None]
    kind: str = "bar"  # "bar" or "line"
    axis: str = "y"  # "y" or "y2" (a second scale on the right)
    options: dict = field(default_factory=dict)  # further Chart.js dataset options (dash, fill, stack)
    in_chart: bool = True  # False: a column of the table and the CSV only


@dataclass
class Chart:
    key: str
    title: str
    x_title: str
    labels: list[str]  # as shown (3/2(月), mission titles)
    keys: list[str]  # as written to CSV (ISO dates, codes)
    series: list[Series]
    y_title: str = ""
    y2_title: str = ""
    horizontal: bool = False
    stacked: bool = False
    note: str = ""

    def config(self) -> dict:
        datasets = []
        for n, series in enumerate(s for s in self.series if s.in_chart):
            colour = series.options.get("color", PALETTE[n % len(PALETTE)])
            dataset = {
                "type": series.kind,
                "label": series.name,
                "data": series.values,
                "backgroundColor": colour,
                "borderColor": colour,
                "pointRadius": 0 if len(self.labels) > 20 else 2,
                "borderWidth": 2 if series.kind == "line" else 0,
            }
            if self.horizontal:  # the values run along x: a second value scale would be x2
                dataset["xAxisID"] = "x" if series.axis == "y" else "x2"
            else:
                dataset["yAxisID"] = series.axis
            datasets.append(dataset | {k: v for k, v in series.options.items() if k != "color"})
        value_axis = "x" if self.horizontal else "y"
        scales = {
            "x" if not self.horizontal else "y": {"stacked": self.stacked, "title": _title(self.x_title)},
            value_axis: {"stacked": self.stacked, "beginAtZero": True, "title": _title(self.y_title)},
        }
        if any(s.axis == "y2" for s in self.series if s.in_chart):
            scales["y2"] = {"position": "right", "beginAtZero": True, "grid": {"drawOnChartArea": False}}
            scales["y2"]["title"] = _title(self.y2_title)
        return {
            "type": "bar",
            "data": {"labels": self.labels, "datasets": datasets},
            "options": {
                "locale": "ja-JP" if (get_language() or "ja").startswith("ja") else "en-GB",
                "indexAxis": "y" if self.horizontal else "x",
                "maintainAspectRatio": False,
                "animation": False,
                "interaction": {"mode": "index", "intersect": False},
                "plugins": {"legend": {"position": "bottom"}},
                "scales": scales,
            },
        }

    def header(self) -> list[str]:
        return [self.x_title, *(s.name for s in self.series)]

    def rows(self) -> Iterator[list]:
        """The table as shown: labels and numbers with thousands separators."""
        for n, label in enumerate(self.labels):
            yield [label, *(_shown(s.values[n]) for s in self.series)]

    def csv_rows(self) -> Iterator[list]:
        yield [self.x_title, *(s.name for s in self.series)]
        for n, key in enumerate(self.keys):
            yield [key, *("" if s.values[n] is None else s.values[n] for s in self.series)]


def _title(text: str) -> dict:
    return {"display": bool(text), "text": text}


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return number_format(value, decimal_pos=1, force_grouping=True)
    return number_format(value, force_grouping=True)


def day_label(day: date) -> str:
    if (get_language() or "ja").startswith("en"):
        return f"{WEEKDAYS_EN[day.weekday()]} {day.day}/{day.month}"
    return f"{day.month}/{day.day}({WEEKDAYS_JA[day.weekday()]})"


def dashboard_charts(*, campaign: Campaign, figures: DashboardFigures) -> list[Chart]:
    """Every chart of the dashboard, in the order marketing reads them."""
    return [
        _entries(figures),
        _clears_daily(figures),
        _clears_cumulative(figures),
        _stamps(figures),
        _points_by_course(campaign, figures),
        _points_budget(figures),
        _eligible(figures),
        _imports(figures),
    ]


def _day_axis(figures: DashboardFigures) -> tuple[list[str], list[str]]:
    return [day_label(d) for d in figures.days], [d.isoformat() for d in figures.days]


def _entries(figures: DashboardFigures) -> Chart:
    labels, keys = _day_axis(figures)
    return Chart(
        key="entries",
        title=gettext("Entries per day (JST) and in total"),
        x_title=gettext("day"),
        labels=labels,
        keys=keys,
        y_title=gettext("entries per day"),
        y2_title=gettext("entries in total"),
        series=[
            Series(gettext("entries per day"), figures.entries_by_day),
            Series(gettext("entries in total"), list(accumulate(figures.entries_by_day)), kind="line", axis="y2"),
        ],
    )


def _clears_daily(figures: DashboardFigures) -> Chart:
    labels, keys = _day_axis(figures)
    return Chart(
        key="clears-daily",
        title=gettext("Clears per mission and day (entered members)"),
        x_title=gettext("day"),
        labels=labels,
        keys=keys,
        y_title=gettext("clears"),
        stacked=True,
        series=[Series(title, figures.clears_by_mission_day[code]) for code, title in figures.missions],
    )


def _clears_cumulative(figures: DashboardFigures) -> Chart:
    labels, keys = _day_axis(figures)
    return Chart(
        key="clears-cumulative",
        title=gettext("Clears per mission in total"),
        x_title=gettext("day"),
        labels=labels,
        keys=keys,
        y_title=gettext("members who cleared it"),
        series=[
            Series(title, list(accumulate(figures.clears_by_mission_day[code])), kind="line")
            for code, title in figures.missions
        ],
        note=gettext("Entered members: %(n)s; a mission's total is at most that.")
        % {"n": number_format(figures.entries_total, force_grouping=True)},
    )


def _stamps(figures: DashboardFigures) -> Chart:
    bars = figures.members_by_stamps
    return Chart(
        key="stamps",
        title=gettext("Entered members by number of stamps"),
        x_title=gettext("stamps"),
        labels=[b.label for b in bars],
        keys=[b.label for b in bars],
        y_title=gettext("members"),
        series=[Series(gettext("members"), [b.value for b in bars])],
    )


def course_point_type_label(campaign: Campaign, key: str) -> str:
    """``casual / limited`` → カジュアルコース／期間・用途限定ポイント."""
    code, _, point_type = key.partition(" / ")
    names = {c.code: c.name for c in Course.objects.filter(campaign=campaign)}
    what = gettext("lottery prize") if code == LOTTERY else names.get(code, code)
    try:
        kind = PointType(point_type).label
    except ValueError:
        kind = point_type
    return f"{what}／{kind}"


def _points_by_course(campaign: Campaign, figures: DashboardFigures) -> Chart:
    bars = figures.points_by_course
    return Chart(
        key="points-course",
        title=gettext("Points awarded by course and point type, against the maximum"),
        x_title=gettext("course／point type"),
        labels=[course_point_type_label(campaign, b.label) for b in bars],
        keys=[b.label for b in bars],
        y_title=gettext("points"),
        horizontal=True,
        series=[
            Series(gettext("points awarded"), [b.value for b in bars]),
            Series(gettext("maximum the entered members can earn"), [b.maximum for b in bars]),
        ],
        note=gettext("The maximum grows with every entry: it is what all entered members could still earn."),
    )


def _points_budget(figures: DashboardFigures) -> Chart:
    """Mission points so far, the forecast to the last day with its 80 % band, and the budget left for them."""
    days = list(figures.days)
    while days and days[-1] < figures.period_end:
        days.append(days[-1] + timedelta(days=1))
    known = len(figures.days)
    daily = [sum(values) for values in zip(*figures.points_by_day.values(), strict=True)]
    actual = list(accumulate(daily)) + [None] * (len(days) - known)
    forecast = figures.forecast
    expected: list[int | None] = [None] * len(days)
    low: list[int | None] = [None] * len(days)
    high: list[int | None] = [None] * len(days)
    if forecast is not None and figures.forecast_from is not None:
        start = days.index(figures.forecast_from)
        expected[start] = low[start] = high[start] = forecast.start_total
        for h, (e, lo, hi) in enumerate(zip(forecast.expected, forecast.low, forecast.high, strict=True), start=1):
            expected[start + h], low[start + h], high[start + h] = e, lo, hi
    series = [
        Series(gettext("mission points awarded in total"), actual, kind="line"),
        Series(gettext("forecast"), expected, kind="line", options={"borderDash": [6, 4]}),
        Series(
            gettext("forecast, 80% band (low)"),
            low,
            kind="line",
            options={"color": "rgba(0,114,178,0.25)", "borderWidth": 0, "fill": False},
        ),
        Series(
            gettext("forecast, 80% band (high)"),
            high,
            kind="line",
            options={"color": "rgba(0,114,178,0.25)", "borderWidth": 0, "fill": "-1"},
        ),
    ]
    if figures.budget:
        left = figures.budget - figures.lottery_points
        series.append(
            Series(
                gettext("budget for mission points (budget − lottery prizes)"),
                [left] * len(days),
                kind="line",
                options={"color": "#D55E00", "borderDash": [2, 2]},
            )
        )
    return Chart(
        key="points-budget",
        title=gettext("Mission points against the budget, with a forecast to the end of the period"),
        x_title=gettext("day"),
        labels=[day_label(d) for d in days],
        keys=[d.isoformat() for d in days],
        y_title=gettext("points"),
        series=series,
        note=forecast_note(figures),
    )


def forecast_note(figures: DashboardFigures) -> str:
    forecast = figures.forecast
    if forecast is None:
        if figures.forecast_from is not None and figures.forecast_from >= figures.period_end:
            return gettext("The period is over: these are the points of the whole period, nothing is forecast.")
        return gettext("No forecast yet: it needs three complete days of the period still ahead.")
    text = gettext(
        "Model: random walk with drift over the last %(days)s complete days (%(mean)s points a day on average, "
        "standard deviation %(sd)s); the band is its 80%% prediction interval. It assumes the recent pace holds."
    ) % {
        "days": forecast.window_days,
        "mean": number_format(round(forecast.mean_per_day), force_grouping=True),
        "sd": number_format(round(forecast.sd_per_day), force_grouping=True),
    }
    total = gettext("Expected at the end: %(expected)s points (%(low)s–%(high)s), plus %(lottery)s lottery points.") % {
        "expected": number_format(forecast.end_expected, force_grouping=True),
        "low": number_format(forecast.end_low, force_grouping=True),
        "high": number_format(forecast.end_high, force_grouping=True),
        "lottery": number_format(figures.lottery_points, force_grouping=True),
    }
    return f"{text} {total}"


def _eligible(figures: DashboardFigures) -> Chart:
    labels, keys = _day_axis(figures)
    return Chart(
        key="eligible",
        title=gettext("Lottery-eligible members over time"),
        x_title=gettext("day"),
        labels=labels,
        keys=keys,
        y_title=gettext("newly eligible"),
        y2_title=gettext("eligible in total"),
        series=[
            Series(gettext("newly eligible"), figures.eligible_by_day),
            Series(gettext("eligible in total"), list(accumulate(figures.eligible_by_day)), kind="line", axis="y2"),
        ],
        note=gettext("Entered members who cleared every lottery mission, by the day they cleared the last one."),
    )


def _imports(figures: DashboardFigures) -> Chart:
    batches = list(reversed(figures.imports))  # oldest first, as time runs left to right
    rate = [round(100 * b.rejected / b.rows_total, 1) if b.rows_total else None for b in batches]
    speed = [round(b.rows_done / b.duration_seconds) if b.duration_seconds and b.rows_done else None for b in batches]
    return Chart(
        key="imports",
        title=gettext("Last transaction imports"),
        x_title=gettext("file"),
        labels=[f"#{b.pk} {b.file_name}" for b in batches],
        keys=[str(b.pk) for b in batches],
        y_title=gettext("rows"),
        y2_title=gettext("rejected (%)"),
        stacked=True,
        series=[
            Series(gettext("accepted"), [b.accepted for b in batches]),
            Series(gettext("duplicates"), [b.duplicates for b in batches]),
            Series(gettext("rejected"), [b.rejected for b in batches]),
            Series(gettext("rejected (%)"), rate, kind="line", axis="y2", options={"stack": "rate"}),
            Series(gettext("rows per second"), speed, in_chart=False),
        ],
    )


def dashboard_rows(charts: list[Chart]) -> Iterator[list]:
    """Every chart's own CSV rows in one long file: chart title, key, series, value (in the staff's language)."""
    yield [
        pgettext("dashboard CSV", "chart"),
        pgettext("dashboard CSV", "key"),
        pgettext("dashboard CSV", "series"),
        pgettext("dashboard CSV", "value"),
    ]
    for chart in charts:
        header, *rows = chart.csv_rows()
        for key, *values in rows:
            for name, value in zip(header[1:], values, strict=True):
                yield [chart.title, key, name, value]
