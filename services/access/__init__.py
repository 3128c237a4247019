"""Who may do what: accounts, passwords, sessions, sign-in behind a proxy, the switches."""
