"""The whole pipeline on real servers: CalIt2 replayed sim -> pty -> edge -> Mosquitto -> gateway -> VictoriaMetrics."""

from __future__ import annotations

import time

import pytest

from .harness import (
    Part,
    edge_config,
    expected_from_csv,
    gateway_config,
    stored,
    wait_until,
    weeks_to_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _sim(tmp_path, calit2_path, link, *extra: str) -> Part:
    return Part(
        "sim",
        [
            "sim",
            "door-counter",
            "--link",
            str(link),
            "--calit2",
            str(calit2_path),
            "--log-level",
            "WARNING",
            *extra,
        ],
        tmp_path,
    )


def test_whole_calit2_file_is_stored_exactly(
    tmp_path, calit2_path, site_id, mosquitto_factory, victoria
):
    """Every half hour and every day of the 15 weeks arrives with the file's exact in/out counts."""
    broker = mosquitto_factory()
    link = tmp_path / "dc-main"
    shift = weeks_to_now()
    expected = expected_from_csv(calit2_path, shift_weeks=shift)
    assert expected["total"] == {"in": 19_597, "out": 18_837}
    gw = Part(
        "gateway",
        [
            "gateway",
            "run",
            "--config",
            str(gateway_config(tmp_path, index=0, port=broker.port, vm_url=victoria.url)),
        ],
        tmp_path,
    ).start()
    sim = _sim(tmp_path, calit2_path, link, "--max-speed", "--shift-weeks", str(shift)).start()
    assert wait_until(link.exists, 10)
    edge = Part(
        "edge",
        [
            "edge",
            "run",
            "--config",
            str(edge_config(tmp_path, site=site_id, port=broker.port, link=link)),
        ],
        tmp_path,
    ).start()
    try:
        done = wait_until(
            lambda: stored(victoria.url, site_id)["total"] == expected["total"], 240, every_s=2
        )
        got = stored(victoria.url, site_id)
        assert done, (
            f"stored {got['total']} != {expected['total']}\n{edge.log()[-2000:]}\n{gw.log()[-2000:]}"
        )
        assert got["day"] == expected["day"]
        assert +got["slot"] == +expected["slot"]
        assert got["samples"] == got["unique"]
        assert edge.alive() and gw.alive()
    finally:
        for part in (sim, edge, gw):
            part.stop()


def test_nothing_lost_or_doubled_through_kills_and_outages(
    tmp_path, calit2_path, site_id, mosquitto_factory, victoria_factory
):
    """Broker, gateway (also between write and confirmation), edge and VictoriaMetrics all killed mid-replay: every day exact, no duplicate point."""
    broker = mosquitto_factory()
    vm = victoria_factory()
    link = tmp_path / "dc-main"
    first_day, days = "2005-08-01", 21
    shift = weeks_to_now()
    expected = expected_from_csv(calit2_path, first_day, days, shift_weeks=shift)
    gw_cfg = gateway_config(tmp_path, index=0, port=broker.port, vm_url=vm.url)
    gw = Part(
        "gateway",
        ["gateway", "run", "--config", str(gw_cfg)],
        tmp_path,
        env={"FACILITY_GATEWAY_FAULT": "exit_after_write:3"},
    ).start()
    gw2 = Part(
        "gateway2",
        [
            "gateway",
            "run",
            "--config",
            str(gateway_config(tmp_path, index=1, port=broker.port, vm_url=vm.url)),
        ],
        tmp_path,
    ).start()
    sim = _sim(
        tmp_path,
        calit2_path,
        link,
        "--start",
        first_day,
        "--limit",
        f"{days}d",
        "--shift-weeks",
        str(shift),
        "--speed",
        str(days * 86_400 / 40),
    ).start()
    assert wait_until(link.exists, 10)
    edge_args = [
        "edge",
        "run",
        "--config",
        str(edge_config(tmp_path, site=site_id, port=broker.port, link=link)),
    ]
    edge = Part("edge", edge_args, tmp_path).start()
    try:
        time.sleep(4)
        assert wait_until(lambda: not gw.alive(), 20), (
            "the fault hook did not kill the gateway after a write"
        )
        gw.env = {}
        gw.start()
        for _ in range(3):
            time.sleep(2)
            broker.kill()
            time.sleep(1)
            broker.start()
        time.sleep(2)
        gw2.kill()
        time.sleep(1)
        gw2.start()
        edge.kill()
        time.sleep(1)
        edge.start()
        time.sleep(2)
        vm.stop()
        time.sleep(5)
        vm.start()
        gw.kill()
        time.sleep(0.5)
        gw.start()
        done = wait_until(
            lambda: stored(vm.url, site_id)["total"] == expected["total"], 240, every_s=2
        )
        got = stored(vm.url, site_id)
        assert done, (
            f"stored {got['total']} != {expected['total']}\n{edge.log()[-3000:]}\n{gw.log()[-3000:]}"
        )
        assert got["day"] == expected["day"]
        time.sleep(3)  # late duplicates, if any, would land now
        got = stored(vm.url, site_id)
        assert got["samples"] == got["unique"], "a point was stored twice"
        assert got["total"] == expected["total"]
    finally:
        for part in (sim, edge, gw, gw2):
            part.stop()
