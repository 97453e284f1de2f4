"""What operators are told when a run fails: which run, which step, which error.

Pure: no Dagster import. Secrets that could appear in an error text (the database
password, channel URLs) are redacted before anything leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_ERROR_CHARS = 600


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    error: str


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def failure_message(job_name: str, run_id: str, failures: list[StepFailure], run_url: str | None,
                    secrets: list[str]) -> tuple[str, str]:
    """(subject, markdown body) for a failed run."""
    steps = ", ".join(f.step_key for f in failures) or "the run itself"
    subject = f"[Forgecast] run of {job_name} failed at {steps}"
    lines = [f"**Run** `{run_id}` of job **{job_name}** failed."]
    if run_url:
        lines.append(f"Open it: {run_url}")
    for failure in failures or [StepFailure("run", "no step failed: see the run's logs")]:
        error = redact(failure.error.strip(), secrets)[:MAX_ERROR_CHARS]
        lines += ["", f"**Step** `{failure.step_key}`:", "```", error, "```"]
    return subject, "\n".join(lines)
