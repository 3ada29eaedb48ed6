"""Hardware cost model: latency and energy of in-situ training from the events the arrays report.

* :class:`CostConfig` (per-operation constants, each with its source) and :class:`ScheduleConfig`
  (schedule choices) configure it;
* :class:`CostMeter` turns array events into per-sample / per-epoch latency, energy, phases and flips
  under the in-situ parallel and row-by-row schedules, and costs the ex-situ schedule (software
  training plus write-verify programming) for the same arrays;
* :func:`attach_meter` hooks a meter onto a network's crossbars; :func:`estimate` costs any array or
  network size from a short run on random data (``mtjxbar cost``).
"""

from .config import CostConfig, ScheduleConfig
from .estimate import ActivityConfig, estimate
from .exsitu import expected_rounds, programming_cost, software_cost, software_macs
from .ledger import COMPONENTS, ArraySpec, Tally, phase_cost, read_cost, write_cost
from .meter import INSITU, SCHEDULES, CostMeter
from .network import attach_meter, network_specs
from .report import format_table

__all__ = ["CostConfig", "ScheduleConfig", "ActivityConfig", "estimate", "expected_rounds", "programming_cost",
           "software_cost", "software_macs", "COMPONENTS", "ArraySpec", "Tally", "phase_cost", "read_cost",
           "write_cost", "INSITU", "SCHEDULES", "CostMeter", "attach_meter", "network_specs", "format_table"]
