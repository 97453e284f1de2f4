"""Notification text: default templates per alert type and channel kind, and rendering.

Templates may one day be edited by users, so they are rendered in Jinja's *immutable
sandbox*: no access to dunder/internal attributes, no mutation of the context. Any such
attempt raises ``TemplateSecurityError`` instead of silently rendering an empty string
(the sandbox's default for a bare unsafe attribute).

HTML bodies (email) are autoescaped because item names and messages come from ERP data;
subjects and text/markdown bodies are not, so they read naturally.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from html import escape

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from assets.notify.routing import AlertEvent, Recipient
from assets.notify.template_limits import (
    TemplateLimitError,
    bounded_binop,
    bounded_output,
    bounded_range,
    check_template,
)

log = logging.getLogger(__name__)

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
    # '*' and '**' go through call_binop, bounded (template_limits.py).
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.globals["range"] = bounded_range

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context, operator, left, right):
        if operator in self.intercepted_binops:
            return bounded_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)


_TEXT_ENV = _StrictSandbox(autoescape=False, keep_trailing_newline=True)
_HTML_ENV = _StrictSandbox(autoescape=True, keep_trailing_newline=True)

# --- default templates -------------------------------------------------------------
# Each alert type has a headline and labelled facts; each body format lays them out.

_SUBJECT_PREFIX = ("{% if event == 'resolved' %}[RESOLVED]"
                   "{% elif event == 'de-escalated' %}[EASED TO {{ severity | upper }}]"
                   "{% else %}[{{ severity | upper }}]{% endif %} ")
_WHAT = "{{ details.sku or item_id }} at {{ location_id }}"

_HEADLINES = {
    # One type from below safety stock to a stockout: the condition picks the words.
    "shortage": "{% if details.condition == 'stockout' %}Stockout risk: " + _WHAT
    + " on {{ details.stockout_date }}{% else %}Below safety stock: " + _WHAT
    + " from {{ details.first_below_date }}{% endif %}",
    "excess": "Excess stock: " + _WHAT,
    "demand_anomaly": "Demand change: " + _WHAT + " ({{ details.direction }} since "
    "{{ details.since }})",
    "late_supply": "Late supply: " + _WHAT + " ({{ details.late_count }} open order"
    "{{ 's' if details.late_count != 1 }} past due)",
}
_GENERIC_HEADLINE = "{{ alert_type | replace('_', ' ') | capitalize }}: " + _WHAT

_FACTS: dict[str, list[tuple[str, str]]] = {
    # A row shows only when the alert carries its fact (_guarded): a below-safety-stock
    # shortage has no stockout date, pegs or order-by date.
    "shortage": [
        ("Projected stockout", "{{ details.stockout_date }} (in {{ details.days_until_stockout }} days)"),
        ("Order by", "{{ details.order_by_date }}{% if details.order_overdue %} (overdue){% endif %}"),
        ("Shortfall", "{{ details.shortfall_qty | round(1) }} units"),
        ("Below safety stock from", "{{ details.first_below_date }}"),
        ("Lowest projected stock", "{{ details.min_projected_on_hand | round(1) }}"),
        ("Safety stock", "{{ details.safety_stock | round(1) }}"),
        ("Quantity to restore", "{{ details.qty_to_restore | round(1) }}"),
        ("Lead time", "{{ details.lead_time_days }} days"),
        ("On hand", "{{ details.on_hand | round(1) }}"),
        ("Consumed by", "{% for p in details.pegs or [] %}{{ p.parent_sku }} {{ p.peg_reference }} "
                        "({{ p.quantity | round(1) }} on {{ p.required_date }}){{ ', ' if not loop.last }}"
                        "{% else %}its own forecast{% endfor %}"),
        ("Planned orders that would cover it", "{% for o in details.planned_orders or [] %}"
                                               "{{ o.reference }} ({{ o.quantity | round(1) }} on "
                                               "{{ o.expected_date }}){{ ', ' if not loop.last }}"
                                               "{% else %}none{% endfor %}"),
        ("Also explains", "{{ details.inhibited | join(', ') | replace('_', ' ') }}"),
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
    "late_supply": [
        ("Late orders", "{% for o in details.late_orders %}{{ o.reference }} ({{ o.supply_type }}, "
                        "{{ o.quantity | round(1) }} due {{ o.expected_date }}, {{ o.days_late }} days "
                        "late){{ ', ' if not loop.last }}{% endfor %}"),
        ("Late quantity", "{{ details.late_qty | round(1) }}"),
    ],
    "demand_anomaly": [
        ("Change", "{{ details.shift_per_day | round(1) }} a day against a forecast of "
                   "{{ details.expected_per_day | round(1) }} ({{ details.shift_pct }}%)"),
        ("Value at stake", "{{ details.value_at_stake }}"),
        ("Evidence", "{{ details.evidence_days }} days, {{ details.rule | replace('_', ' ') }} "
                     "{{ details.statistic | round(1) }} (limit {{ details.limit }})"),
    ],
}
_HEADLINE_TEXT = ("{% if event == 'resolved' %}Resolved: {% elif event == 'de-escalated' %}"
                  "Less urgent now: {% elif event == 'escalated' %}Worse: "
                  "{% elif event == 'reopened' %}Back again: {% endif %}{{ message }}")


_DETAIL = re.compile(r"details\.(\w+)")


def _guarded(value: str, row: str) -> str:
    """Show a fact's row only when the alert carries the fact: an alert from another
    rule version (or a hand-made one) must still render, just with fewer rows."""
    found = _DETAIL.search(value)
    if not found:
        return row
    name = found.group(1)
    return f"{{% if details.{name} is defined and details.{name} is not none %}}{row}{{% endif %}}"


def _layout(body_format: str, facts: list[tuple[str, str]]) -> str:
    if body_format == "html":
        rows = "".join(
            _guarded(value, f'<tr><th align="left">{escape(label)}</th><td>{value}</td></tr>\n')
            for label, value in facts
        )
        return "<p>" + _HEADLINE_TEXT + "</p>\n<table>\n" + rows + "</table>\n"
    if body_format == "markdown":
        lines = "".join(_guarded(value, f"• *{label}:* {value}\n") for label, value in facts)
        return "*" + _HEADLINE_TEXT + "*\n\n" + lines
    lines = "".join(_guarded(value, f"{label}: {value}\n") for label, value in facts)
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

# --- the daily digest and the channel test message ------------------------------------
# A digest's context: ``items`` (severity, event, alert_type, subject, message, item_id,
# location_id), ``counts`` by severity, ``recipient`` and ``date`` (recipient-local).
_DIGEST_SUBJECT = (
    "[Forgecast] Daily digest {{ date }}: {{ items | length }} alert update"
    "{{ 's' if items | length != 1 }}"
    "{% if counts.critical %} ({{ counts.critical }} critical){% endif %}"
)
_DIGEST_BODIES = {
    "text": (
        "{{ items | length }} alert update{{ 's' if items | length != 1 }} since the last digest:\n\n"
        "{% for i in items %}- [{{ i.severity | upper }}] {{ i.event }}: {{ i.message }}\n{% endfor %}"
    ),
    "markdown": (
        "*{{ items | length }} alert update{{ 's' if items | length != 1 }} since the last digest*\n\n"
        "{% for i in items %}• *{{ i.severity | upper }}* {{ i.event }}: {{ i.message }}\n{% endfor %}"
    ),
    "html": (
        "<p>{{ items | length }} alert update{{ 's' if items | length != 1 }} since the last "
        "digest:</p>\n<table>\n<tr><th align=\"left\">Severity</th><th align=\"left\">Event</th>"
        "<th align=\"left\">Alert</th></tr>\n"
        "{% for i in items %}<tr><td>{{ i.severity | upper }}</td><td>{{ i.event }}</td>"
        "<td>{{ i.message }}</td></tr>\n{% endfor %}</table>\n"
    ),
}
_TEST_SUBJECT = "[Forgecast] Test message for {{ recipient.name }}"
_TEST_BODIES = {
    "text": "This is a test message from Forgecast to {{ recipient.name }} through a "
    "{{ channel_kind }} channel. If you can read it, alerts will reach you here.\n",
    "markdown": "*Forgecast test message* for {{ recipient.name }} through a {{ channel_kind }} "
    "channel. If you can read it, alerts will reach you here.\n",
    "html": "<p>This is a test message from Forgecast to {{ recipient.name }} through a "
    "{{ channel_kind }} channel. If you can read it, alerts will reach you here.</p>\n",
}
SPECIAL_TYPES = ("digest", "test")


def template_for(alert_type: str, kind: str) -> tuple[str, str]:
    """The default (subject, body) templates, falling back by body format and type."""
    if (alert_type, kind) in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[(alert_type, kind)]
    body_format = body_format_for(kind)
    if alert_type == "digest":
        return _DIGEST_SUBJECT, _DIGEST_BODIES[body_format]
    if alert_type == "test":
        return _TEST_SUBJECT, _TEST_BODIES[body_format]
    headline = _HEADLINES.get(alert_type, _GENERIC_HEADLINE)
    facts = _FACTS.get(alert_type, [])
    return _SUBJECT_PREFIX + headline, _layout(body_format, facts)


# Kinds whose defaults are stored in notify.notification_templates: one per body format
# ('default' is plain text and serves every kind without its own row).
SEEDED_KINDS = {"default": "text", "mailto": "html", "slack": "markdown"}
SEEDED_ALERT_TYPES = (*_HEADLINES, "accuracy_degraded", *SPECIAL_TYPES)


def default_template_rows() -> list[tuple[str, str, str, str, str]]:
    """(alert_type, channel_kind, subject, body, body_format) rows shipped as defaults."""
    rows = []
    for alert_type in SEEDED_ALERT_TYPES:
        for kind, body_format in SEEDED_KINDS.items():
            lookup_kind = "json" if kind == "default" else kind
            subject, body = template_for(alert_type, lookup_kind)
            rows.append((alert_type, kind, subject, body, body_format))
    return rows


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


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool):
    """Templates compile once per process: rendering 30,000 notifications must not
    parse the same template 30,000 times. Compiled templates are safe to share."""
    environment = _HTML_ENV if html else _TEXT_ENV
    check_template(environment, source)  # stored templates are checked when read
    return environment.from_string(source)


def render(template_subject: str, template_body: str, context: dict, html: bool) -> tuple[str, str]:
    """Render (subject, body). The subject is always plain text on a single line."""
    try:
        subject = bounded_output(_compiled(template_subject, False).generate(context))
        body = bounded_output(_compiled(template_body, html).generate(context))
    except TemplateLimitError as exc:
        raise TemplateRenderError(f"template over its limits: {exc}") from exc
    except SecurityError as exc:
        raise TemplateSecurityError(f"template is not allowed to do this: {exc}") from exc
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        # e.g. a filter applied to a fact the alert does not carry ('round' of undefined)
        raise TemplateRenderError(f"template error: {type(exc).__name__}: {exc}") from exc
    subject = " ".join(subject.split())  # no header injection via newlines
    return subject, body


def render_notification(templates: dict, alert_type: str, kind: str,
                        context: dict) -> tuple[str, str, str]:
    """(subject, body, body_format) from the stored template for (type, kind), else
    (type, 'default'), else the shipped default. A stored template that fails (syntax,
    sandbox violation) falls back to the shipped default, with a warning."""
    for key in ((alert_type, kind), (alert_type, "default")):
        if key in templates:
            subject_t, body_t, body_format = templates[key]
            try:
                subject, body = render(subject_t, body_t, context, html=body_format == "html")
                return subject, body, body_format
            except (TemplateRenderError, ValueError) as exc:
                log.warning("template %s/%s failed (%s); using the shipped default",
                            key[0], key[1], str(exc)[:200])
            break
    body_format = body_format_for(kind)
    try:
        subject, body = render(*template_for(alert_type, kind), context, html=body_format == "html")
    except TemplateRenderError:  # details lack a fact the type's template shows
        subject, body = render(*template_for("", kind), context, html=body_format == "html")
    return subject, body, body_format
