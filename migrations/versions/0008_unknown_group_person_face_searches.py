"""unknown groups remember who they became; the audit of face searches

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 06:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_unknown_groups_user_id_users'), 'users', ['user_id'], ['id'],
            ondelete='SET NULL',
        )
    op.create_table('face_searches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('sighting_id', sa.Integer(), nullable=True),
    sa.Column('tolerance', sa.Float(), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('results', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_face_searches_account_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_searches'))
    )
    with op.batch_alter_table('face_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_searches_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_searches_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('face_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_searches_created_at'))
        batch_op.drop_index(batch_op.f('ix_face_searches_account_id'))
    op.drop_table('face_searches')
    with op.batch_alter_table('unknown_groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_unknown_groups_user_id_users'), type_='foreignkey')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('user_id')
