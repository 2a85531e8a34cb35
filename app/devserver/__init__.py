"""A private local Synapse for tests and ``readmark demo``: the launcher (``synapse``) and a
raw-HTTP Matrix user that seeds rooms and witnesses what the server received (``actor``).

Nothing here imports pytest, nio or textual.
"""
