"""The planted bugs that the tests must catch (issue 21), run by ``tests/mutants/run.py`` (``make mutants``).

Each :class:`Mutant` replaces ``old`` (which must occur exactly once in ``file``) by ``new`` and names the
tests that must fail then. When a refactor moves the code, update the snippet (the runner reports the
mutant as not applicable until then); keep the tests few, so the whole list runs in a few minutes.
"""

from __future__ import annotations

from typing import NamedTuple


class Mutant(NamedTuple):
    name: str
    file: str  # relative to the repository root
    old: str  # exact snippet, found exactly once
    new: str
    tests: tuple[str, ...]  # pytest node ids (relative to the repository root) of which one must fail


ENCODER = "tests/periphery/test_encoder.py"
C2C = "tests/crossbar/test_c2c_per_cell.py"
LR = "tests/training/test_lr_schedule.py"
ORACLE = "tests/device/test_cmtj_oracle.py"
NGSPICE = "tests/crossbar/test_circuit_ngspice.py"
OPTIM = "tests/optim/test_insitu_sgd.py"
AUTOGRAD = "tests/nn/test_autograd.py"
CONV = "tests/nn/test_conv.py"
OPTIM_CONV = "tests/optim/test_insitu_conv.py"
FAST = "tests/crossbar/test_passive_fast.py"
POWER = "tests/hardware/test_passive_power.py"
SAMPLER = "tests/crossbar/test_passive_sampler.py"
PCOST = "tests/hardware/test_passive_cost.py"
STREAM = "tests/crossbar/test_stream_write.py"
CONV_STREAM = "tests/optim/test_conv_stream.py"

COMPILED = "tests/nn/test_compiled_reads.py"

MUTANTS: list[Mutant] = [
    Mutant(
        "passive-sampler-counts-p-flips-as-to-p",
        "src/mtjxbar/crossbar/passive/survival.py",
        "                if not was:\n                    to_p_count += 1",
        "                if was:\n                    to_p_count += 1",
        (f"{FAST}::test_write_counts_each_flip_by_its_direction_and_aim[fast]",),
    ),
    Mutant(
        "passive-sampler-aims-at-the-wrong-state",
        "src/mtjxbar/crossbar/passive/survival.py",
        "and was != to_p:  # the phase aims",
        "and was == to_p:  # the phase aims",
        (f"{FAST}::test_write_counts_each_flip_by_its_direction_and_aim[fast]",),
    ),
    Mutant(
        "passive-sampler-flips-stuck-cells",
        "src/mtjxbar/crossbar/passive/survival.py",
        "if has_frozen and frozen[i, j]:\n                    continue  # stuck: never flips",
        "if False:\n                    continue  # stuck: never flips",
        (f"{FAST}::test_write_counts_each_flip_by_its_direction_and_aim[fast]",),
    ),
    Mutant(
        "passive-sampler-copy-not-written-back",
        "src/mtjxbar/crossbar/passive/writes.py",
        "                if not in_place:  # the next phase solves the array's own states",
        "                if False:  # the next phase solves the array's own states",
        (f"{FAST}::test_states_outside_the_samplers_memory_flip_as_in_place",),
    ),
    Mutant(
        "line-relaxation-frozen-factor-correction-sign",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "out[a] = g * xc[a] + (gvk[a] - g) * xo[a]",
        "out[a] = g * xc[a] + (g - gvk[a]) * xo[a]",
        ("tests/crossbar/test_line_relaxation.py::test_passive_exact_read_is_the_sum_of_tile_circuits",),
    ),
    Mutant(
        "line-relaxation-column-nodes-not-transposed-for-the-next-sweep",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "        _transpose(xc, xc_t, n, m)\n    return -1",
        "    return -1",
        ("tests/crossbar/test_line_relaxation.py::test_passive_exact_read_is_the_sum_of_tile_circuits",),
    ),
    Mutant(
        "line-relaxation-far-port-source-dropped",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "d[l] = (g[l] + end[l] * src[l] + w * prev[l]) * di[l]",
        "d[l] = (g[l] + w * prev[l]) * di[l]",
        ("tests/crossbar/test_line_relaxation.py::test_write_cell_voltages_match_the_newton_solver",),
    ),
    Mutant(
        "line-relaxation-v-h-not-inverted",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "vha[b] = 1.0 / vhi[b] if par[b] == 0 else 1.0",
        "vha[b] = vhi[b] if par[b] == 0 else 1.0",
        ("tests/crossbar/test_line_relaxation.py::test_passive_exact_read_is_the_sum_of_tile_circuits",),
    ),
    Mutant(
        "passive-survival-floor-above-ic0",
        "src/mtjxbar/crossbar/passive/survival.py",
        "    if current <= ic0:\n        return thermal + log_floor",
        "    if current <= 2.0 * ic0:\n        return thermal + log_floor",
        ("tests/crossbar/test_passive.py::test_phase_survival_kernel_is_the_device_model",),
    ),
    Mutant(
        "passive-sampler-thinning-acceptance-not-normalised",
        "src/mtjxbar/crossbar/passive/survival.py",
        'np.random.random() * p_b >= -np.expm1(-h)',
        'np.random.random() >= -np.expm1(-h)',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[uniform]",),
    ),
    Mutant(
        "passive-sampler-thinning-gaps-twice-as-long",
        "src/mtjxbar/crossbar/passive/survival.py",
        'gap = np.random.exponential() / h_b',
        'gap = np.random.exponential() / (0.5 * h_b)',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[uniform]",),
    ),
    Mutant(
        "passive-sampler-bound-below-the-ap-current",
        "src/mtjxbar/crossbar/passive/survival.py",
        'to_p = _direction_bound(vpos[k] * physics',
        'to_p = _direction_bound(0.7 * vpos[k] * physics',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[uniform]",),
    ),
    Mutant(
        "passive-sampler-bound-without-p-cells",
        "src/mtjxbar/crossbar/passive/survival.py",
        '        if vneg[k] > 0.0:\n            to_ap',
        '        if False:\n            to_ap',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[uniform-to-ap]",),
    ),
    Mutant(
        "passive-sampler-bound-at-the-last-cells-delta",
        "src/mtjxbar/crossbar/passive/survival.py",
        '            b[7] = min(b[7], delta[i, j])',
        '            b[7] = delta[i, j]',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[delta-spread-8%]",),
    ),
    Mutant(
        "passive-sampler-classes-swapped",
        "src/mtjxbar/crossbar/passive/survival.py",
        'p_sel = max(p_sel, v * a)',
        'p_sel = max(p_sel, v * b)',
        (f"{SAMPLER}::test_flip_counts_per_cell_follow_the_exact_probabilities[uniform]",),
    ),
    Mutant(
        "passive-ideal-read-transposed-cells-at-plus-the-column-voltage",
        "src/mtjxbar/crossbar/passive/ideal_read.py",
        "v = -batch[b, j] if transposed else batch[b, i]",
        "v = batch[b, j] if transposed else batch[b, i]",
        ("tests/crossbar/test_passive.py::test_ideal_read_kernel_is_the_sum_of_cell_currents[True]",),
    ),
    Mutant(
        "passive-ideal-read-partial-sums-not-cleared-per-tile",
        "src/mtjxbar/crossbar/passive/ideal_read.py",
        "                for j in range(c0, c1):\n                    part[j] = 0.0\n",
        "",
        ("tests/crossbar/test_passive.py::test_ideal_read_kernel_is_the_sum_of_cell_currents[False]",),
    ),
    Mutant(
        "passive-metered-released-pattern-copied-on-the-wrong-tiles",
        "src/mtjxbar/crossbar/passive/writes.py",
        "                if not tiles[1, ti, 0]:\n                    out[1, rs] = out[0, rs]",
        "                if tiles[1, ti, 0]:\n                    out[1, rs] = out[0, rs]",
        (f"{FAST}::test_every_tiles_released_pattern_is_the_held_one_where_no_row_is_selected[v2]",),
    ),
    Mutant(
        "passive-sampler-bounds-cache-kept-after-new-parameters",
        "src/mtjxbar/crossbar/passive/array.py",
        "        self._row_bounds: np.ndarray | None = None  # rebuilt by sampler_bounds on demand\n",
        "        self._row_bounds = getattr(self, '_row_bounds', None)\n",
        (f"{SAMPLER}::test_an_arrays_sampler_bounds_follow_new_cell_parameters",),
    ),
    Mutant(
        "passive-sampler-probability-10-percent-low",
        "src/mtjxbar/crossbar/passive/survival.py",
        "                    h -= _interval_log_survival(",
        "                    h -= 0.9 * _interval_log_survival(",
        (f"{FAST}::test_fast_path_flip_statistics_per_cell_follow_the_exact_probabilities[1.0]",),
    ),
    Mutant(
        "compiled-read-without-the-reference-column",
        "src/mtjxbar/nn/read_kernel.py",
        "sensed_currents(base - ref_g * sum_v, extra, states, transposed, acc)",
        "sensed_currents(base, extra, states, transposed, acc)",
        (f"{COMPILED}::test_a_linear_layers_compiled_forward_and_transposed_read_are_its_tensor_reads[shape0]",),
    ),
    Mutant(
        "compiled-conv-read-kernel-rows-swapped",
        "src/mtjxbar/nn/read_kernel.py",
        "                            row = (c * kh + ky) * kw + kx\n",
        "                            row = (c * kh + kx) * kw + ky\n",
        (f"{COMPILED}::test_a_convolutions_compiled_read_is_its_im2col_read[geometry0]",),
    ),
    Mutant(
        "compiled-evaluation-batch-without-the-out-gain",
        "src/mtjxbar/nn/read_kernel.py",
        "            extra[b, i] = row[i] * k",
        "            extra[b, i] = row[i]",
        (f"{COMPILED}::test_a_linear_layers_compiled_forward_and_transposed_read_are_its_tensor_reads[shape2]",),
    ),
    Mutant(
        "encoder-tau0-swapped",
        "src/mtjxbar/periphery/encoder.py",
        "(dev.ic0_ap2p, dev.ic0_p2ap), (dev.tau0_ap2p, dev.tau0_p2ap)",
        "(dev.ic0_ap2p, dev.ic0_p2ap), (dev.tau0_p2ap, dev.tau0_ap2p)",
        (f"{ENCODER}::test_full_width_row_gets_exactly_its_target_in_float64",),
    ),
    Mutant(
        "sampler-rows-uniform",
        "src/mtjxbar/crossbar/sampling.py",
        "rows = torch.multinomial(widths, count,",
        "rows = torch.multinomial((widths > 0).to(widths.dtype), count,",
        (f"{ENCODER}::test_rows_with_a_below_one_switch_as_encoded_in_the_sampler",),
    ),
    Mutant(
        "c2c-factor-per-event",
        "src/mtjxbar/crossbar/access/sparse_write.py",
        "factor = sample_ic0_c2c(self.c2c, (distinct.numel(),), generator, dtype=self.dtype)[inverse]",
        "factor = sample_ic0_c2c(self.c2c, (n_main,), generator, dtype=self.dtype)",
        (f"{C2C}::test_c2c_factor_is_per_cell_not_per_event[sparse]",),
    ),
    Mutant(
        "chips-c2c-factor-per-event",
        "src/mtjxbar/crossbar/chips.py",
        "factor[valid] = draw[inverse]",
        "factor[valid] = sample_ic0_c2c(self.c2c, (inverse.numel(),), generator, dtype=self.dtype)",
        (f"{C2C}::test_c2c_factor_is_per_cell_not_per_event[chips]",),
    ),
    Mutant(
        "lr-decay-removed",
        "src/mtjxbar/training/insitu.py",
        "lr = config.lr * config.lr_decay**epoch",
        "lr = config.lr",
        (f"{LR}::test_run_experiment_trains_each_epoch_at_lr_times_decay_to_the_epoch",),
    ),
    Mutant(
        "lr-decay-removed-fused",
        "src/mtjxbar/training/insitu.py",
        "return _train_fused(fused, x, y, config, lr,",
        "return _train_fused(fused, x, y, config, config.lr,",
        (f"{LR}::test_fused_loop_gets_the_same_schedule",),
    ),
    Mutant(
        "lr-decay-removed-chips",
        "src/mtjxbar/training/chips.py",
        "lr = config.lr * config.lr_decay**epoch",
        "lr = config.lr",
        (f"{LR}::test_batched_chips_train_each_epoch_at_lr_times_decay_to_the_epoch",),
    ),
    Mutant(
        "lr-divided-by-10-per-epoch",
        "src/mtjxbar/training/insitu.py",
        "lr = config.lr * config.lr_decay**epoch",
        "lr = config.lr / 10 * config.lr_decay**epoch",
        (f"{LR}::test_run_experiment_trains_each_epoch_at_lr_times_decay_to_the_epoch",),
    ),
    Mutant(
        "lr-divided-by-10-in-the-step",
        "src/mtjxbar/training/insitu.py",
        '"lr": lr * scales[min(i, len(scales) - 1)]',
        '"lr": lr / 10 * scales[min(i, len(scales) - 1)]',
        (f"{LR}::test_the_output_layer_request_is_minus_lr_gain_delta_over_input_range",),
    ),
    Mutant(
        "lr-divided-by-10-in-the-rule",
        "src/mtjxbar/optim/rules.py",
        "return x, delta * (-lr * gain / input_range)",
        "return x, delta * (-lr / 10 * gain / input_range)",
        (f"{LR}::test_the_output_layer_request_is_minus_lr_gain_delta_over_input_range",),
    ),
    Mutant(
        "lr-ignored-in-the-rule",
        "src/mtjxbar/optim/rules.py",
        "return x, delta * (-lr * gain / input_range)",
        "return x, delta * (-0.3 * gain / input_range)",
        (f"{LR}::test_switching_probabilities_scale_with_lr",),
    ),
    Mutant(
        "tau0-10-percent-off",
        "src/mtjxbar/device/physics.py",
        ") / tau0\n",  # the end of physics.thermal_rate: exp(-Delta (1 - I/Ic0)^n) / tau0
        ") / (1.1 * tau0)\n",
        (f"{ORACLE}::test_library_dwell_times_predict_held_out_currents",),
    ),
    Mutant(
        "tau0-10-percent-off-the-other-way",
        "src/mtjxbar/device/physics.py",
        ") / tau0\n",
        ") / (tau0 / 1.1)\n",
        (f"{ORACLE}::test_library_dwell_times_predict_held_out_currents",),
    ),
    Mutant(
        "circuit-cg-stops-at-1e-9",
        "src/mtjxbar/crossbar/config.py",
        'rtol: float = param(1e-11, "1",',
        'rtol: float = param(1e-9, "1",',
        (f"{NGSPICE}::test_nodes_and_currents_match_ngspice",),
    ),
    Mutant(
        "lr-divided-by-10-in-the-fused-loop",
        "src/mtjxbar/training/fused/loop.py",
        "lp[K.LP_LR_FACTOR] = -lr_scales[min(i, len(lr_scales) - 1)] * layer.gain / conv.input_range",
        "lp[K.LP_LR_FACTOR] = -lr_scales[min(i, len(lr_scales) - 1)] * layer.gain / conv.input_range / 10",
        ("tests/training/test_fused.py::test_whole_step_flips_follow_the_eager_plans[dense]",),
    ),
    Mutant(
        "phase-count-wrong-class",
        "src/mtjxbar/crossbar/plan.py",
        "int(r_pos) * (int(d_pos[0]) + int(d_neg[1]))",
        "int(r_pos) * (int(d_pos[0]) + int(d_pos[1]))",
        ("tests/crossbar/test_sparse_sampler.py::test_phase_count_equals_the_phases_spelled_out",),
    ),
    Mutant(
        "array-tau0-swapped",
        "src/mtjxbar/crossbar/access/array.py",
        'tau0 = torch.stack([p["tau0_ap2p"], p["tau0_p2ap"]])',
        'tau0 = torch.stack([p["tau0_p2ap"], p["tau0_ap2p"]])',
        (f"{C2C}::test_c2c_factor_is_per_cell_not_per_event[sparse]",),
    ),
    Mutant(
        "chips-tau0-swapped",
        "src/mtjxbar/crossbar/chips.py",
        'tau0 = torch.stack([p["tau0_ap2p"], p["tau0_p2ap"]], dim=1)',
        'tau0 = torch.stack([p["tau0_p2ap"], p["tau0_ap2p"]], dim=1)',
        (f"{C2C}::test_c2c_factor_is_per_cell_not_per_event[chips]",),
    ),
    Mutant(
        "chips-lr-divided-by-10-in-the-step",
        "src/mtjxbar/training/chips.py",
        "col = d * (-lr * scales[min(i, len(scales) - 1)] * layer.gain / net.input_range)",
        "col = d * (-lr / 10 * scales[min(i, len(scales) - 1)] * layer.gain / net.input_range)",
        (f"{LR}::test_batched_chips_request_is_minus_lr_gain_delta_over_input_range",),
    ),
    Mutant(
        "insitu-sgd-lr-halved",
        "src/mtjxbar/optim/insitu_sgd.py",
        'row, col = sgd_request(job["x"][n, p], job["delta"][n, p], job["lr"], layer.gain,',
        'row, col = sgd_request(job["x"][n, p], job["delta"][n, p], job["lr"] / 2, layer.gain,',
        (f"{OPTIM}::test_mean_weight_change_equals_the_request_within_4_standard_errors[default-eager]",),
    ),
    Mutant(
        "insitu-sgd-lr-halved-in-the-stream",
        "src/mtjxbar/optim/insitu_sgd.py",
        'rows, cols = sgd_request(x, delta, job["lr"], layer.gain, layer.hardware.converters.input_range)',
        'rows, cols = sgd_request(x, delta, job["lr"] / 2, layer.gain, layer.hardware.converters.input_range)',
        (f"{OPTIM}::test_mean_weight_change_equals_the_request_within_4_standard_errors[default-auto]",),
    ),
    Mutant(
        "insitu-sgd-batch-reversed",
        "src/mtjxbar/optim/insitu_sgd.py",
        "for n in range(longest):",
        "for n in reversed(range(longest)):",
        (f"{OPTIM}::test_a_batch_is_b_rank1_writes_in_sample_order",),
    ),
    Mutant(
        "autograd-input-gradient-from-the-forward-read",
        "src/mtjxbar/nn/autograd.py",
        "gx = layer.input_gradient(x, grad).to(x.dtype) if ctx.needs_input_grad[0] else None",
        "gx = torch.autograd.functional.vjp(layer.read, x, grad)[1] if ctx.needs_input_grad[0] else None",
        (f"{AUTOGRAD}::test_input_gradient_is_the_transposed_read[1t1mtj]",),
    ),
    Mutant(
        "conv-position-errors-shuffled",
        "src/mtjxbar/nn/conv.py",
        "errors = delta.detach().reshape(n, self.out_channels, -1).transpose(1, 2)",
        "errors = delta.detach().reshape(n, self.out_channels, -1).transpose(1, 2).flip(1)",
        (f"{CONV}::test_backward_records_every_positions_patch_and_error_in_raster_order",
         f"{OPTIM_CONV}::test_mean_weight_change_equals_the_per_position_requests_within_4_standard_errors[default-auto]"),
    ),
    Mutant(
        "conv-input-gradient-from-the-forward-read",
        "src/mtjxbar/nn/conv.py",
        "return self.backward(grad, x.shape[-2:])",
        "return torch.autograd.functional.vjp(self.read, x, grad)[1]",
        (f"{CONV}::test_input_gradient_is_each_positions_transposed_read_folded_back[1t1mtj]",),
    ),
    Mutant(
        "conv-lr-halved",
        "src/mtjxbar/nn/conv.py",
        "return self.tile.plan(row_factor, col_factor, rows)",
        "return self.tile.plan(row_factor, col_factor * 0.5, rows)",
        (f"{OPTIM_CONV}::test_mean_weight_change_equals_the_per_position_requests_within_4_standard_errors[default-eager]",),
    ),
    Mutant(
        "conv-lr-halved-in-the-stream",
        "src/mtjxbar/nn/conv.py",
        "return self.tile.plan_stream(row_factors, col_factors)",
        "return self.tile.plan_stream(row_factors, col_factors * 0.5)",
        (f"{OPTIM_CONV}::test_mean_weight_change_equals_the_per_position_requests_within_4_standard_errors[default-auto]",),
    ),
    Mutant(
        "insitu-sgd-positions-reversed",
        "src/mtjxbar/optim/insitu_sgd.py",
        'for p in job["fire"][n].tolist():',
        'for p in reversed(job["fire"][n].tolist()):',
        (f"{OPTIM_CONV}::test_positions_are_written_sample_major_in_raster_order[eager]",
         f"{OPTIM_CONV}::test_mean_weight_change_equals_the_per_position_requests_within_4_standard_errors[default-eager]"),
    ),
    Mutant(
        "conv-fold-stride-dropped",
        "src/mtjxbar/nn/conv.py",
        "return F.fold(err, tuple(input_size), self.kernel_size, self.dilation, self.padding, self.stride)",
        "return F.fold(err, tuple(input_size), self.kernel_size, self.dilation, self.padding, 1)",
        (f"{CONV}::test_input_gradient_is_each_positions_transposed_read_folded_back[passive-wires]",),  # F.fold's path
    ),
    Mutant(
        "passive-params-cache-stale",
        "src/mtjxbar/crossbar/passive/array.py",
        "self._np_params: dict[str, np.ndarray] | None = None",
        "self._np_params = getattr(self, '_np_params', None)",
        (f"{FAST}::test_fast_path_follows_new_cell_parameters_and_states",),
    ),
    Mutant(
        "passive-fast-write-tolerance-100x",
        "src/mtjxbar/crossbar/passive/array.py",
        '"tolerance": s.fast_write_tolerance if fast else s.relaxation_tolerance',
        '"tolerance": 100 * s.fast_write_tolerance if fast else s.relaxation_tolerance',
        (f"{FAST}::test_fast_write_voltages_within_half_a_percent_of_exact[to_ap-v3-2.5]",),
    ),
    Mutant(
        "passive-fast-tolerance-on-the-exact-path",
        "src/mtjxbar/crossbar/passive/array.py",
        'fast = purpose == "write" and s.write_solver == "fast"',
        'fast = purpose == "write"',
        (f"{FAST}::test_exact_write_solver_keeps_the_reference_tolerance",),
    ),
    Mutant(
        "passive-cost-power-port-at-the-wrong-end",
        "src/mtjxbar/crossbar/passive/power.py",
        "run += current[c0 + k if row_far else c1 - 1 - k]",
        "run += current[c0 + k if not row_far else c1 - 1 - k]",
        (f"{POWER}::test_two_by_two_against_a_dense_nodal_solve",),
    ),
    Mutant(
        "passive-cost-power-column-port-at-the-wrong-end",
        "src/mtjxbar/crossbar/passive/power.py",
        "i = r0 + step if col_far else r1 - 1 - step",
        "i = r0 + step if not col_far else r1 - 1 - step",
        (f"{POWER}::test_two_by_two_against_a_dense_nodal_solve",),
    ),
    Mutant(
        "passive-cost-power-one-port-per-whole-line",
        "src/mtjxbar/crossbar/passive/power.py",
        "c0, c1 = col_starts[tj], col_starts[tj + 1]",
        "c0, c1 = col_starts[0], col_starts[-1]",
        (f"{POWER}::test_tiled_array_conserves_energy[near-far]",),
    ),
    Mutant(
        "passive-cost-power-cells-at-zero-bias",
        "src/mtjxbar/crossbar/passive/power.py",
        "g_ap = physics.ap_conductance(v * bias, rpi[j]",
        "g_ap = physics.ap_conductance(0.0, rpi[j]",
        (f"{POWER}::test_tiled_array_conserves_energy[near-far]",),
    ),
    Mutant(
        "passive-cost-power-wire-resistances-swapped",
        "src/mtjxbar/crossbar/passive/array.py",
        "r_wire_row=c.r_wire_row, r_wire_col=c.r_wire_col, r_row_port=r_row",
        "r_wire_row=c.r_wire_col, r_wire_col=c.r_wire_row, r_row_port=r_row",
        (f"{POWER}::test_tiled_array_conserves_energy[near-far]",),
    ),
    Mutant(
        "passive-cost-released-rows-still-selected",
        "src/mtjxbar/crossbar/passive/array.py",
        "(released, np.zeros_like(sel_r))",
        "(released, sel_r)",
        (f"{PCOST}::test_write_events_hold_the_solved_circuits_power[v2]",),
    ),
    Mutant(
        "passive-cost-phase-release-interval-dropped",
        "src/mtjxbar/hardware/passive.py",
        "own_par = held @ t + released @ (length - t)",
        "own_par = held @ t",
        (f"{PCOST}::test_phase_cost_by_hand",),
    ),
    Mutant(
        "passive-cost-phase-rest-held-whole-phase",
        "src/mtjxbar/hardware/passive.py",
        "rest_par = rest[0] * tau + rest[1] * (length - tau)",
        "rest_par = rest[0] * length",
        (f"{PCOST}::test_phase_cost_by_hand",),
    ),
    Mutant(
        "passive-cost-read-adc-once-per-line",
        "src/mtjxbar/hardware/passive.py",
        'out.energy["adc"] *= along',
        'out.energy["adc"] *= across',
        (f"{PCOST}::test_a_passive_estimate_is_not_the_1t1mtj_one",),
    ),
    Mutant(
        "passive-cost-estimate-costs-1t1mtj-arrays",
        "src/mtjxbar/hardware/estimate.py",
        'name=f"bit{m - 1}" if m else "", **spec_fields(xb)))',
        'name=f"bit{m - 1}" if m else ""))',
        (f"{PCOST}::test_a_passive_estimate_is_not_the_1t1mtj_one",),
    ),
    Mutant(
        "passive-cost-run-not-metered",
        "src/mtjxbar/experiments/runner.py",
        "metered, meter = meter, meter and why_not is None",
        'metered, meter = meter, meter and config.hardware.array.kind == "1t1mtj"',
        (f"{PCOST}::test_passive_run_reports_passive_hardware_figures",),
    ),
    Mutant(
        "stream-plans-reversed",
        "src/mtjxbar/crossbar/access/stream_write.py",
        "    for p in range(n_plans):",
        "    for p in range(n_plans - 1, -1, -1):",
        (f"{STREAM}::test_each_cell_ends_as_the_exact_chain_through_the_plans_in_order[default-dense-free]",),
    ),
    Mutant(
        "stream-sparse-thinning-other-polarity",
        "src/mtjxbar/crossbar/access/stream_write.py",
        "max(rates[0, c], rates[1, c]) < rates[pol, c]",
        "max(rates[0, c], rates[1, c]) < rates[1 - pol, c]",
        (f"{STREAM}::test_each_cell_ends_as_the_exact_chain_through_the_plans_in_order[asymmetric-sparse-clipped]",),
    ),
    Mutant(
        "stream-dense-moves-stuck-cells",
        "src/mtjxbar/crossbar/access/stream_write.py",
        "parallel[i, c] == (s > 0.0) or frozen[i, c]:",
        "parallel[i, c] == (s > 0.0):",
        (f"{STREAM}::test_same_generator_state_same_result_and_stuck_cells_stay[dense]",),
    ),
    Mutant(
        "stream-phase-count-polarity",
        "src/mtjxbar/crossbar/access/stream_write.py",
        "int(rows_pos) * (int(to_p_pos) + int(to_ap_neg))",
        "int(rows_pos) * (int(to_p_pos) + int(to_ap_pos))",
        (f"{STREAM}::test_phase_counts_are_the_plans_own[default]",),
    ),
    Mutant(
        "encode-stream-empty-plan-keeps-columns",
        "src/mtjxbar/periphery/encoder.py",
        "if not bool(live.all()):",
        "if False:",
        (f"{STREAM}::test_encode_stream_equals_encode_request_by_request[default-1-tensors]",),
    ),
    Mutant(
        "optim-stream-patches-reversed",
        "src/mtjxbar/optim/insitu_sgd.py",
        "at, x, delta = gather_firing(x, delta)",
        "at, x, delta = gather_firing(x, delta)\n            x = np.ascontiguousarray(x[::-1])",
        (f"{OPTIM_CONV}::test_positions_are_written_sample_major_in_raster_order[auto]",),
    ),
    Mutant(
        "optim-stream-counts-one-write-per-sample",
        "src/mtjxbar/optim/insitu_sgd.py",
        'counts["writes"] = counts.get("writes", 0) + len(at)',
        'counts["writes"] = counts.get("writes", 0) + 1',
        (f"{CONV_STREAM}::test_auto_and_eager_write_the_same_positions_with_the_same_phases",),
    ),
    Mutant(
        "encode-kernel-ic0-other-polarity",
        "src/mtjxbar/periphery/encode_kernel.py",
        "log_reach[pol], ic0[pol], delta, n)",
        "log_reach[pol], ic0[1 - pol], delta, n)",
        (f"{STREAM}::test_encode_stream_equals_encode_request_by_request[default-1-compiled]",),
    ),
    Mutant(
        "relaxation-warm-start-ignores-the-source-change",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "xr_t[a, b] = x0r[i, j] + d_r[i]",
        "xr_t[a, b] = x0r[i, j]",
        (f"{FAST}::test_a_warm_start_moves_each_line_by_its_source_change",),
    ),
    Mutant(
        "relaxation-over-relaxation-off",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "return 2.0 / (1.0 + np.sqrt(1.0 - rho))",
        "return 1.0 + 0.0 * rho",
        (f"{FAST}::test_over_relaxation_reaches_the_same_solution_in_fewer_sweeps[1.0]",),
    ),
    Mutant(
        "relaxation-over-relaxed-lines-not-back-substituted",
        "src/mtjxbar/crossbar/circuit/line_relaxation.py",
        "d[l] += w * di[l] * nxt[l]",
        "d[l] += 0.0",
        (f"{FAST}::test_over_relaxation_reaches_the_same_solution_in_fewer_sweeps[1.0]",),
    ),
    Mutant(
        "passive-released-pattern-on-the-wrong-tiles",
        "src/mtjxbar/crossbar/passive/writes.py",
        "tiles[1] = np.logical_or.reduceat(released, self.tile_starts[0][:-1])[:, None]",
        "tiles[1] = ~np.logical_or.reduceat(released, self.tile_starts[0][:-1])[:, None]",
        (f"{FAST}::test_skipping_tiles_without_a_released_row_keeps_the_flip_probabilities[to_p]",),
    ),
    Mutant(
        "compensation-model-on-the-wrong-tiles",
        "src/mtjxbar/periphery/passive_compensation.py",
        "tiles = (np.logical_or.reduceat(sel_r, row_starts[:-1])[:, None]",
        "tiles = (~np.logical_or.reduceat(sel_r, row_starts[:-1])[:, None]",
        (f"{FAST}::test_compensation_on_the_tiles_with_a_selected_cell_restores_their_voltage[to_p]",),
    ),
    Mutant(
        "transfer-stream-unscaled",
        "src/mtjxbar/nn/transfer_linear.py",
        "return self.buffer.plan_stream(row_factors, col_factors * self.request_scale)",
        "return self.buffer.plan_stream(row_factors, col_factors)",
        (f"{CONV_STREAM}::test_auto_and_eager_move_the_weights_alike[transfer]",),
    ),
]
