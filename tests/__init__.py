"""evalkit's tests; a package so that fixtures import as `tests.fixtures...`."""
