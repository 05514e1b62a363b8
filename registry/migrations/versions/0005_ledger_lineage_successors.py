"""the ledger, exports, withdrawal lists and successor runs

- ledger_entries / ledger_heads: the tamper-evident record (registry.ledger); `registry
  init` fills it from the rows already there (as "baseline" entries: history before the
  upgrade is not covered).
- exports: model folders written by `registry export` (lineage reaches them).
- withdrawal_lists: signed lists written by `registry withdrawals publish`.
- runs.successor_of: a run re-trained without withdrawn images names its predecessor.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("row_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("leaf_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_ledger_entries_kind_key", "ledger_entries", ["kind", "key"])
    op.create_table(
        "ledger_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("signer", sa.JSON(), nullable=True),
        sa.Column("withdrawals_location", sa.Text(), nullable=True),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "withdrawal_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor_of", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key("fk_runs_successor_of_runs", "runs", ["successor_of"], ["id"], ondelete="RESTRICT")


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_runs_successor_of_runs", type_="foreignkey")
        batch_op.drop_column("successor_of")
    op.drop_table("withdrawal_lists")
    op.drop_table("exports")
    op.drop_table("ledger_heads")
    op.drop_index("ix_ledger_entries_kind_key", table_name="ledger_entries")
    op.drop_table("ledger_entries")
