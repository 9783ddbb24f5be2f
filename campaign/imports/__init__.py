"""Transactions into the store (SPEC 3.1, 3.3, R9): files from operations staff, records from the system API.

``checking`` judges one row (the one validator), ``reading`` turns a CSV or XLSX file into rows,
``merging`` stages the valid rows and merges them set-based, ``batches`` runs an import batch and
hands the touched members to the scoring tasks, ``pushing`` stores the API's records.
"""
