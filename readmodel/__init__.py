"""The read model: every query and write over the tables Harbour reads from, each once."""
