"""The channels a notification can be delivered through (DESIGN §7)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    VK = "vk"
    OK = "ok"

    @property
    def is_social(self) -> bool:
        return self is not Channel.SMS


SOCIAL_CHANNELS: tuple[Channel, ...] = (Channel.VK, Channel.OK)
