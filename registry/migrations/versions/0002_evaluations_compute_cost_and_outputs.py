"""evaluations, compute cost and outputs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:20:35.398058
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("input_name", sa.Text(), nullable=False),
        sa.Column("input_sha256", sa.String(length=64), nullable=False),
        sa.Column("output_path", sa.Text(), nullable=False),
        sa.Column("output_sha256", sa.String(length=64), nullable=False),
        sa.Column("sigma", sa.Double(), nullable=False),
        sa.Column("sigma_estimated", sa.Boolean(), nullable=False),
        sa.Column("estimator", sa.String(length=20), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=True),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("include_withdrawn", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("cost", sa.JSON(), nullable=False),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_metrics_evaluation", "evaluations", ["evaluation_id"], ["id"], ondelete="CASCADE"
        )

    with op.batch_alter_table("run_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_run_metrics_evaluation", "evaluations", ["evaluation_id"], ["id"], ondelete="CASCADE"
        )

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("family", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("family")
        batch_op.drop_column("cost")

    with op.batch_alter_table("run_metrics", schema=None) as batch_op:
        batch_op.drop_constraint("fk_run_metrics_evaluation", type_="foreignkey")
        batch_op.drop_column("evaluation_id")

    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_constraint("fk_metrics_evaluation", type_="foreignkey")
        batch_op.drop_column("evaluation_id")

    op.drop_table("evaluations")
    op.drop_table("outputs")
