"""The sensors sector: weather and air-quality stations whose data is checked against physics and against
their neighbours (docs/sensors.md)."""
