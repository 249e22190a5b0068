"""facility_edge: the edge agent of facility-ops.

Runs on a Raspberry-Pi-class board: reads devices (door counters on serial lines),
turns their frames into envelope events, keeps every event in a durable SQLite outbox
until the gateway confirms it stored it, and publishes events and status over MQTT.

Modules: :mod:`.config` (YAML config), :mod:`.clock` (wall/monotonic time, sync),
:mod:`.counter` (pure door-counter tracker), :mod:`.outbox` / :mod:`.outbox_sqlite`
(durable queue), :mod:`.recorder` (events with boot/seq), :mod:`.serial_reader`
(one thread per serial port), :mod:`.door_counter` (the ``door_counter`` device kind),
:mod:`.kiosk` / :mod:`.kiosk_reader` (the ``health_kiosk`` kind: kiosks on the complex's
local broker, cards replaced by pseudonyms), :mod:`.pseudonym` (the complex's key file),
:mod:`.publisher` (MQTT seam), :mod:`.forwarder` (outbox -> broker, acks),
:mod:`.status` (heartbeat), :mod:`.agent` (wiring) and :mod:`.cli` (``facility edge``).
Importing this package imports nothing heavy.
"""

__version__ = "0.1.0"
SOFTWARE = f"facility-edge {__version__}"
