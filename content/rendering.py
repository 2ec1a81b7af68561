"""Markdown to safe HTML, and the plain text that search reads. Pure: no Django, no I/O.

Two layers, so a bug in one is not a hole: markdown-it-py runs with raw HTML off (a tag in the
source comes out as text) and refuses javascript:/vbscript:/file: links; nh3 (the Ammonia
sanitizer) then keeps only an allowlist of tags, attributes and URL schemes, whatever the parser made.
"""

import html
import re

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "strong", "em", "ul", "ol", "li",
        "blockquote", "code", "pre", "a", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
# Relative links (to another library item) stay; every other scheme goes, javascript: and data: included.
ALLOWED_URL_SCHEMES = frozenset({"https", "http", "mailto", "tel"})
# Tags whose content is dropped along with them, not shown as text.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "svg", "math"})

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_space = re.compile(r"\s+")


def sanitize_html(raw: str) -> str:
    return nh3.clean(
        raw,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Sanitized HTML for a Markdown body."""
    return sanitize_html(_markdown.render(source))


def plain_text(rendered_html: str) -> str:
    """The words of rendered HTML, for full-text search."""
    text = nh3.clean(rendered_html, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
    return _space.sub(" ", html.unescape(text)).strip()
