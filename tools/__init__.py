"""Development tools run through the Makefile (make audit)."""
