"""Your own LiveKit agent, with a function tool, and an avatarkit face.

Two ways to run the same ``Support`` agent:

1. As your own LiveKit worker, avatarkit only giving it a face (``avatarkit.attach``)::

       export LIVEKIT_URL=... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... OPENAI_API_KEY=...
       python support_agent.py            # add --dev while developing
       AVATAR_FACE=heygen AVATAR_FALLBACK=local python support_agent.py   # a cloud face first

2. Through avatarkit's own worker, CLI or playground (``avatarkit.toml`` next to this file
   says ``agent = "support_agent:Support"``)::

       avatarkit run            # or: avatarkit playground / avatarkit demo

Either way the face's ``set_emotion``/``set_background`` tools are added to the agent, so
it can look concerned while it looks up a late order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobProcess,
    RunContext,
    function_tool,
)

import avatarkit

ORDERS = {
    "A42": "shipped on Monday, arriving Thursday",
    "B7": "delayed at the warehouse, shipping in two days",
}


class Support(Agent):
    """An order-support agent: your instructions and your function tools."""

    def __init__(self) -> None:
        super().__init__(instructions=(
            "You are Ava, a support agent for an online shop. Keep answers to one or two "
            "spoken sentences. Look orders up with lookup_order; show concern when an order "
            "is late."))

    @function_tool
    async def lookup_order(self, ctx: RunContext, order_id: str) -> str:
        """Look up where a customer's order is.

        Args:
            order_id: The order number, e.g. A42.
        """
        return ORDERS.get(order_id.strip().upper(), f"there is no order {order_id}")


def prewarm(proc: JobProcess) -> None:
    """Load the voice-activity model once per job process."""
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()


def build_session(vad: object) -> AgentSession:
    """OpenAI speech-to-text, LLM and text-to-speech (``OPENAI_BASE_URL`` is honoured)."""
    from livekit.plugins import openai

    return AgentSession(stt=openai.STT(), llm=openai.LLM(model="gpt-4.1-mini"),
                        tts=openai.TTS(voice="coral", response_format="pcm"), vad=vad)


server = AgentServer(setup_fnc=prewarm)


@server.rtc_session(agent_name=os.environ.get("AGENT_NAME", ""))
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = build_session(ctx.proc.userdata["vad"])
    agent = Support()
    fallback = [f for f in os.environ.get("AVATAR_FALLBACK", "").split(",") if f]
    # Before session.start: the face chain starts (join timeout, fallback down the chain),
    # and the face's emotion/background tools are added to `agent`. It is closed when the
    # session closes or the job shuts down (or call `await avatar.aclose()`).
    avatar = await avatarkit.attach(session, ctx.room, agent=agent,
                                    face=os.environ.get("AVATAR_FACE", "local"),
                                    fallback=fallback,
                                    face_options={"local": {"background": "office"}})
    await session.start(agent, room=ctx.room, room_options=avatar.room_options())


async def main() -> None:
    """Run the worker until Ctrl-C or SIGTERM, then close it: running jobs shut down, and
    their avatars close with them."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    run = asyncio.create_task(server.run(devmode="--dev" in sys.argv))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([run, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    await server.aclose()
    await run


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    asyncio.run(main())
