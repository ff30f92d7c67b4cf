"""The operational store (DESIGN §8): SQLAlchemy 2 models, Alembic migrations, repositories.

Every area keeps its tables in a module of its own; `store.schema` imports them all.
"""
