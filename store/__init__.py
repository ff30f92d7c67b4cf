"""The operational store (DESIGN §8): SQLAlchemy 2 models, Alembic migrations, repositories."""

# Each area's tables join `store.tables.Base.metadata` when their module is imported; importing
# them here means any use of the store (migrations, the tests' clean-up) sees every table.
from store import tables_templates as tables_templates
