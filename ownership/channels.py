"""The channels a notification can be delivered through (DESIGN §7)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    VK = "vk"
    OK = "ok"

    @property
    def is_social(self) -> bool:
        return self is not Channel.SMS


SOCIAL_CHANNELS: tuple[Channel, ...] = (Channel.VK, Channel.OK)


@dataclass(frozen=True)
class ChannelState:
    """How a social channel can reach a number: an account is bound there, and is it in use?"""

    network: Channel
    # an account was seen within the activity window A
    active: bool
    # an active account uses the mobile app (some notifications may show only there)
    mobile_app: bool
