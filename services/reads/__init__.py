"""What the screens read: their queries, the event timeline, exports."""
