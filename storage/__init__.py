"""The SQL implementation of core's Store port (SQLite or PostgreSQL, via SQLModel/SQLAlchemy).

`db.open_store(url)` is the entry point: it migrates the schema (`migrate`) and returns a
`sql_store.SqlStore`. `tables` holds the table models, `convert` maps them to core's dataclasses.
"""
