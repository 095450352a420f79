"""vm state check: a VM's state is one of the known states

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:45:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The states as of this revision (app.jobcore.status.VMState); later changes get their own revision.
STATES = ("running", "stopped", "paused", "shutting_down", "crashed", "unknown", "creating", "deleting", "error",
          "missing")


def upgrade():
    with op.batch_alter_table("vms") as batch_op:
        batch_op.create_check_constraint("state_known", f"state IN ({', '.join(repr(s) for s in STATES)})")


def downgrade():
    with op.batch_alter_table("vms") as batch_op:
        batch_op.drop_constraint("ck_vms_state_known", type_="check")
