"""ids never reused: AUTOINCREMENT on SQLite's integer keys; a VM remembers its hypervisor UUID

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:20:00

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands a deleted row's id to the next row, so an old
job's `vm_id` could name a different VM. PostgreSQL sequences never go back; there this only adds the column.
Later batch migrations on these tables must pass the same table_kwargs, or SQLite's rebuild drops the keyword
(tests/test_jobcore.py checks every table).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("users", "audit_events", "hosts", "groups", "jobs", "job_targets", "job_lines", "host_results",
          "providers", "vms")


def upgrade():
    with op.batch_alter_table("vms") as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade():
    with op.batch_alter_table("vms") as batch_op:
        batch_op.drop_column("uuid")
