"""Builds the three channels from the settings: the HTTP adapter where a gateway URL is set,
the simulator otherwise. Called by a composition root (the API's lifespan, the demo, tests),
which hands in the clock, where events go, and the accounts the simulators know."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from delivery.channels.accounts import AccountDirectory
from delivery.channels.http import HttpSmsGateway, HttpSocialNetwork
from delivery.channels.ports import SmsGateway, SocialNetwork
from delivery.channels.pump import Runnable
from delivery.channels.script_follower import ScriptFollower
from delivery.channels.sms_simulator import SmsSimulator
from delivery.channels.social_simulator import SocialNetworkSimulator, SocialSimulatorSettings
from delivery.clock import Clock
from delivery.events import InboundEvents
from ownership.channels import SOCIAL_CHANNELS, Channel
from pipelines.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channels:
    vk: SocialNetwork
    ok: SocialNetwork
    sms: SmsGateway
    # the simulated ones, for a `SimulatorPump` (or a test's `run_due()`); last, with a script
    # file, the `ScriptFollower` that keeps them on it
    simulators: tuple[Runnable, ...]
    # that follower, to read the file once before any job sends (`NotifyRuntime.start_jobs`)
    script: ScriptFollower | None = None

    def social(self, network: Channel) -> SocialNetwork:
        if network is Channel.VK:
            return self.vk
        if network is Channel.OK:
            return self.ok
        raise ValueError(f"{network} is not a social network")


def build_channels(
    settings: Settings,
    *,
    clock: Clock,
    inbound: InboundEvents,
    accounts: AccountDirectory | None = None,
) -> Channels:
    """`accounts`: what the social simulators know (e.g. `AccountDirectory.read_history`);
    none: they know no account and refuse every message with NO_ACCOUNT.

    With `simulator_script` set, the social simulators follow that file once they run (its
    `ScriptFollower` runs beside them, and reads it at its first round); an API worker that
    runs none of them never reads it."""
    directory = accounts if accounts is not None else AccountDirectory()
    simulated: list[Runnable] = []
    social_settings = SocialSimulatorSettings(activity=timedelta(days=settings.activity_days))
    sms: SmsGateway
    sms_url = settings.gateway_urls.get(Channel.SMS.value)
    simulator_sms: SmsSimulator | None = None
    if sms_url:
        sms = HttpSmsGateway(sms_url, settings.gateway_tokens["sms"].get_secret_value())
    else:
        simulator_sms = SmsSimulator(clock, inbound, seed=settings.simulator_seed)
        sms = simulator_sms
    social: dict[Channel, SocialNetwork] = {}
    scripted: list[SocialNetworkSimulator] = []
    for offset, network in enumerate(SOCIAL_CHANNELS, start=1):
        url = settings.gateway_urls.get(network.value)
        if url:
            token = settings.gateway_tokens[network.value].get_secret_value()
            social[network] = HttpSocialNetwork(url, token, network)
        else:
            simulator = SocialNetworkSimulator(
                network,
                directory,
                clock,
                inbound,
                seed=settings.simulator_seed + offset,
                settings=social_settings,
                inbox=simulator_sms,  # its people read the codes the SMS simulator delivered
            )
            social[network] = simulator
            simulated.append(simulator)
            scripted.append(simulator)
    if simulator_sms is not None:
        simulated.append(simulator_sms)
    script = None
    if settings.simulator_script is not None and scripted:
        if len(scripted) < len(SOCIAL_CHANNELS):  # `worker` and `serve --jobs` refuse this
            log.warning(
                "OWNERSHIP_SIMULATOR_SCRIPT scripts the %s simulator only: the other social "
                "network goes through a real gateway",
                " and ".join(simulator.network.value for simulator in scripted),
            )
        script = ScriptFollower(settings.simulator_script, scripted)
        simulated.append(script)
    return Channels(social[Channel.VK], social[Channel.OK], sms, tuple(simulated), script)
