"""The Streamlit leaderboard (`evalkit leaderboard`): reads the results store, never calls a model.

entry/served.py is what `streamlit run` serves (entry/app.py behind a Host check); views/ holds one
page script each; snapshot.py and cache.py summarise the store once per change (in the background,
keeping no judgment rows), judged_rows.py reads the few rows a page shows on demand, and data.py is
what pages read; tables.py / compare_rows.py slice it for display, charts.py draws it and
export.py turns the figures into PNG/SVG for papers. Access: admin_session.py and annotator_session.py
decide who sees which page (entry/app.py asks on every rerun), host_check.py refuses requests addressed
to other names, and plain_text.py keeps store text out of Markdown.
"""
