"""render_markdown: creator Markdown rendered through an nh3 allowlist (BAD_INPUTS row 31)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import override_settings
from django.utils.safestring import SafeString

from models_hub.markdown import CACHED_TEXT_LIMIT, _render, render_markdown


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    return parser.tags


def _assert_no_active_content(html: str) -> None:
    for tag, attrs in _tags(html):
        assert tag not in {"script", "style", "iframe", "object", "embed", "svg", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name in {"href", "src"} and value:
                scheme = value.strip().lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), html


def test_returns_safe_string():
    assert isinstance(render_markdown("hello"), SafeString)


@pytest.mark.parametrize("text", ["", None])
def test_empty_or_none_renders_empty(text):
    assert render_markdown(text) == ""


def test_script_tag_is_removed():
    html = render_markdown("before\n\n<script>alert(1)</script>\n\nafter")
    assert "<script" not in html.lower()
    assert "alert(1)" not in html
    assert "before" in html and "after" in html


def test_inline_script_is_removed():
    html = render_markdown("hi <script>alert(document.cookie)</script> there")
    assert "<script" not in html.lower()
    assert "document.cookie" not in html
    _assert_no_active_content(html)


def test_img_onerror_is_dropped():
    html = render_markdown("<img src=x onerror=alert(1)>")
    assert "onerror" not in html.lower()
    assert "alert(1)" not in html
    _assert_no_active_content(html)


@pytest.mark.parametrize(
    "text",
    [
        '<a href="https://example.com" onclick="alert(1)">x</a>',
        '<p onmouseover="alert(1)">hover</p>',
        "<svg onload=alert(1)></svg>",
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{display:none}</style>",
        '<form action="https://evil.example"><input name=a></form>',
    ],
)
def test_event_handlers_and_active_tags_are_dropped(text):
    html = render_markdown(text)
    assert "alert(1)" not in html
    assert "display:none" not in html
    _assert_no_active_content(html)


@pytest.mark.parametrize(
    "text",
    [
        "[a](javascript:alert(1))",
        "[a](JaVaScRiPt:alert(1))",
        "[a]( javascript:alert(1))",
        '<a href="javascript:alert(1)">a</a>',
        '<a href="&#106;avascript:alert(1)">a</a>',
        "![i](javascript:alert(1))",
    ],
)
def test_javascript_urls_have_no_href(text):
    html = render_markdown(text)
    assert "javascript:" not in html.lower()
    _assert_no_active_content(html)


@pytest.mark.parametrize(
    "text",
    [
        "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![i](data:image/png;base64,iVBORw0KGgo=)",
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    ],
)
def test_data_urls_in_links_and_images_are_dropped(text):
    html = render_markdown(text)
    assert "data:" not in html.lower()
    _assert_no_active_content(html)


def test_bold_and_emphasis_are_kept():
    html = render_markdown("**bold** and *em*")
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html


@pytest.mark.parametrize("url", ["https://example.com/a?b=1", "http://example.org/"])
def test_http_links_are_kept_with_nofollow(url):
    html = render_markdown(f"[site]({url})")
    links = [attrs for tag, attrs in _tags(html) if tag == "a"]
    assert len(links) == 1
    assert links[0]["href"] == url
    assert "nofollow" in (links[0].get("rel") or "").split()
    assert ">site</a>" in html


def test_raw_html_link_gets_nofollow_too():
    html = render_markdown('<a href="https://example.com" rel="follow">x</a>')
    (link,) = [attrs for tag, attrs in _tags(html) if tag == "a"]
    assert link["href"] == "https://example.com"
    assert "nofollow" in (link.get("rel") or "").split()


def test_mailto_link_is_kept():
    html = render_markdown("[mail](mailto:someone@example.com)")
    assert 'href="mailto:someone@example.com"' in html


def test_images_from_this_sites_gallery_are_kept():
    html = render_markdown("![cat](/media/images/ab/cat.png)")
    (img,) = [attrs for tag, attrs in _tags(html) if tag == "img"]
    assert img["src"] == "/media/images/ab/cat.png"
    assert img["alt"] == "cat"


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example.com/pixel.png",  # tells another server who reads the page
        "/api/download/models/1",  # would download (and count) a model for every reader
        "/media/models/ab/secret.safetensors",
        "/media/images/../models/ab/x.safetensors",
    ],
)
def test_images_from_elsewhere_lose_their_source(src):
    html = render_markdown(f"![x]({src})")
    assert src not in html


def test_tables_are_kept():
    text = "| a | b |\n|---|:-:|\n| 1 | 2 |\n"
    html = render_markdown(text)
    assert "<table>" in html
    assert "<th>a</th>" in html
    assert "<td>1</td>" in html
    tags = [tag for tag, _ in _tags(html)]
    for tag in ("thead", "tbody", "tr", "th", "td"):
        assert tag in tags


def test_fenced_code_is_kept_and_escaped():
    text = '```python\nprint("<b>hi</b>")\n```\n'
    html = render_markdown(text)
    assert "<pre><code" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>" not in html
    assert "print(" in html


def test_headings_lists_and_quotes_are_kept():
    html = render_markdown("# Title\n\n- one\n- two\n\n> quoted\n")
    assert "<h1>Title</h1>" in html
    assert "<li>one</li>" in html
    assert "<blockquote>" in html


def test_a_text_seen_before_is_not_rendered_again_but_the_media_prefix_counts():
    text = "![x](/media/images/a.png) **again**"
    first = render_markdown(text)
    hits = _render.cache_info().hits
    assert render_markdown(text) == first
    assert _render.cache_info().hits == hits + 1
    with override_settings(MEDIA_URL="/files/"):
        elsewhere = render_markdown(text)
    assert 'src="/media/images/a.png"' in first
    assert "src=" not in elsewhere  # not this site's media any more: the image goes


def test_a_long_text_is_rendered_without_being_kept():
    text = "word " * (CACHED_TEXT_LIMIT // 4)
    size = _render.cache_info().currsize
    assert render_markdown(text).startswith("<p>word word")
    assert _render.cache_info().currsize == size
