"""Date formats for staff and members (FORMAT_MODULE_PATH): Japan time as 「3月20日(金) 12:00」.

Django's own formats per language stay in force for everything not named here (input formats
included, so the admin's date and time inputs still take 2026-03-20 and 12:00:00).
"""
