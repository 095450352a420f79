"""inventory and jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:15:51.661632

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_groups_name'))
    )
    op.create_table('hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('user', sa.String(length=64), nullable=True),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hosts')),
    sa.UniqueConstraint('name', name=op.f('uq_hosts_name'))
    )
    op.create_table('host_groups',
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_host_groups_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['host_id'], ['hosts.id'], name=op.f('fk_host_groups_host_id_hosts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('host_id', 'group_id', name=op.f('pk_host_groups'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('canceled_by', sa.String(length=64), nullable=True),
    sa.Column('allow_concurrent', sa.Boolean(), nullable=False),
    sa.Column('waiting_for', sa.String(length=255), nullable=True),
    sa.Column('soft_time_limit', sa.Integer(), nullable=False),
    sa.Column('time_limit', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('rc', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('relaunch_of_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('playbook', 'vm')", name=op.f('ck_jobs_kind_known')),
    sa.CheckConstraint("status IN ('queued', 'waiting', 'running', 'successful', 'failed', 'canceled', 'timed_out', 'lost')", name=op.f('ck_jobs_status_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relaunch_of_id'], ['jobs.id'], name=op.f('fk_jobs_relaunch_of_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_status'), ['status'], unique=False)

    op.create_table('host_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('ok', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('unreachable', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('rescued', sa.Integer(), nullable=False),
    sa.Column('ignored', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_host_results_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_host_results'))
    )
    with op.batch_alter_table('host_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_host_results_job_id'), ['job_id'], unique=False)

    op.create_table('job_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('task', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('failed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_lines_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_lines')),
    sa.UniqueConstraint('job_id', 'seq', name='uq_job_lines_job_id_seq')
    )
    op.create_table('job_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_targets_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_targets'))
    )
    with op.batch_alter_table('job_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_targets_job_id'), ['job_id'], unique=False)
        batch_op.create_index('ix_job_targets_kind_name', ['kind', 'name'], unique=False)

    op.create_table('target_locks',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_target_locks_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_target_locks'))
    )
    with op.batch_alter_table('target_locks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_target_locks_job_id'), ['job_id'], unique=False)



def downgrade():
    with op.batch_alter_table('target_locks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_target_locks_job_id'))

    op.drop_table('target_locks')
    with op.batch_alter_table('job_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_job_targets_kind_name')
        batch_op.drop_index(batch_op.f('ix_job_targets_job_id'))

    op.drop_table('job_targets')
    op.drop_table('job_lines')
    with op.batch_alter_table('host_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_host_results_job_id'))

    op.drop_table('host_results')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_jobs_kind'))
        batch_op.drop_index(batch_op.f('ix_jobs_created_by'))
        batch_op.drop_index(batch_op.f('ix_jobs_created_at'))

    op.drop_table('jobs')
    op.drop_table('host_groups')
    op.drop_table('hosts')
    op.drop_table('groups')
