"""Where the points awarded will end by the last day of the period, from the pace so far.

The model is a random walk with drift fitted to the daily points of the last ``WINDOW`` complete
days (the "drift method" of Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*,
3rd ed., §5.2): each remaining day adds the mean daily amount, and the 80 % prediction interval
after ``h`` days is ``± 1.28 · s · √(h · (1 + h / n))`` for the daily standard deviation ``s``
over ``n`` days — it widens with the horizon and with the shortness of the history. It assumes
the recent pace holds: a launch peak or a promotion ahead is not in it, and the dashboard says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

WINDOW = 14  # two weeks: both weekends in, the launch peak out after the second week
MIN_DAYS = 3  # fewer complete days give no estimate of the spread
Z_80 = 1.2816  # the standard normal quantile of 90 %: an 80 % two-sided interval


@dataclass(frozen=True)
class Forecast:
    window_days: int
    mean_per_day: float
    sd_per_day: float
    start_total: int  # the cumulative points at the last complete day
    expected: list[int]  # the cumulative points on each remaining day
    low: list[int]
    high: list[int]

    @property
    def end_expected(self) -> int:
        return self.expected[-1]

    @property
    def end_low(self) -> int:
        return self.low[-1]

    @property
    def end_high(self) -> int:
        return self.high[-1]


def forecast_drift(*, daily: list[int], start_total: int, days_left: int) -> Forecast | None:
    """The drift forecast of the cumulative total ``days_left`` days ahead, or None without enough history."""
    recent = daily[-WINDOW:]
    if len(recent) < MIN_DAYS or days_left <= 0:
        return None
    mean = statistics.fmean(recent)
    sd = statistics.stdev(recent)
    n = len(recent)
    expected, low, high = [], [], []
    for h in range(1, days_left + 1):
        centre = start_total + mean * h
        half = Z_80 * sd * math.sqrt(h * (1 + h / n))
        expected.append(round(centre))
        low.append(round(max(centre - half, start_total)))  # points awarded never go below what is awarded
        high.append(round(centre + half))
    return Forecast(
        window_days=n,
        mean_per_day=mean,
        sd_per_day=sd,
        start_total=start_total,
        expected=expected,
        low=low,
        high=high,
    )
