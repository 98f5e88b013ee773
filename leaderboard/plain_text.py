"""Text from the store (prompts, answers, names) shown where Streamlit renders Markdown.

Prompts and answers come from datasets and models, not from us: rendered as Markdown, a prompt holding
`![x](http://host/x.png)` would make every annotator's browser fetch that address (telling its owner who
annotates, and when). So long text goes through st.text, and the short strings that must sit inside
Markdown (a label, a caption) are escaped here: every character Markdown or Streamlit's directives
(`:red[...]`, `:material/icon:`, `$math$`) give a meaning is backslash-escaped and shows as itself.
"""

from __future__ import annotations

import re

# What starts Markdown inline syntax (emphasis, code, links and images, HTML and entities, tables) or
# Streamlit's directives (:color[...], :material/icon:, $math$); "-" and "." mean something only at the
# start of a block, and the text is embedded in a line of ours.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()<>#+!|~$:&])")


def escape_markdown(text: object) -> str:
    """`text` as Markdown that renders literally, on one line (labels and captions have no room for more)."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", " ".join(str(text).split()))
