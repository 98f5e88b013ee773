"""The Streamlit leaderboard (`evalkit leaderboard`): reads the results store, never calls a model.

app.py is the entry script; views/ holds one page script each; data.py is the cached query layer;
charts.py builds the Altair figures and export.py turns them into PNG/SVG for papers.
"""
