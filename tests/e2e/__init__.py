"""Real-browser end-to-end tests: the journeys people take, in Debian's Chromium driven by Playwright (issue 9)."""
