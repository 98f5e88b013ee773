"""The folder `streamlit run` puts on sys.path. It holds only the entry script, so none of the app's
modules (tables.py, data.py, cache.py, ...) can shadow an installed library of the same name."""
