"""Templates are bounded in the work they do (assets/notify/template_limits.py)."""

import logging

import pytest

from assets.notify.rendering import TemplateRenderError, render, render_notification, template_for
from assets.notify.template_limits import MAX_OUTPUT_CHARS, MAX_RANGE

NESTED = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"


@pytest.mark.parametrize("body, reason", [
    (NESTED, "range of 100,000 numbers"),
    ("{% for a in [1] %}{% for b in [2] %}{% for c in [3] %}{% endfor %}{% endfor %}"
     "{% endfor %}", "loops nested 3 deep"),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "calls itself"),
    ("{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}", "recursive loops"),
    ("{{ 2 ** 100000 }}", "exponent"),
    ("{{ 9 ** 60 ** 60 ** 60 }}", "digits"),
    ("{{ 'x' * 1000000 }}", "repeating a sequence"),
    ("{{ [0] * 100000 }}", "repeating a sequence"),
    ("{% for i in range(1000) %}" + "y" * 200 + "{% endfor %}", "output over"),
    ("x" * 20_001, "characters"),
])
def test_a_template_over_a_limit_is_refused(body, reason):
    with pytest.raises(TemplateRenderError, match=reason):
        render("subject", body, {}, html=False)


def test_work_inside_the_limits_renders():
    body = ("{% for i in range(" + str(MAX_RANGE) + ") %}{% for j in range(3) %}.{% endfor %}"
            "{% endfor %}{{ 'ab' * 3 }}")
    subject, text = render("{{ 2 ** 10 }}", body, {}, html=False)
    assert subject == "1024" and text == "." * 3 * MAX_RANGE + "ababab"
    assert len(text) < MAX_OUTPUT_CHARS


def test_a_stored_template_over_its_limit_falls_back_to_the_shipped_default(caplog):
    stored = {("test", "json"): ("Hello", NESTED, "text")}
    context = {"recipient": {"name": "Ann", "role": "planner"}, "now": "2026-12-05"}
    with caplog.at_level(logging.WARNING, logger="assets.notify.rendering"):
        subject, body, _ = render_notification(stored, "test", "json", context)
    assert (subject, body) == render(*template_for("test", "json"), context, html=False)
    assert "template test/json failed" in caplog.text and "range of 100,000" in caplog.text
