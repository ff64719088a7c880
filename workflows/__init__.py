"""UnionFlow's workflow engine: definitions, validation and a pure step function.

Nothing in this package imports Flask, SQLAlchemy, RQ or ``webapp``; the web layer
adapts it to the database. See ``docs/definitions.md`` for the definition format.
"""
