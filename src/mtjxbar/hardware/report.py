"""Plain-text table of a cost summary (``CostMeter.summary`` or ``estimate``), in engineering units."""

from __future__ import annotations

__all__ = ["format_table", "si", "array_description"]

NAMES = {"insitu_parallel": "in-situ, parallel update", "insitu_rowwise": "in-situ, row-by-row update",
         "exsitu": "ex-situ (software + program)"}

#: ArrayConfig.write_compensation_model -> how the description names it
_MODELS = {"solve": "model solved per phase", "response": "model response table"}


def si(value: float, unit: str) -> str:
    """``value`` with an SI prefix, e.g. ``si(2.5e-9, 's') == '2.50 ns'``."""
    if value == 0:
        return f"0 {unit}"
    if abs(value) < 1e-21:  # below every prefix (a residue of rounding): plain, not '1.74e-15 fJ'
        return f"{value:.3g} {unit}"
    for factor, prefix in ((1e-21, "z"), (1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"),
                           (1e-3, "m"), (1.0, ""), (1e3, "k"), (1e6, "M")):
        if abs(value) < factor * 1000:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_table(summary: dict) -> str:
    """Per-sample latency, energy, phases and flips of the three schedules (in situ: transfers included),
    the transfers per sample and the in-situ figures without them (transfer layers only), then the
    programming."""
    lines = [f"{'schedule (per training sample)':<32}{'latency':>12}{'energy':>12}{'phases':>10}{'flips':>10}"]
    for key, name in NAMES.items():
        row = summary[key]
        phases = f"{row['phases']:.1f}" if "phases" in row else "-"
        flips = f"{row['flips']:.1f}" if "flips" in row else "-"
        lines.append(f"{name:<32}{si(row['latency_s'], 's'):>12}{si(row['energy_j'], 'J'):>12}{phases:>10}"
                     f"{flips:>10}")
    transfer = summary.get("transfer")
    if transfer and transfer["columns"] > 0:
        par = transfer["insitu_parallel"]
        lines.append(f"  transfers per sample: {transfer['columns']:.3g} columns, {transfer['reads']:.3g} column reads "
                     f"({transfer['verifies']:.3g} verify), {transfer['write_phases']:.3g} write phases, "
                     f"{transfer['cell_writes']:.3g} cell writes; parallel {si(par['latency_s'], 's')}, "
                     f"{si(par['energy_j'], 'J')}")
        for key in ("insitu_parallel", "insitu_rowwise"):
            row, without = summary[key], summary[key]["without_transfers"]
            lines.append(f"  {NAMES[key]}: {si(without['latency_s'], 's')}, {si(without['energy_j'], 'J')} without "
                         f"transfers; {si(row['latency_s'], 's')}, {si(row['energy_j'], 'J')} with")
    ex, prog = summary["exsitu"], summary["programming"]
    lines.append(f"  ex-situ software: {si(ex['software_latency_s'], 's')}, {si(ex['software_energy_j'], 'J')} "
                 f"per sample ({ex['software_macs']:,} MACs)")
    lines.append(f"  ex-situ programming once: {si(prog['latency_s'], 's')}, {si(prog['energy_j'], 'J')}; "
                 f"{prog['pulses_per_changed_cell']:.6g} pulses per changed cell (switching model), "
                 f"{prog['pulses_per_cell']:.6g} per cell; amortised over {ex['amortised_over_samples']:,} samples")
    return "\n".join(lines)


def array_description(array: dict) -> str:
    """One line on the array kind a summary is for, from ``ArrayConfig`` as a dict (``estimate``'s
    ``network.array``)."""
    if array["kind"] != "passive":
        return f"1T1MTJ (access transistor {si(array['r_access'], 'ohm')} per cell)"
    c = array["circuit"]
    wires = "ideal wires" if c["r_wire_row"] == 0 else \
        f"wire segments {c['r_wire_row']:g} ohm (rows), {c['r_wire_col']:g} ohm (columns)"
    scheme = {"v2": "V/2", "v3": "V/3"}[array["write_scheme"]]
    # (records written before write_compensation_model existed solved the model)
    return (f"passive (0T1MTJ), tiles of at most {array['tile_rows']}x{array['tile_cols']}, {wires}, drivers "
            f"{c['r_driver']:g} ohm, {scheme} half-select writes, compensation {array['write_compensation']} steps "
            f"({_MODELS[array.get('write_compensation_model', 'solve')]}), "
            f"read calibration {array['read_calibration']}, {array['fidelity']} reads")
