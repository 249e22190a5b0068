"""facility_gateway: MQTT events -> validated points -> point store, with confirmations.

Pure core: :mod:`.mapping` (envelope -> point, time rules), :mod:`.points` (line
protocol). Stores: :mod:`.writer` (the ``PointWriter`` interface), :mod:`.influx` and
:mod:`.probes` (InfluxDB v2 write API, existence checks), :mod:`.embedded` (SQLite),
:mod:`.dedupe` and :mod:`.sqlengine` (shared dedupe store). Running parts:
:mod:`.subscriber` (paho), :mod:`.intake` (decode, bounded queue), :mod:`.pipeline`
(batch worker), :mod:`.stats`, :mod:`.faults`, :mod:`.app` (assembly, in-process),
:mod:`.split` (MQTT and pipeline in two processes). Configuration: :mod:`.settings`;
command line: :mod:`.cli` (``facility gateway``).
"""
