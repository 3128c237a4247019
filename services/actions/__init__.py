"""Paired actions: the saga that moves a CORE and its Supervisor together, its journal, retries."""
