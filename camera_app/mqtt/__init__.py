"""MQTT: object events, counts and snapshots to a broker, with Home Assistant discovery.

config      the top-level ``mqtt:`` section
topics      topic names and payloads, discovery configs (pure)
client      the connection thread: bounded queue, backoff, classified errors (paho-mqtt)
publisher   the objects sink's publisher, and the Prometheus collector
"""
