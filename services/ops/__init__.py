"""Running it: health, metrics and their export, logging."""
