"""Local persistence of the read-state model: the SQLite cache that lets a restart show
the last state at once and resume with an incremental sync."""
