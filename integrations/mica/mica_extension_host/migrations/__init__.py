"""Alembic steps for the bridge's tables, to call from a migration in Mica's own chain.

Mica adds one file to `backend/migrations/versions/` (the README shows it) whose `upgrade()` and
`downgrade()` call `v0001.upgrade()` / `v0001.downgrade()`. Each step is frozen once released: a
later schema change is a new step, never an edit of this one.
"""
