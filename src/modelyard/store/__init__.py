"""SQLAlchemy tables, the async session factory, Alembic migrations, and the shared cache."""
