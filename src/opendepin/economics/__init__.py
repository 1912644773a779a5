"""Token economics: a vectorised burn-and-mint simulator and sustainability reports.

`simulate` runs Monte Carlo runs × parameter sets of a scenario with numpy; :func:`.report.write_report`
turns an experiment into Parquet tables, PNG charts and a plain-words report, and
:func:`.live_report.write_live_report` does the same from a running local network's store (both import
matplotlib, so they are not imported here). The command line is `depin economics` (:mod:`.cli`).
"""

from opendepin.economics.api import Results, run
from opendepin.economics.custom import Policies
from opendepin.economics.experiments import Experiment, prepare_experiment, run_experiment
from opendepin.economics.metrics import compute_percentiles, compute_run_summary, compute_step_metrics
from opendepin.economics.model import SimulationResult, simulate
from opendepin.economics.scenarios import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    with_network,
    with_overrides,
)
from opendepin.economics.spec import ScenarioSpec

__all__ = [
    "Experiment",
    "Policies",
    "Results",
    "ScenarioError",
    "ScenarioSpec",
    "SimulationResult",
    "compute_percentiles",
    "compute_run_summary",
    "compute_step_metrics",
    "list_scenarios",
    "load_scenario",
    "prepare_experiment",
    "run",
    "run_experiment",
    "simulate",
    "with_network",
    "with_overrides",
]
