"""Harbour's HTTP API: referrers, coordinators, practitioners and clients' messages (issue 4).

``api.app.create_app`` builds the FastAPI application from a Temporal client and a database
session factory; ``make run`` serves it beside the worker, ``python -m api`` on its own.
"""
