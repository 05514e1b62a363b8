"""The provenoise registry: records of datasets, images, consent, runs, checkpoints,
metrics and audits, in one SQL database per workspace (SQLite by default, PostgreSQL
when shared), with the data itself versioned by DVC."""
