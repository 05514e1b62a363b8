"""registry identity, picture content hashes, outputs bound to their run

- registry_info holds the registry's own id (`workspace_id`), which signed manifests
  carry so a verifier knows which registry can vouch for them.
- images.content_sha256: a hash of the decoded picture, so consent follows the picture
  to every copy (backfilled from the files by `registry init`, which runs this).
- consent_events.reached: the copies a consent change reached.
- outputs.run_id becomes a foreign key (a run with outputs cannot be deleted); a run
  named by a model folder from another registry moves to outputs.model_run_id.

Revision ID: 0004
Revises: 0003
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    info = op.create_table(
        "registry_info",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.bulk_insert(info, [{"key": "workspace_id", "value": uuid.uuid4().hex}])

    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_images_content_sha256", ["content_sha256"])

    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reached", sa.JSON(), nullable=True))

    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_run_id", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE outputs SET model_run_id = run_id, run_id = NULL "
        "WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT id FROM runs)"
    )
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_outputs_run_id_runs", "runs", ["run_id"], ["id"], ondelete="RESTRICT")


def downgrade() -> None:
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outputs_run_id_runs", type_="foreignkey")
    op.execute("UPDATE outputs SET run_id = model_run_id WHERE run_id IS NULL")
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.drop_column("model_run_id")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_column("reached")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_content_sha256")
        batch_op.drop_column("content_sha256")
    op.drop_table("registry_info")
