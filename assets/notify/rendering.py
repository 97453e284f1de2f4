"""Notification text: default templates per alert type and channel kind, and rendering.

Templates may one day be edited by users, so they are rendered in Jinja's *immutable
sandbox*: no access to dunder/internal attributes, no mutation of the context. Any such
attempt raises ``TemplateSecurityError`` instead of silently rendering an empty string
(the sandbox's default for a bare unsafe attribute).

HTML bodies (email) are autoescaped because item names and messages come from ERP data;
subjects and text/markdown bodies are not, so they read naturally.
"""

from __future__ import annotations

from html import escape

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from assets.notify.routing import AlertEvent, Recipient

# Body format apprise should be told about, per channel kind. Anything else: text.
BODY_FORMAT_BY_KIND = {
    "mailto": "html",
    "slack": "markdown",
    "discord": "markdown",
    "msteams": "markdown",
    "matrix": "markdown",
    "mmost": "markdown",
    "rocket": "markdown",
}


class TemplateSecurityError(ValueError):
    """A template tried to reach an unsafe attribute or call."""


class TemplateRenderError(ValueError):
    """A template could not be compiled or rendered."""


class _StrictSandbox(ImmutableSandboxedEnvironment):
    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


_TEXT_ENV = _StrictSandbox(autoescape=False, keep_trailing_newline=True)
_HTML_ENV = _StrictSandbox(autoescape=True, keep_trailing_newline=True)

# --- default templates -------------------------------------------------------------
# Each alert type has a headline and labelled facts; each body format lays them out.

_SUBJECT_PREFIX = "{% if event == 'resolved' %}[RESOLVED]{% else %}[{{ severity | upper }}]{% endif %} "
_WHAT = "{{ details.sku or item_id }} at {{ location_id }}"

_HEADLINES = {
    "stockout": "Stockout risk: " + _WHAT + " on {{ details.stockout_date }}",
    "below_safety_stock": "Below safety stock: " + _WHAT + " from {{ details.first_below_date }}",
    "excess": "Excess stock: " + _WHAT,
    "demand_anomaly": "Demand anomaly: " + _WHAT + " ({{ details.direction }} expected range)",
}
_GENERIC_HEADLINE = "{{ alert_type | replace('_', ' ') | capitalize }}: " + _WHAT

_FACTS: dict[str, list[tuple[str, str]]] = {
    "stockout": [
        ("Projected stockout", "{{ details.stockout_date }} (in {{ details.days_until_stockout }} days)"),
        ("Order by", "{{ details.order_by_date }}{% if details.order_overdue %} (overdue){% endif %}"),
        ("Shortfall", "{{ details.shortfall_qty | round(1) }} units"),
        ("Lead time", "{{ details.lead_time_days }} days"),
        ("On hand", "{{ details.on_hand | round(1) }}"),
    ],
    "below_safety_stock": [
        ("Below safety stock from", "{{ details.first_below_date }}"),
        ("Lowest projected stock", "{{ details.min_projected_on_hand | round(1) }}"),
        ("Safety stock", "{{ details.safety_stock | round(1) }}"),
        ("Quantity to restore", "{{ details.qty_to_restore | round(1) }}"),
    ],
    "excess": [
        ("On hand", "{{ details.on_hand | round(1) }}"),
        (
            "Days of cover",
            "{{ details.days_of_cover if details.days_of_cover is not none else 'no recent demand' }}",
        ),
        ("Excess quantity", "{{ details.excess_qty | round(1) }}"),
        ("Excess value", "{{ details.excess_value if details.excess_value is not none else 'unknown' }}"),
    ],
    "demand_anomaly": [
        ("Latest demand", "{{ details.actual | round(1) }}"),
        (
            "Expected range",
            "{{ details.expected_lower | round(1) }} to {{ details.expected_upper | round(1) }}",
        ),
    ],
}
_HEADLINE_TEXT = "{% if event == 'resolved' %}Resolved: {% endif %}{{ message }}"


def _layout(body_format: str, facts: list[tuple[str, str]]) -> str:
    if body_format == "html":
        rows = "".join(
            f'<tr><th align="left">{escape(label)}</th><td>{value}</td></tr>\n' for label, value in facts
        )
        return "<p>" + _HEADLINE_TEXT + "</p>\n<table>\n" + rows + "</table>\n"
    if body_format == "markdown":
        lines = "".join(f"• *{label}:* {value}\n" for label, value in facts)
        return "*" + _HEADLINE_TEXT + "*\n\n" + lines
    lines = "".join(f"{label}: {value}\n" for label, value in facts)
    return _HEADLINE_TEXT + "\n\n" + lines


def body_format_for(kind: str) -> str:
    """'html', 'markdown' or 'text': what apprise should be told the body is."""
    return BODY_FORMAT_BY_KIND.get(kind, "text")


# (alert_type, channel_kind) -> (subject template, body template)
DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    (alert_type, kind): (
        _SUBJECT_PREFIX + headline,
        _layout(body_format_for(kind), _FACTS[alert_type]),
    )
    for alert_type, headline in _HEADLINES.items()
    for kind in ("json", "mailto", "slack")
}


def template_for(alert_type: str, kind: str) -> tuple[str, str]:
    """The default (subject, body) templates, falling back by body format and type."""
    if (alert_type, kind) in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[(alert_type, kind)]
    headline = _HEADLINES.get(alert_type, _GENERIC_HEADLINE)
    facts = _FACTS.get(alert_type, [])
    return _SUBJECT_PREFIX + headline, _layout(body_format_for(kind), facts)


def build_context(event: AlertEvent, recipient: Recipient | None = None) -> dict:
    """Template variables for an ``AlertEvent``. Never includes the channel URL."""
    context = {
        "alert_id": event.alert_id,
        "alert_type": event.alert_type,
        "severity": event.severity,
        "event": event.event,
        "status": event.status,
        "item_id": event.item_id,
        "location_id": event.location_id,
        "message": event.message,
        "details": dict(event.details or {}),
    }
    if recipient is not None:
        context["recipient"] = {"name": recipient.name, "role": recipient.role}
    return context


def render(template_subject: str, template_body: str, context: dict, html: bool) -> tuple[str, str]:
    """Render (subject, body). The subject is always plain text on a single line."""
    try:
        subject = _TEXT_ENV.from_string(template_subject).render(context)
        body = (_HTML_ENV if html else _TEXT_ENV).from_string(template_body).render(context)
    except SecurityError as exc:
        raise TemplateSecurityError(f"template is not allowed to do this: {exc}") from exc
    except TemplateError as exc:
        raise TemplateRenderError(f"template error: {exc}") from exc
    subject = " ".join(subject.split())  # no header injection via newlines
    return subject, body
