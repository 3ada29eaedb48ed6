"""Writes of a passive array: half-select patterns, every cell's switching hazard, disturb counts.

Each phase of the plan becomes one half-select pattern (:mod:`.scheme`). Every cell with a voltage across it
gets the device model's switching probability for that voltage's direction (:mod:`.survival`); a cell sees
its pattern with the selected rows held (``on``) for its row's width ``t_i`` (for the whole phase length
``T = max t`` if its row is unselected) and the pattern with every row released (``off``) for ``T - t_i``;
the hazards of the two intervals add (exact in the thermal regime; the precessional term is treated as a
memoryless hazard too). With wires the two patterns are solved as circuits (all lines driven through
``r_driver``): the ``on`` solve holds every selected row at once, an upper bound on the IR drop that rows
released early see. The array's :attr:`~.array.PassiveCrossbar.compensation` (the periphery's algorithm,
:mod:`mtjxbar.periphery.passive_compensation`) may move the ``on`` sources against the IR drop first.
Each cell flips with its own probability, independently (:func:`.survival.sample_phase_flips`); flips of selected
cells that the phase's polarity aims at are ``intended``, all others (half-selected and unselected cells)
``disturb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..circuit import solve_tiles_cells
from ..events import WriteEvent
from ..plan import TO_P, CoincidencePlan, UpdatePlan, WritePhase, WriteResult, column_phase
from .scheme import column_write_voltages, ideal_cell_voltages, phase_levels
from .survival import log_floors, phase_log_survival, row_bounds, sample_phase_flips

__all__ = ["PassiveWrites", "PassiveWriteResult"]


@dataclass(frozen=True)
class PassiveWriteResult(WriteResult):
    """A :class:`WriteResult` that also counts the intended flips (``disturb_flips``: the others)."""

    intended_flips: int = 0


class PassiveWrites:
    """The write methods of :class:`~.array.PassiveCrossbar` (kept in their own module)."""

    def phase_cell_voltages(self, phase: WritePhase) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell voltages (N, M) while the selected rows are held and after they are released (CPU tensors:
        the write circuit is solved on the CPU whatever the array's device)."""
        out = self._phase_volts(phase, every_tile=True)
        return torch.from_numpy(out[0]), torch.from_numpy(out[1])

    def _phase_volts(self, phase: WritePhase, every_tile: bool) -> np.ndarray:
        """:meth:`phase_cell_voltages` as one array (2, N, M); without ``every_tile`` the fast solver skips
        the released pattern on tiles where no row has a released interval (no cell is there for any time:
        they read 0 V)."""
        phase = WritePhase(row_widths=phase.row_widths.cpu(), col_currents=phase.col_currents.cpu(),
                           polarity=phase.polarity)
        v_cols = column_write_voltages(phase, v_max=self.array.write_voltage_max, **self.mean_params())
        on, off, cols = phase_levels(self.array.write_scheme, phase.row_widths > 0, v_cols, phase.polarity)
        if self._ideal_circuit():
            return torch.stack([ideal_cell_voltages(on, cols), ideal_cell_voltages(off, cols)]).numpy()
        rows = torch.stack([on, off]).numpy()
        col_sources = cols.numpy().copy()
        selected_rows = (phase.row_widths > 0).numpy()
        selected_cols = v_cols.numpy() > 0
        if self.compensation is not None and not self.array.circuit.ideal_wires and selected_rows.any() \
                and selected_cols.any():  # (resistive ports alone: left to the drivers' design)
            sign = 1.0 if phase.polarity == TO_P else -1.0
            rows[0], col_sources = self.compensation.compensate(self, rows[0], col_sources, selected_rows,
                                                                selected_cols, v_cols.numpy(), sign)
        widths = phase.row_widths.double().numpy()
        released = None if every_tile else (widths > 0) & (widths < widths.max())
        return self._solve_write(rows, col_sources, released, selected_rows)

    def _solve_write(self, rows: np.ndarray, col_sources: np.ndarray, released: np.ndarray | None = None,
                     selected: np.ndarray | None = None) -> np.ndarray:
        """Cell voltages (2, N, M) of the write circuit with row sources ``rows`` (2, N: held, released) and
        column sources ``col_sources`` (M,), tile by tile (line relaxation; idle tiles skipped). The fast
        solver over-relaxes the sweeps and solves the released pattern only on the tiles with a row in
        ``released`` (N,) bool; with ``released`` None, on every tile, except that a tile without a row in
        ``selected`` (N,) bool takes its held solution: its rows sit at the same sources in both patterns (the
        compensation moves selected rows only), so the two circuits are one. The exact solver solves both
        everywhere with plain sweeps, as the reference."""
        cols = np.repeat(col_sources[None, :], rows.shape[0], axis=0)
        if self.array.circuit.ideal_wires:  # resistive drivers only: each tile's lines solved densely
            out = np.zeros((rows.shape[0], self.rows, self.cols))
            for rs in self.row_tiles:
                for cs in self.col_tiles:
                    out[:, rs, cs] = self._port_solver(rs, cs, "write").solve(rows[:, rs], cols[:, cs]).cell_voltage
            return out
        args = (self.parallel.cpu().numpy(), self._params_np(), self.line_ends("write"), *self.tile_starts)
        settings = self.relaxation_settings("write")
        if self.circuit_solver.write_solver == "exact":
            return solve_tiles_cells(rows, cols, *args, **settings)
        tiles = None
        if released is not None or selected is not None:
            # a tile solved for its released pattern: one of its rows is released early (or, for every tile,
            # one of its rows is selected: without one, released and held are the same circuit)
            tiles = np.ones((2, len(self.row_tiles), len(self.col_tiles)), dtype=bool)
            tiles[1] = np.logical_or.reduceat(released if released is not None else selected,
                                              self.tile_starts[0][:-1])[:, None]
        out = solve_tiles_cells(rows, cols, *args, tiles=tiles, **settings)
        if released is None and selected is not None:
            for ti, rs in enumerate(self.row_tiles):
                if not tiles[1, ti, 0]:
                    out[1, rs] = out[0, rs]
        return out

    def _check_phase_size(self, phase: WritePhase) -> None:
        if phase.row_widths.numel() != self.rows or phase.col_currents.numel() != self.cols:
            raise ValueError(f"phase of {phase.row_widths.numel()} rows x {phase.col_currents.numel()} columns "
                             f"for an array of {self.rows} x {self.cols}")

    def log_floors(self) -> np.ndarray:
        """Each cell's precessional log-survival floor (:func:`.survival.log_floors`), once per cell
        parameters (dropped by :meth:`~.array.PassiveCrossbar._params_changed`)."""
        if self._log_floors is None:
            self._log_floors = log_floors(self.cell_params_np()["delta"])
        return self._log_floors

    def sampler_bounds(self) -> np.ndarray:
        """Each row's extreme cell parameters, what the flip sampler bounds hazards with
        (:func:`.survival.row_bounds`), once per cell parameters (dropped, with the log floors, by
        :meth:`~.array.PassiveCrossbar._params_changed`)."""
        if self._row_bounds is None:
            self._row_bounds = row_bounds(self.cell_params_np(), self.log_floors(), (self.rows, self.cols))
        return self._row_bounds

    def _phase_intervals(self, phase: WritePhase) -> tuple[np.ndarray, np.ndarray]:
        """Cell voltages (held, released) x rows x cols of a phase and how long each row sees each pattern
        (2, rows, s); reports the phase's event to a metered array."""
        self._check_phase_size(phase)
        # a metered write solves the released pattern on every tile, so that its event (the array's
        # phase_event) holds the whole circuit's power
        volts = self._phase_volts(phase, every_tile=self.events is not None)
        if self.events is not None:
            self.events.append(self.phase_event(phase, torch.from_numpy(volts[0]), torch.from_numpy(volts[1])))
        widths = phase.row_widths.double().cpu().numpy()
        length = float(widths.max()) if widths.size else 0.0
        on_time = np.where(widths > 0, widths, length)
        return volts, np.stack([on_time, np.maximum(length - on_time, 0.0)])

    def _phase_log_survival(self, phase: WritePhase) -> np.ndarray:
        """log P(no flip) of every cell over the phase (N, M)."""
        volts, duration = self._phase_intervals(phase)
        return phase_log_survival(volts, duration, self.parallel.cpu().numpy(), self.cell_params_np(),
                                  self.device_params.n_exponent, self.device_params.tau_d, self.log_floors())

    def switching_probabilities(self, plan: UpdatePlan) -> torch.Tensor:
        """Per-cell flip probability of each phase in the current states (phases, rows, cols), disturbs
        included (each phase evaluated on the states before the write)."""
        out = [(-torch.expm1(torch.from_numpy(self._phase_log_survival(ph)))) for ph in plan.phases]
        if not out:
            return torch.zeros(0, self.rows, self.cols, dtype=self.dtype, device=self.device)
        return torch.stack(out).to(self.dtype).to(self.device)

    def write_column(self, col: int, gated: torch.Tensor, width: float, current: float, polarity: str,
                     generator: torch.Generator) -> PassiveWriteResult:
        """A phase driving one column: on a passive array it is a full half-select write (the other cells
        of the gated rows and of the column are half-selected and may be disturbed), so it goes through
        :meth:`write` with that phase."""
        phase = column_phase(self.rows, self.cols, col, gated.cpu(), width, current, polarity)
        return self.write(UpdatePlan((phase,)), generator)

    def write(self, plan: UpdatePlan, generator: torch.Generator) -> PassiveWriteResult:
        """Apply the phases in order (each on the states the previous left); every cell flips with the
        probability of its phase's hazard (:func:`~.survival.sample_phase_flips`, seeded by one 32-bit draw of
        ``generator`` per phase)."""
        if isinstance(plan, CoincidencePlan):
            raise ValueError("encoder.scheme = 'coincidence' is not supported on passive arrays yet "
                             "(use array.kind = '1t1mtj' or encoder.scheme = 'current')")
        flipped, to_p_count, intended = [], 0, 0
        # the states as one C-contiguous bool array the sampler flips in place (the array's own memory on the
        # CPU; a copy written back on another device)
        states = self.parallel.cpu().numpy()
        in_place = self.parallel.device.type == "cpu" and states.flags.c_contiguous
        states = states if in_place else np.ascontiguousarray(states)
        frozen = None if self._frozen is None else self._frozen.view(self.rows, self.cols).cpu().numpy()
        for phase in plan.phases:
            volts, duration = self._phase_intervals(phase)
            seed = int(torch.randint(0, 2**32, (1,), generator=generator, device=generator.device))
            cells, to_p, aimed = sample_phase_flips(
                volts, duration, states, frozen, self.cell_params_np(), self.device_params.n_exponent,
                self.device_params.tau_d, (phase.row_widths > 0).cpu().numpy(), (phase.col_currents > 0).cpu().numpy(),
                phase.polarity == TO_P, seed, self.log_floors(), self.sampler_bounds())
            if cells.size:
                to_p_count, intended = to_p_count + to_p, intended + aimed
                flipped.append(torch.from_numpy(cells))
                self._state_float = None
                if not in_place:  # the next phase solves the array's own states
                    self.parallel.copy_(torch.from_numpy(states).to(self.device))
        cells = torch.cat(flipped).to(self.device) if flipped else torch.zeros(0, dtype=torch.long,
                                                                               device=self.device)
        n_flips = int(cells.numel())
        disturb = n_flips - intended
        if self.events is not None:
            self.events.append(WriteEvent(rows=self.rows, cols=self.cols, phases=len(plan.phases),
                                          flips_to_p=to_p_count, flips_to_ap=n_flips - to_p_count))
        return PassiveWriteResult(flipped_cells=cells, flips_to_p=to_p_count, flips_to_ap=n_flips - to_p_count,
                                  phases=len(plan.phases), intended_flips=intended, disturb_flips=disturb)
