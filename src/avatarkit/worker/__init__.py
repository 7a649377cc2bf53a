"""The LiveKit worker (``avatarkit run``).

- :mod:`.run` -- the command: check LiveKit, start what job processes share, serve until a
  signal (LiveKit's ``AgentServer`` through its public API)
- :mod:`.livekit_check` -- one signed request that turns a wrong LiveKit setting into one line
- :mod:`.server` -- the ``AgentServer``: job setup (prewarm), the job entrypoint, the load
- :mod:`.load` -- the load LiveKit's dispatcher sees and the ``max_sessions`` gate

Importing this package is cheap: LiveKit is imported inside the functions that need it.
"""
