"""`evalkit report`: a static, self-contained report of a store (index.html, report.js, report.css and the
data as data.js and data.json) that opens from `file://` with no server and fetches nothing.

data.py gathers the figures from the results layer's summary, the stored decisions, the answers and
verdicts per prompt, agreement, saved judge-quality reports and absolute ratings (ratings.py); shown.py
formats every shown number in Python with the one rounding rule, so the browser never rounds; render.py
writes the folder; assets/ holds the hand-written page, script and style.
"""
