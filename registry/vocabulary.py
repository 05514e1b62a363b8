"""Values the records and reports use that `registry --help` shows, importable without the database layer."""

CONSENT_STATUSES = ("granted", "withdrawn", "unknown", "not-applicable")

DEFAULT_POWER_WATTS = 65.0  # stated assumption for energy figures: a desktop CPU package under load
