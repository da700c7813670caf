"""a person's threshold set by hand, the headroom their computed threshold comes from, and
the person an unknown group looks like now

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tolerance', sa.Float(), nullable=True))
    op.create_table('person_headroom',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('own_spread', sa.Float(), nullable=True),
    sa.Column('nearest_user_id', sa.Integer(), nullable=True),
    sa.Column('nearest_distance', sa.Float(), nullable=True),
    sa.Column('negative_distance', sa.Float(), nullable=True),
    sa.Column('stranger_distance', sa.Float(), nullable=True),
    sa.Column('stranger_sighting_id', sa.Integer(), nullable=True),
    sa.Column('signature', sa.String(length=80), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['nearest_user_id'], ['users.id'], name=op.f('fk_person_headroom_nearest_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['stranger_sighting_id'], ['sightings.id'], name=op.f('fk_person_headroom_stranger_sighting_id_sightings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_headroom_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_person_headroom'))
    )
    with op.batch_alter_table('person_headroom', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_headroom_nearest_user_id'), ['nearest_user_id'], unique=False)
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('looks_like_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('looks_like_distance', sa.Float(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_unknown_groups_looks_like_user_id_users'), 'users',
            ['looks_like_user_id'], ['id'], ondelete='SET NULL',
        )


def downgrade():
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_unknown_groups_looks_like_user_id_users'), type_='foreignkey')
        batch_op.drop_column('looks_like_distance')
        batch_op.drop_column('looks_like_user_id')
    with op.batch_alter_table('person_headroom', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_headroom_nearest_user_id'))
    op.drop_table('person_headroom')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('tolerance')
