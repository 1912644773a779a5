"""The compute sector: a job market where tenants pay from escrow, providers run deterministic jobs, and the
engine verifies results by spot checks, replica comparison and capacity challenges (docs/compute.md)."""
