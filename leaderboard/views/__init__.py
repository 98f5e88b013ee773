"""The app's pages. Each module is a Streamlit page script run by `st.navigation` (see app.py)."""
