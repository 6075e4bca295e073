"""The tests' fixed key ring, as the ``HARBOUR_ENCRYPTION_KEYS`` setting spells it.

Committed histories under tests/histories are encrypted with it and must replay in every later
run. The tests' settings name it (``tests.fixtures.smtp``) and their workers are given it
(``tests.fixtures.temporal.TEST_KEYRING``), so what the worker seals the API opens.
"""

TEST_ENCRYPTION_KEYS = "test-2026:dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="
