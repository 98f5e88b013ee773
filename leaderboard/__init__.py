"""The Streamlit leaderboard (`evalkit leaderboard`): reads the results store, never calls a model.

entry/app.py is the script `streamlit run` starts; views/ holds one page script each; snapshot.py and
cache.py read the store once per change (in the background) and data.py is what pages read;
tables.py / compare_rows.py slice it for display, charts.py draws it and export.py turns the figures
into PNG/SVG for papers.
"""
