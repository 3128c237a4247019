"""Demo and test data."""
