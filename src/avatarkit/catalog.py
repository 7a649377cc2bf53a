"""The first-party provider faces (``plugins/`` in the avatarkit repository), as plain data.

Nothing here imports a plugin: ``avatarkit plugins --available`` lists the ones that are not
installed, and asking for one of them (``--face tavus``) says which package to install.
"""

from __future__ import annotations

#: face name -> (distribution, summary)
PROVIDER_FACES: dict[str, tuple[str, str]] = {
    "anam": ("avatarkit-anam", "Anam cloud avatar"),
    "avatario": ("avatarkit-avatario", "Avatario cloud avatar"),
    "avatartalk": ("avatarkit-avatartalk", "AvatarTalk cloud avatar"),
    "bey": ("avatarkit-bey", "Beyond Presence cloud avatar"),
    "bithuman": ("avatarkit-bithuman", "bitHuman avatar: cloud, or a local .imx model"),
    "boson": ("avatarkit-boson", "Boson AI Higgs cloud avatar"),
    "did": ("avatarkit-did", "D-ID cloud avatar"),
    "keyframe": ("avatarkit-keyframe", "Keyframe Labs cloud avatar with emotions"),
    "lemonslice": ("avatarkit-lemonslice", "LemonSlice cloud avatar from an agent or an image"),
    "protoface": ("avatarkit-protoface", "Protoface cloud avatar"),
    "runway": ("avatarkit-runway", "Runway Characters cloud avatar (rotated before ~300 s)"),
    "simli": ("avatarkit-simli", "Simli cloud avatar"),
    "synthesia": ("avatarkit-synthesia", "Synthesia interactive cloud avatar"),
    "tavus": ("avatarkit-tavus", "Tavus cloud avatar"),
    "trugen": ("avatarkit-trugen", "TruGen cloud avatar"),
}


def install_line(face: str) -> str:
    """``pip install avatarkit-<provider>`` for a first-party provider face."""
    return f"pip install {PROVIDER_FACES[face][0]}"


def available(installed: set[str] | frozenset[str]) -> list[dict[str, str]]:
    """The provider faces not in ``installed``, each with its distribution and install line."""
    return [{"name": name, "distribution": dist, "summary": summary,
             "install": install_line(name)}
            for name, (dist, summary) in sorted(PROVIDER_FACES.items()) if name not in installed]
