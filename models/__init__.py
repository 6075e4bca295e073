"""Pydantic models shared by workflows, activities, services and tests.

Nothing here performs I/O, so workflows may import these modules (through
``workflow.unsafe.imports_passed_through``). ``models.tables`` is the exception:
it defines SQLAlchemy tables and is imported only by activities and services.
"""
