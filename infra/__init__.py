"""Infrastructure: payload encryption, keys, the Temporal connection, logging and the dev stack."""
