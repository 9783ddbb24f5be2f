# The admin's columns, read-only fields and history, {{ value }} in templates and the site's |jst
# filter all write a time this way. "D" is the weekday abbreviation Django translates: 金.
DATETIME_FORMAT = "n月j日(D) H:i"
WEEKDAY_DATE_FORMAT = "n月j日(D)"
DAY_MONTH_SHORT_FORMAT = "n/j"
