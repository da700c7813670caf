"""sign_in_failures, sign_in_addresses, rate_limits: throttles that survive restarts;
write_checks; camera_leases: one process runs a camera

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 21:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures')),
    )
    op.create_index(op.f('ix_sign_in_failures_at'), 'sign_in_failures', ['at'], unique=False)
    op.create_index('ix_sign_in_failures_key_at', 'sign_in_failures', ['key', 'at'], unique=False)
    op.create_table(
        'sign_in_addresses',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('seen_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('account', 'address', name=op.f('pk_sign_in_addresses')),
    )
    op.create_index(op.f('ix_sign_in_addresses_seen_at'), 'sign_in_addresses', ['seen_at'], unique=False)
    op.create_table(
        'rate_limits',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limits')),
    )
    op.create_index(op.f('ix_rate_limits_expires_at'), 'rate_limits', ['expires_at'], unique=False)
    op.create_table(
        'camera_leases',
        sa.Column('camera', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=100), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('camera', name=op.f('pk_camera_leases')),
    )
    op.create_table(
        'write_checks',
        sa.Column('server', sa.String(length=64), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('server', name=op.f('pk_write_checks')),
    )


def downgrade():
    op.drop_table('write_checks')
    op.drop_table('camera_leases')
    op.drop_index(op.f('ix_rate_limits_expires_at'), table_name='rate_limits')
    op.drop_table('rate_limits')
    op.drop_index(op.f('ix_sign_in_addresses_seen_at'), table_name='sign_in_addresses')
    op.drop_table('sign_in_addresses')
    op.drop_index('ix_sign_in_failures_key_at', table_name='sign_in_failures')
    op.drop_index(op.f('ix_sign_in_failures_at'), table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
