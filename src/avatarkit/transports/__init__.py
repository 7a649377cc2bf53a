"""Where a session's media comes from and goes to: a LiveKit room, a file, or a browser."""
