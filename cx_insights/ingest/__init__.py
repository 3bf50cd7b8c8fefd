"""Ingestion: landing files -> the append-only `raw` schema (no Dagster here)."""
