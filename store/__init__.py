"""The operational store (DESIGN §8): SQLAlchemy 2 models, Alembic migrations, repositories."""
