"""Operating the warehouse: freshness, housekeeping, alerts (plain Python, no Dagster)."""
