"""the audit of face searches becomes part of the audit trail (audit_entries)

Each face search is copied as a ``sightings.searched`` entry (who, when, the sighting searched
from, the tolerance, the filters and how many results), then face_searches goes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 12:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

ACTION = 'sightings.searched'

searches = sa.table(
    'face_searches',
    sa.column('id', sa.Integer), sa.column('created_at', sa.DateTime),
    sa.column('account_id', sa.Integer), sa.column('who', sa.String),
    sa.column('source', sa.String), sa.column('sighting_id', sa.Integer),
    sa.column('tolerance', sa.Float), sa.column('filters', sa.Text),
    sa.column('results', sa.Integer),
)
entries = sa.table(
    'audit_entries',
    sa.column('id', sa.Integer), sa.column('created_at', sa.DateTime),
    sa.column('actor', sa.String), sa.column('account_id', sa.Integer),
    sa.column('token_id', sa.Integer), sa.column('address', sa.String),
    sa.column('action', sa.String), sa.column('object_type', sa.String),
    sa.column('object_id', sa.Integer), sa.column('object_name', sa.String),
    sa.column('details', sa.Text),
)


def upgrade():
    bind = op.get_bind()
    rows = bind.execute(sa.select(searches).order_by(searches.c.id)).all()
    if rows:
        op.bulk_insert(entries, [
            {
                'created_at': row.created_at,
                'actor': row.who,
                'account_id': row.account_id,
                'action': ACTION,
                'object_type': 'sighting' if row.sighting_id else None,
                'object_id': row.sighting_id,
                'details': json.dumps({
                    'source': row.source,
                    'tolerance': row.tolerance,
                    'filters': row.filters,
                    'results': row.results,
                }, sort_keys=True),
            }
            for row in rows
        ])
    with op.batch_alter_table('face_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_searches_created_at'))
        batch_op.drop_index(batch_op.f('ix_face_searches_account_id'))
    op.drop_table('face_searches')


def downgrade():
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
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(entries).where(entries.c.action == ACTION).order_by(entries.c.id)
    ).all()
    accounts = {r.id for r in bind.execute(sa.text('SELECT id FROM accounts'))}
    if rows:
        copied = []
        for row in rows:
            details = json.loads(row.details or '{}')
            copied.append({
                'created_at': row.created_at,
                'account_id': row.account_id if row.account_id in accounts else None,
                'who': row.actor,
                'source': details.get('source', 'photo'),
                'sighting_id': row.object_id,
                'tolerance': details.get('tolerance', 0.6),
                'filters': details.get('filters', ''),
                'results': details.get('results', 0),
            })
        op.bulk_insert(searches, copied)
    op.execute(entries.delete().where(entries.c.action == ACTION))
