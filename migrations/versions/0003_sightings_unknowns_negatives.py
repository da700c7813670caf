"""sightings, unknown groups and negative samples

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:45:09.190641

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unknown_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('dismissed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unknown_groups'))
    )
    op.create_table('sightings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('encoding', sa.LargeBinary(), nullable=True),
    sa.Column('crop', sa.LargeBinary(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['unknown_groups.id'], name=op.f('fk_sightings_group_id_unknown_groups'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sightings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings'))
    )
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sightings_camera'), ['camera'], unique=False)
        batch_op.create_index(batch_op.f('ix_sightings_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sightings_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sightings_user_id'), ['user_id'], unique=False)

    op.create_table('negative_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('encoding', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('sighting_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['sighting_id'], ['sightings.id'], name=op.f('fk_negative_samples_sighting_id_sightings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_negative_samples_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_negative_samples'))
    )
    with op.batch_alter_table('negative_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_negative_samples_content_hash'), ['content_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_negative_samples_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('negative_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_negative_samples_user_id'))
        batch_op.drop_index(batch_op.f('ix_negative_samples_content_hash'))

    op.drop_table('negative_samples')
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sightings_user_id'))
        batch_op.drop_index(batch_op.f('ix_sightings_started_at'))
        batch_op.drop_index(batch_op.f('ix_sightings_group_id'))
        batch_op.drop_index(batch_op.f('ix_sightings_camera'))

    op.drop_table('sightings')
    op.drop_table('unknown_groups')
