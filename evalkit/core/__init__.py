"""Core types and rules: records, vocabulary, hashing, rounding, ordering, secrets; no I/O beyond files."""
