"""The wireless sector's simulators: what its hotspots send in the generic fleet of `depin up`
(`simulation.py`), and the headless proof-of-coverage scenarios of `depin simulate wireless` (`cli.py`,
`runner.py`). Loaded only through `WirelessSector.simulation()` and `simulate_app()`, never by production
code."""
