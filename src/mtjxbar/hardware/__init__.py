"""Hardware cost model: latency and energy of in-situ training from the events the arrays report.

* :class:`CostConfig` (per-operation constants, each with its source) and :class:`ScheduleConfig`
  (schedule choices) configure it;
* :class:`CostMeter` turns array events into per-sample / per-epoch latency, energy, phases and flips
  under the in-situ parallel and row-by-row schedules, and costs the ex-situ schedule (software
  training plus write-verify programming) for the same arrays;
* :func:`attach_meter` hooks a meter onto every array of a network (a transfer layer's buffer and bit
  tiles too; its column transfers are costed apart and added to the sample they follow);
  :func:`estimate` costs any array or network size from a short run on random data (``mtjxbar cost``).
"""

from .config import CostConfig, ScheduleConfig
from .estimate import ActivityConfig, check_costed, estimate
from .exsitu import expected_rounds, programming_cost, software_cost, software_macs
from .ledger import COMPONENTS, ArraySpec, Tally, carry_cost, column_read_cost, phase_cost, read_cost, write_cost
from .meter import INSITU, SCHEDULES, TRANSFER_COUNTS, CostMeter, with_transfers
from .network import attach_meter, exsitu_specs, network_arrays, network_specs
from .report import format_table

__all__ = ["CostConfig", "ScheduleConfig", "ActivityConfig", "estimate", "check_costed", "expected_rounds",
           "programming_cost",
           "software_cost", "software_macs", "COMPONENTS", "ArraySpec", "Tally", "phase_cost", "read_cost",
           "column_read_cost", "carry_cost", "write_cost", "INSITU", "SCHEDULES", "TRANSFER_COUNTS", "CostMeter",
           "with_transfers", "attach_meter", "exsitu_specs", "network_arrays", "network_specs", "format_table"]
