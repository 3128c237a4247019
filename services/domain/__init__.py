"""Domain rules with no database or I/O: event types and conditions, the Supervisor rule, pairing keys, input limits."""
