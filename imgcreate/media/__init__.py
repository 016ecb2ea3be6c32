"""Live media: mastering the ISO and reading an existing live ISO."""
