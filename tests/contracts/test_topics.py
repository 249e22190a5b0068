"""Topic scheme: build, parse, filters."""

import pytest
from facility_contracts import ContractError
from facility_contracts import topics as t


def test_event_topic_has_version_site_device_channel():
    """An event topic is facility/v1/SITE/DEVICE/evt."""
    assert t.event_topic("xh-dongxin", "dc-main") == "facility/v1/xh-dongxin/dc-main/evt"
    assert t.ack_topic("s1", "d1") == "facility/v1/s1/d1/ack"
    assert t.status_topic("s1", "edge-1") == "facility/v1/s1/edge-1/status"


def test_parse_round_trip():
    """Parsing a built topic gives back site, device and channel."""
    parsed = t.parse_topic("facility/v1/s1/dc_2/evt")
    assert (parsed.site, parsed.device, parsed.channel) == ("s1", "dc_2", "evt")
    assert str(parsed) == "facility/v1/s1/dc_2/evt"


@pytest.mark.parametrize(
    "name",
    [
        "facility/v2/s1/d1/evt",
        "facility/v1/s1/d1",
        "facility/v1/s1/d1/evt/x",
        "facility/v1/S1/d1/evt",
        "facility/v1/s1/d 1/evt",
        "facility/v1/s1/d1/nope",
        "other/v1/s1/d1/evt",
        "",
    ],
)
def test_parse_rejects_names_outside_the_scheme(name):
    """Wrong version, depth, case, spaces or channel are bad_topic."""
    with pytest.raises(ContractError) as err:
        t.parse_topic(name)
    assert err.value.reason == "bad_topic"


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "#", "A", "x" * 65, "-x", "$sys"])
def test_building_a_topic_rejects_ids_unsafe_for_a_topic_level(bad):
    """Ids with MQTT wildcards, separators, uppercase or over 64 chars are refused."""
    with pytest.raises(ContractError) as err:
        t.event_topic("s1", bad)
    assert err.value.field == "device"


def test_subscription_filters():
    """Plain and shared subscriptions cover every device of every site."""
    assert t.subscription("evt") == "facility/v1/+/+/evt"
    assert t.subscription("status", site="s1") == "facility/v1/s1/+/status"
    assert t.subscription("evt", share_group="gw") == "$share/gw/facility/v1/+/+/evt"
