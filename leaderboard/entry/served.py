"""What `evalkit leaderboard` serves: the app (app.py) behind the Host header check (host_check.py).

`streamlit run` finds the App below (st.App, importable as `streamlit.starlette.App` since Streamlit
1.53) and serves it with uvicorn. Middleware given to it runs before Streamlit's own routes, so a
refused Host gets nothing: neither the page, nor the WebSocket the page's data travels on, nor a media
file. Tests and `streamlit run app.py` by hand use app.py directly, without the check."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from streamlit.starlette import App

from evalkit.leaderboard.host_check import HostCheck

app = App(Path(__file__).with_name("app.py"), middleware=[Middleware(HostCheck)])
