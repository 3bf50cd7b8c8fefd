"""One module per role page of the dashboard."""
