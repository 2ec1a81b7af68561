"""Hostile Markdown: no script, no event handler and no javascript: URL survives rendering."""

import re
from html.parser import HTMLParser

import pytest

from content.rendering import ALLOWED_TAGS, plain_text, render_markdown, sanitize_html

HOSTILE = [
    "<script>alert(1)</script>",
    "Hello <script src=https://evil.example/x.js></script> there",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](java&#115;cript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![img](javascript:alert(1))",
    '<svg onload="alert(1)"><circle/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
    '<p onmouseover="alert(1)">hover</p>',
    "<<script>script>alert(1)<</script>/script>",
    '<a href="#" onclick="alert(1)">x</a>',
    "```html\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    '<form action="javascript:alert(1)"><input type=submit></form>',
]

ALLOWED = ALLOWED_TAGS


class _Markup(HTMLParser):
    """The tags and attributes a browser would really build from the HTML (text stays text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _assert_inert(html: str) -> None:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED, html
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", html
            if name in {"href", "src", "action", "formaction"}:
                # Browsers ignore whitespace and control characters inside a scheme.
                squeezed = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not squeezed.startswith(("javascript:", "vbscript:", "data:")), html


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_inert(source):
    _assert_inert(render_markdown(source))


@pytest.mark.parametrize("source", HOSTILE)
def test_the_sanitizer_alone_also_cleans_raw_html(source):
    # Defence in depth: even if the Markdown layer passed raw HTML through, nh3 would clean it.
    _assert_inert(sanitize_html(source))


def test_the_sanitizer_drops_script_content_and_keeps_safe_markup():
    cleaned = sanitize_html('<p>Hi <strong>there</strong><script>alert("x")</script></p>')
    assert cleaned == "<p>Hi <strong>there</strong></p>"


def test_ordinary_markdown_keeps_its_structure_and_safe_links():
    html = render_markdown(
        '## Ice\n\nUse a **towel**. See [the NHS](https://www.nhs.uk/ "NHS").\n\n- one\n- two\n\n1. first\n'
    )
    assert "<h2>Ice</h2>" in html
    assert "<strong>towel</strong>" in html
    assert '<a href="https://www.nhs.uk/" title="NHS" rel="noopener noreferrer">the NHS</a>' in html
    assert "<ul>" in html and "<ol>" in html


def test_raw_html_in_markdown_is_shown_as_text_not_markup():
    assert render_markdown("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>\n"


def test_plain_text_is_the_words_only():
    assert plain_text(render_markdown("## Title\n\nSome *words* &amp; more.")) == "Title Some words & more."


@pytest.mark.parametrize(
    "live",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" JAVA\tSCRIPT:alert(1)">x</a>',
        '<p onclick="x">x</p>',
        "<script>alert(1)</script>",
        '<p style="x">x</p>',
    ],
)
def test_the_inertness_check_itself_catches_live_markup(live):
    with pytest.raises(AssertionError):
        _assert_inert(live)


def test_a_javascript_link_in_raw_html_loses_its_href_and_handler():
    cleaned = sanitize_html('<a href="javascript:alert(1)" onclick="alert(1)">click</a>')
    assert cleaned == '<a rel="noopener noreferrer">click</a>'
