"""Data quality: the rules, check runs and their findings, notifications."""
