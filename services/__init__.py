"""Application services shared by the CLI (``starter.py``) and the HTTP API: each call is
one thing an actor does, translated into Temporal starts, updates, signals and queries."""
