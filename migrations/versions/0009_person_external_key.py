"""users.external_key: what MQTT topics and Home Assistant know a person by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 20:00:00

Topics used to be made from the name (two people could share one; a rename moved them) and
Home Assistant's unique_id from the id (reused after a delete). The key is stored, random
for new people and never reused. People already enrolled get "person_<id>": their Home
Assistant unique_id stays what it was (facerec_person_<id>), so their entity and its history
carry on. The retained messages on the old name topics are cleared by facerec itself the
next time it connects to the broker (a migration cannot reach the broker).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_key', sa.String(length=32), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('external_key', sa.String))
    op.execute(
        users.update().values(
            external_key=sa.literal('person_') + sa.cast(users.c.id, sa.String)
        )
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('external_key', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f('uq_users_external_key'), ['external_key']
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_external_key'), type_='unique')
        batch_op.drop_column('external_key')
