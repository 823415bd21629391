"""``/docs`` in a real browser: Swagger UI (vendored, started by an external script) lists the
API's operations under the strict Content-Security-Policy, with no violation reported."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.browser.conftest import LiveServer, Watched, screenshot

pytestmark = pytest.mark.browser

# Runs before any page script, outside the page's CSP: collects every violation the page
# causes, including those a script catches and a console might not show.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_api_docs_show_the_operations_under_the_csp(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.add_init_script(RECORD_VIOLATIONS)
    answer = page.goto(live.url + "/docs")
    assert answer is not None and answer.ok
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Spy-Agency")
    runs = page.locator(".opblock-summary-path", has_text="/api/v1/runs/{run}/timeline")
    expect(runs).to_have_count(1)
    expect(page.locator(".opblock-post .opblock-summary-path").first).to_be_visible()
    assert page.locator(".opblock").count() >= 20
    # An operation opens and shows its parameters (the UI is alive, not a static shell).
    page.locator(".opblock-summary-path", has_text="/api/v1/runs/{run}/timeline").click()
    expect(page.locator(".opblock.is-open .parameters")).to_contain_text("run")
    screenshot(page, "api-docs")
    assert page.evaluate("window.__cspViolations") == []
    assert watched.console_errors == []
