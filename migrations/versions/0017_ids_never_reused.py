"""SQLite never gives a deleted person's, sample's or sighting's id again (AUTOINCREMENT)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# PostgreSQL's serial columns draw from sequences, which never go back: nothing to do there.
TABLES = ('users', 'face_samples', 'sightings', 'negative_samples')


def _rebuild(autoincrement: bool):
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        # Rebuilt with every row, index and key (env.py turns the keys' actions off meanwhile).
        with op.batch_alter_table(
            table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
        ):
            pass


def upgrade():
    _rebuild(True)


def downgrade():
    _rebuild(False)
