"""`build_channels` picks the simulator or the HTTP adapter per channel from the settings."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

from delivery.channels.accounts import Account, AccountDirectory
from delivery.channels.http import HttpSmsGateway, HttpSocialNetwork
from delivery.channels.ports import SocialMessage
from delivery.channels.pump import SimulatorPump
from delivery.channels.sms_simulator import SmsSimulator
from delivery.channels.social_simulator import SocialNetworkSimulator
from delivery.channels.wiring import build_channels
from delivery.clock import ScaledClock, VirtualClock
from delivery.events import MessageDelivered, RecordingInboundEvents
from ownership.channels import Channel
from pipelines.settings import load_settings

START = datetime(2026, 6, 2, 9, tzinfo=UTC)
RU_MOBILE = "+79234567823"
OK_SECRET = "whsec_" + base64.b64encode(b"ok-gateway-secret-32-bytes-long!").decode()
SMS_SECRET = "whsec_" + base64.b64encode(b"sms-gateway-secret-32-bytes-long").decode()


def test_without_gateways_every_channel_is_simulated() -> None:
    channels = build_channels(
        load_settings(), clock=VirtualClock(START), inbound=RecordingInboundEvents()
    )
    assert isinstance(channels.vk, SocialNetworkSimulator) and channels.vk.network is Channel.VK
    assert isinstance(channels.social(Channel.OK), SocialNetworkSimulator)
    assert isinstance(channels.sms, SmsSimulator)
    assert len(channels.simulators) == 3


def test_a_gateway_url_puts_that_channel_on_http() -> None:
    settings = load_settings(
        gateway_urls={"ok": "http://127.0.0.1:9/ok", "sms": "http://127.0.0.1:9/sms"},
        gateway_tokens={"ok": "t-ok", "sms": "t-sms"},
        gateway_secrets={"ok": OK_SECRET, "sms": SMS_SECRET},
    )
    channels = build_channels(settings, clock=VirtualClock(START), inbound=RecordingInboundEvents())
    assert isinstance(channels.ok, HttpSocialNetwork) and channels.ok.network is Channel.OK
    assert isinstance(channels.sms, HttpSmsGateway)
    assert [id(simulator) for simulator in channels.simulators] == [id(channels.vk)]
    channels.ok.close()
    channels.sms.close()


def test_the_pump_runs_the_simulators_on_a_fast_clock() -> None:
    # at 3,600× an hour passes in a second: a delivery scripted at 36 s lands within 50 ms
    clock = ScaledClock(speed=3_600, start=START)
    inbound = RecordingInboundEvents()
    accounts = AccountDirectory([Account(Channel.VK, "vk-1", RU_MOBILE, START, True)])
    channels = build_channels(load_settings(), clock=clock, inbound=inbound, accounts=accounts)
    assert isinstance(channels.vk, SocialNetworkSimulator)
    channels.vk.script_delivery(RU_MOBILE, timedelta(seconds=36))
    assert channels.vk.send(SocialMessage("n-1", RU_MOBILE, "text")).accepted
    pump = SimulatorPump(channels.simulators, every=0.005)
    pump.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while not inbound.events and datetime.now(UTC) < deadline:
            time.sleep(0.005)
    finally:
        pump.stop()
    assert [type(event) for event in inbound.events] == [MessageDelivered]
