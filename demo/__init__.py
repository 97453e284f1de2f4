"""The demo-data generator: realistic SAP, Odoo and accounting exports for a landing
zone. A tool of the project (the `forgecast demo` and `demo-data` commands, tests and
benchmarks use it), not part of the orchestration; no Dagster import."""
