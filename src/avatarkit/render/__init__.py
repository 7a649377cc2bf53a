"""The built-in portrait renderer: agent audio in, lip-synced talking-portrait frames out.

Pure numpy/PIL (no livekit) except :mod:`.generator` and :mod:`.offroom_runner`, which adapt
the renderer to LiveKit's ``VideoGenerator`` / ``AvatarRunner`` pattern.
"""
