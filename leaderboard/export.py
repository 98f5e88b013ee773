"""Figures for papers: PNG (2x, for slides) and SVG (vector, for LaTeX) rendered locally by vl-convert,
so an export needs neither a browser nor a network connection."""

from __future__ import annotations

from functools import partial

import altair as alt
import streamlit as st


def spec_png(spec: str, scale: float = 2.0) -> bytes:
    import vl_convert  # imported on the click, not with every page

    return vl_convert.vegalite_to_png(spec, scale=scale)


def spec_svg(spec: str) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(spec)


def export_buttons(chart: alt.TopLevelMixin, basename: str, key: str) -> None:
    """One-click PNG and SVG downloads. Rendering is deferred to the click (a callable `data`), so the
    page does not pay ~0.5 s for a PNG nobody asked for; on_click="ignore" keeps the page as it is."""
    spec = chart.to_json()
    left, right = st.columns(2)
    left.download_button(
        "Download PNG",
        data=partial(spec_png, spec),
        file_name=f"{basename}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
        icon=":material/image:",
    )
    right.download_button(
        "Download SVG",
        data=partial(spec_svg, spec),
        file_name=f"{basename}.svg",
        mime="image/svg+xml",
        key=f"{key}_svg",
        on_click="ignore",
        icon=":material/draw:",
    )
