"""``facility sim rfid-reader`` and ``facility sim camera-video``: check-in terminal simulators.

Registered on the ``facility sim`` app by :mod:`facility_sim.cli`. Heavy modules
(numpy, OpenCV, segno) are imported inside the commands only.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from facility_sim.cli_options import LogLevel, Noise, PtyLink, UnplugFor, setup_logging
from facility_sim.errors import SimError
from facility_sim.pty_port import PtyPort, check_link_folder
from facility_sim.rfid_reader import RfidReaderSim

logger = logging.getLogger(__name__)


def rfid_reader(
    link: PtyLink,
    taps: Annotated[int, typer.Option(help="Badge taps to send.")] = 40,
    cards: Annotated[int, typer.Option(help="Distinct staff cards.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of cards, order and faults.")] = 0,
    max_repeats: Annotated[int, typer.Option(help="A tap sends its frame 1..N times.")] = 3,
    tap_gap: Annotated[float, typer.Option(help="Real seconds between taps.")] = 1.0,
    phantom: Annotated[float, typer.Option(help="Probability of an all-zero frame.")] = 0.0,
    bad_checksum: Annotated[float, typer.Option(help="Probability a frame is corrupted.")] = 0.0,
    noise: Noise = 0.0,
    unplug_every: Annotated[
        int | None, typer.Option(help="Unplug the port before every N-th tap.")
    ] = None,
    unplug_for: UnplugFor = 1.0,
    expect: Annotated[
        Path | None, typer.Option(help="Write the expected check-in badges (JSON) here.")
    ] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Staff badge taps through a 125 kHz RFID reader on a pty (SIGUSR1: unplug once)."""
    from facility_sim.rfid_reader import RfidOptions, expected_badges, plan

    setup_logging(log_level)
    try:
        opts = RfidOptions(
            taps=taps,
            cards=cards,
            seed=seed,
            max_repeats=max_repeats,
            tap_gap_s=tap_gap,
            phantom=phantom,
            bad_checksum=bad_checksum,
            noise=noise,
            unplug_every_taps=unplug_every,
            unplug_for_s=unplug_for,
        )
        session = plan(opts)
        check_link_folder(link)
        port = PtyPort(link).open()
    except (SimError, ValueError, OSError) as exc:
        typer.echo(f"facility sim rfid-reader: {exc}", err=True)
        raise typer.Exit(2) from exc
    if expect is not None:
        doc = {"format": "facility-sim/rfid-expect/1", "badges": expected_badges(session)}
        expect.write_text(json.dumps(doc, indent=1))
    typer.echo(f"rfid-reader: {link} -> {port.slave_name}; {taps} taps of {cards} cards")
    _run(RfidReaderSim(port, session, unplug_for_s=unplug_for), port)


def _run(sim: RfidReaderSim, port: PtyPort) -> None:
    """Run the simulator to its end (SIGUSR1 unplugs once, SIGTERM stops), then report."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda *_: sim.unplug_once())
        signal.signal(signal.SIGTERM, lambda *_: sim.stop(timeout=0))
    try:
        sim.start()
        while not sim.done.wait(0.2):
            pass
        port.drain(5.0)
    finally:
        sim.stop()
        port.close()
    s = sim.stats
    typer.echo(f"rfid-reader: {s.taps} taps, {s.chunks} frames {s.counts}, unplugs {s.unplugs}")


def camera_video(
    out: Annotated[Path, typer.Option(help="Video file to write (.mkv: lossless FFV1).")],
    secret: Annotated[str, typer.Option(help="The complex's QR secret (>= 16 chars).")],
    per_condition: Annotated[int, typer.Option(help="Scenes per condition.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the scenes.")] = 0,
    hold: Annotated[int, typer.Option(help="Video frames each scene is held for.")] = 20,
    fps: Annotated[float, typer.Option(help="Frames per second of the video.")] = 10.0,
    step: Annotated[
        int | None, typer.Option(help="Time step of the rotating codes (default: now).")
    ] = None,
) -> None:
    """Write simulated camera scenes with real rotating staff QR codes to a video file.

    Each scene's codes and condition go to the --out path plus .json.
    The codes are valid for about a minute from --step
    (the current 30 s step by default).
    """
    import time

    from facility_contracts import qr
    from facility_contracts.errors import ContractError

    from facility_sim.camera_source import camera_set, write_video

    now_step = qr.time_step(time.time_ns() // 10**6) if step is None else step
    try:
        qr.encode_static("00000001", secret=secret)
    except ContractError as exc:
        raise typer.BadParameter(f"--secret: {exc}") from exc

    def code(i: int) -> str:
        return qr.encode_rotating(f"{0x04E00000 + i:08X}", now_step, secret=secret)

    frames = camera_set(code, per_condition=per_condition, seed=seed)
    try:
        write_video(frames, out, fps=fps, hold=hold)
    except OSError as exc:
        typer.echo(f"facility sim camera-video: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"camera-video: {len(frames)} scenes x {hold} frames -> {out} (+ {out}.json)")
