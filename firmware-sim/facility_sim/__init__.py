"""facility_sim: simulated devices for facility-ops.

The door counter (DC v1, ``docs/protocols.md``) replays the CalIt2 door counts:

- :mod:`facility_sim.calit2`: load the file, shift it in time, spread counts into crossings;
- :mod:`facility_sim.door_counter`: the device as a pure state machine producing frames;
- :mod:`facility_sim.timeline`: crossings, slot closes and power cycles in order (pure);
- :mod:`facility_sim.faults`: seeded noise, truncation and bit flips with a record;
- :mod:`facility_sim.ports`, :mod:`facility_sim.pty_port`: where the bytes go;
- :mod:`facility_sim.replay`: the paced replay loop (thread); :mod:`facility_sim.cli`.
"""

from facility_sim.calit2 import Crossing, Slot, crossings, load, retime, select, weeks_to_end_before
from facility_sim.door_counter import DoorCounter, Emission
from facility_sim.errors import CalIt2Error, PortError, SimError
from facility_sim.expect import expected_totals, write_expected
from facility_sim.faults import FaultInjector, FaultRecord
from facility_sim.ports import MemoryPort, Port, WriteOutcome
from facility_sim.pty_port import PtyPort
from facility_sim.replay import Replay, ReplayOptions, ReplayStats
from facility_sim.timeline import Stepper, Tick, emissions, ticks

__all__ = [
    "CalIt2Error",
    "Crossing",
    "DoorCounter",
    "Emission",
    "FaultInjector",
    "FaultRecord",
    "MemoryPort",
    "Port",
    "PortError",
    "PtyPort",
    "Replay",
    "ReplayOptions",
    "ReplayStats",
    "SimError",
    "Slot",
    "Stepper",
    "Tick",
    "WriteOutcome",
    "crossings",
    "emissions",
    "expected_totals",
    "load",
    "retime",
    "select",
    "ticks",
    "weeks_to_end_before",
    "write_expected",
]
