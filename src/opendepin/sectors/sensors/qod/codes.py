"""Annotation codes of a sample's parameter (WeatherXM's annotation names) and the reason codes they give."""

from __future__ import annotations

VALID = 0
OBC = 1
SPIKE = 2
UNIDENTIFIED_SPIKE = 3
SHORT_CONST = 4
LONG_CONST = 5
FROZEN_SENSOR = 6
NO_DATA = 7

NAMES = {
    OBC: "OBC",
    SPIKE: "SPIKE_INST",
    UNIDENTIFIED_SPIKE: "UNIDENTIFIED_SPIKE",
    SHORT_CONST: "SHORT_CONST",
    LONG_CONST: "LONG_CONST",
    FROZEN_SENSOR: "FROZEN_SENSOR",
    NO_DATA: "NO_DATA",
}
REASONS = {
    OBC: "sensors.out_of_bounds",
    SPIKE: "sensors.spike",
    UNIDENTIFIED_SPIKE: "sensors.unidentified_spike",
    SHORT_CONST: "sensors.constant_short",
    LONG_CONST: "sensors.constant_long",
    FROZEN_SENSOR: "sensors.frozen_sensor",
}
"""The reason code of a report whose sample carries the annotation (the first, by this order)."""
PRIORITY = (OBC, FROZEN_SENSOR, LONG_CONST, SHORT_CONST, SPIKE, UNIDENTIFIED_SPIKE)
