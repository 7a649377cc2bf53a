"""Local stand-ins that speak cloud providers' real wire protocols, on 127.0.0.1.

Each stand-in is an aiohttp server started by a test. It implements the endpoints exactly
as the official ``livekit-plugins-*`` package calls them and records every call, so tests
can assert what a paid provider would have seen (and billed).
"""
