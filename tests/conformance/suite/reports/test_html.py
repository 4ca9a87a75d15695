"""The HTML report: self-contained, all escaped, each failure with what was expected, what came and what was sent."""

from __future__ import annotations

from html.parser import HTMLParser

from conformance.suite.reports import html
from conformance.suite.results import CaseResult, RunInfo


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)


def test_the_page_escapes_everything_that_came_from_cases_and_messages(
    results: list[CaseResult], run_info: RunInfo
) -> None:
    page = html.render(results, run_info)
    elements = Elements()
    elements.feed(page)

    assert "script" not in elements.tags and "i" not in elements.tags  # from the message and from "checks <i>"
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Fails &lt;b&gt;&amp;amp; shouts&lt;/b&gt;" in page
    assert "needs &lt;the CA key&gt; &amp; more" in page


def test_the_page_is_self_contained(results: list[CaseResult], run_info: RunInfo) -> None:
    elements = Elements()
    elements.feed(html.render(results, run_info))

    assert not {"script", "link", "img", "iframe"} & set(elements.tags)
    assert not [value for name, value in elements.attributes if name in ("src", "href")]


def test_a_failure_shows_expected_actual_and_the_message(results: list[CaseResult], run_info: RunInfo) -> None:
    page = html.render(results, run_info)

    assert 'Gateway conformance: <span class="failed">failed</span>' in page
    assert "rejected: XML_DTD_FORBIDDEN (HTTP 400)" in page and "accepted (HTTP 200)" in page
    assert "expected a rejection with XML_DTD_FORBIDDEN, got an acceptance" in page
    assert "Message sent (" in page and "XML_X: &lt;why&gt;" in page
    assert "1 passed" in page and "1 failed" in page and "1 skipped" in page


def test_a_passing_run_says_so(results: list[CaseResult], run_info: RunInfo) -> None:
    page = html.render([results[0]], run_info)

    assert '<span class="passed">passed</span>' in page and "<h2>Failures</h2>" not in page
