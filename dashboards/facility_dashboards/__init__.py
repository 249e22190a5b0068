"""facility_dashboards: Grafana dashboards as code, their provisioning, and ``push``.

``build.files()`` is everything generated (``dashboards/generated/*.json`` and
``dashboards/provisioning/``); ``push.plan`` decides what a push changes.
"""
