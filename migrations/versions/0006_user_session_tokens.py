"""user session tokens: sessions and remember-me cookies name a user by a token that can be replaced

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:00:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=64), nullable=True))
    # Every existing user gets a token of their own; sessions made before this revision name users by id
    # and stop working, so everyone logs in once more.
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        token = secrets.token_urlsafe(32)
        bind.execute(users.update().where(users.c.id == user_id).values(session_token=token))
    # SQLite rebuilds the table for these two: keep its AUTOINCREMENT (revision 0005).
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_session_token"), ["session_token"])


def downgrade():
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_session_token"), type_="unique")
        batch_op.drop_column("session_token")
