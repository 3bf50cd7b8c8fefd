"""The quality gate: contract rules -> quarantine and accepted tables (no Dagster here)."""
