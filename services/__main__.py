"""CLI entry point: `python -m services ...`."""
import sys

from services.cli.main import main

sys.exit(main())
