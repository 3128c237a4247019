"""The command line (`python -m services`): argument parsing and printing; the work is in the other packages."""
