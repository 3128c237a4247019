"""Domain rules with no database or I/O: event types and conditions, Core slots, the Supervisor rule, pairing keys and
how a CORE's Supervisor stands, severities, input limits. Imports only the standard library and itself."""
