"""What a run leaves for people: the role dashboard, the data-quality page and the run log."""
