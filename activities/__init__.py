"""Side effects of the referral workflows: recording to the database and sending letters.

Activities are methods of classes that receive their dependencies (a session factory,
SMTP settings), so tests run them against real servers. Every one is idempotent because
Temporal retries them.
"""
