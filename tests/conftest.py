"""Shared fixtures: real Temporal (time-skipping), real SMTP (aiosmtpd), real databases."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.notify",
    "tests.fixtures.smtp",
    "tests.fixtures.temporal",
    "tests.fixtures.api",
    "tests.fixtures.dashboard",
]
