"""Health kiosks (issue 7): vital-sign readings of members, private by design.

Data flow: kiosk -> edge (card number -> pseudonym, :func:`facility_contracts.vitals.pseudonymise`)
-> ``health.reading`` event -> server ingest (:mod:`.ingest`). Values are kept only for
members with a separate consent in force (:mod:`.consent`, PIPL art. 29); every session
is counted per space and local hour (no person in the counts); a crisis reading opens an
alert for the clinician on duty with no value and no member in its text (:mod:`.crisis`).
Only the hourly counts go to the time-series store (:mod:`.series`, :mod:`.runner`).
Retention, withdrawal and erasure: :mod:`.retention`; export as FHIR: :mod:`.fhir`.
See docs/vitals.md.

This package imports nothing at import time (its models are registered by
:mod:`facility_server.models`).
"""
