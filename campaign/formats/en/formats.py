# The English of campaign/formats/ja: "Fri 20 Mar 12:00".
DATETIME_FORMAT = "D j M H:i"
WEEKDAY_DATE_FORMAT = "D j M"
DAY_MONTH_SHORT_FORMAT = "j M"
