"""Bounds on the work a notification template may do. The sandbox stops escapes, not
effort: ``{% for i in range(100000) %}{% for j in range(100000) %}`` kept the notify job
at 100% CPU for ever. A template is checked when compiled (so whatever path stored it,
it is checked when read) and its rendering is cut off past an output size:

- at most ``MAX_TEMPLATE_CHARS`` of source and ``MAX_LOOP_DEPTH`` nested loops, no
  recursive macro;
- ``range`` of at most ``MAX_RANGE`` numbers; ``*`` and ``**`` bounded (no 2**100000,
  no a list or string repeated a million times);
- at most ``MAX_OUTPUT_CHARS`` of output.

So a template does at most about MAX_RANGE ** MAX_LOOP_DEPTH loop steps over a range,
and loops over the alert's own data are bounded by that data. Pure: no Dagster, no DB.
"""

from __future__ import annotations

from jinja2 import nodes

MAX_TEMPLATE_CHARS = 20_000
MAX_LOOP_DEPTH = 2
MAX_RANGE = 1_000
MAX_REPEAT = 10_000  # items or characters a '*' may produce
MAX_EXPONENT = 64
MAX_OUTPUT_CHARS = 100_000


class TemplateLimitError(ValueError):
    """A template that would do, or did, more work than a notification needs."""


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(f"range of {len(numbers):,} numbers (the limit is {MAX_RANGE:,})")
    return numbers


def bounded_binop(operator: str, left, right):
    """``*`` and ``**`` with results a notification could need."""
    if operator == "**":
        if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise TemplateLimitError(f"exponent {right} is over the limit of {MAX_EXPONENT}")
        # Chained powers: (a ** 64) ** 64 ** ... grows without the exponent growing.
        if isinstance(left, int) and abs(left) > 1 and len(str(abs(left))) * abs(right) > 1_000:
            raise TemplateLimitError("a power of over 1,000 digits")
        return left ** right
    if isinstance(left, int) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and isinstance(right, int) and len(left) * right > MAX_REPEAT:
        raise TemplateLimitError(f"repeating a sequence to {len(left) * right:,} items "
                            f"(the limit is {MAX_REPEAT:,})")
    return left * right


def _loop_depth(node: nodes.Node, depth: int = 0) -> int:
    here = depth + isinstance(node, nodes.For)
    return max([here, *(_loop_depth(child, here) for child in node.iter_child_nodes())])


def check_template(environment, source: str) -> None:
    """Raise TemplateLimitError for a template over the limits (parsed, not run)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateLimitError(f"template of {len(source):,} characters (the limit is "
                                 f"{MAX_TEMPLATE_CHARS:,})")
    tree = environment.parse(source)
    depth = _loop_depth(tree)
    if depth > MAX_LOOP_DEPTH:
        raise TemplateLimitError(f"loops nested {depth} deep (the limit is {MAX_LOOP_DEPTH})")
    for macro in tree.find_all(nodes.Macro):
        calls = {c.node.name for c in macro.find_all(nodes.Call) if isinstance(c.node, nodes.Name)}
        if macro.name in calls:
            raise TemplateLimitError(f"macro {macro.name!r} calls itself")
    if any(isinstance(loop, nodes.For) and loop.recursive for loop in tree.find_all(nodes.For)):
        raise TemplateLimitError("recursive loops are not allowed")


def bounded_output(chunks) -> str:
    """Join a template's streamed output, stopping past MAX_OUTPUT_CHARS."""
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"output over {MAX_OUTPUT_CHARS:,} characters")
        out.append(chunk)
    return "".join(out)
