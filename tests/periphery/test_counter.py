"""The transfer's digital periphery: schedule, buffer value, per-row carry (exact, no randomness)."""

from __future__ import annotations

import torch

from mtjxbar.periphery.counter import (
    balanced_states,
    buffer_value,
    carry,
    column_reference,
    counter_bits,
    counter_value,
    increments,
    transfer_columns,
    transfers_of_column,
)


def test_schedule_visits_every_column_once_per_sweep_in_order():
    n, v = 10, 4  # 2.5 columns per sample
    done = [c for s in range(2 * v) for c in transfer_columns(s, n, v)]
    assert done == list(range(n)) * 2
    assert [len(transfer_columns(s, n, v)) for s in range(v)] == [2, 3, 2, 3]
    slow = [transfer_columns(s, 3, 64) for s in range(64)]  # 3 columns per 64 samples
    assert sum(slow, []) == [0, 1, 2] and [s for s, c in enumerate(slow) if c] == [21, 42, 63]


def test_transfers_of_column_counts_the_schedule():
    n, v = 7, 5
    seen = [0] * n
    for s in range(40):
        for c in transfer_columns(s, n, v):
            seen[c] += 1
        assert [transfers_of_column(c, s + 1, n, v) for c in range(n)] == seen


def test_counter_bits_round_trip_and_carry_saturates():
    u = torch.arange(64)
    bits = counter_bits(u, 6)
    assert torch.equal(counter_value(bits), u)
    inc = torch.tensor([1, -1, 1, -1, 1, 0, 2])
    start = torch.tensor([31, 32, 63, 0, 0, 17, 62])
    new = counter_value(carry(counter_bits(start, 6), inc))
    assert new.tolist() == [32, 31, 63, 0, 1, 17, 63]  # carries across all six tiles, clipped at 0 and 63


def test_buffer_value_and_increments():
    pairs = torch.tensor([[True, True], [False, False], [True, False], [False, True]]).T  # (k=2, rows)
    a = buffer_value(pairs)
    assert a.tolist() == [1.0, -1.0, 0.0, 0.0]
    assert increments(a, 1.0, 3).tolist() == [3, -3, 0, 0]
    one = torch.tensor([[True, False, True, False]])
    assert buffer_value(one, 1.0).tolist() == [0.0, -1.0, 0.0, -1.0]
    assert buffer_value(one, -1.0).tolist() == [1.0, 0.0, 1.0, 0.0]
    four = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool).T  # rows 0, 1 of a 4-MTJ buffer
    assert increments(buffer_value(four), 0.5, 1).tolist() == [1, 0]
    assert balanced_states(4, 3).sum(0).tolist() == [2, 2, 2]


def test_column_reference_alternates():
    assert column_reference(torch.arange(4), 0).tolist() == [1.0, -1.0, 1.0, -1.0]
    assert column_reference(torch.arange(4), 1).tolist() == [-1.0, 1.0, -1.0, 1.0]


def test_two_bias_ratio_is_the_closed_form_and_bad_senses_are_refused():
    """With no access transistor the junction sees the applied voltage: G_AP(v2) / G_AP(v1) =
    (1 + TMR(v1)) / (1 + TMR(v2)) with TMR(v) = TMR0 / (1 + (v / v_h)^2); a transistor in series lowers it
    (the junction sees less of the bias). A sense that cannot tell AP from P is refused by name."""
    import pytest

    from mtjxbar.config import ConfigError
    from mtjxbar.device import MTJParams
    from mtjxbar.nn import HardwareConfig
    from mtjxbar.periphery import TransferConfig
    from mtjxbar.periphery.counter import two_bias_midpoint, two_bias_ratio

    def tmr(v):
        return 1.24 / (1 + (v / 0.5) ** 2)

    assert two_bias_ratio(5e3, 1.24, 0.5, 0.0, 0.1, 0.3) == pytest.approx((1 + tmr(0.1)) / (1 + tmr(0.3)), rel=1e-12)
    with_access = two_bias_ratio(5e3, 1.24, 0.5, 2e3, 0.1, 0.3)
    assert 1.0 < with_access < two_bias_ratio(5e3, 1.24, 0.5, 0.0, 0.1, 0.3)
    assert two_bias_midpoint(5e3, 1.24, 0.5, 2e3, 0.1, 0.3) == pytest.approx(0.5 * (1 + with_access))
    two_bias = TransferConfig(counter_bits=4, sense="two_bias")
    HardwareConfig(transfer=two_bias)  # the default device: TMR halves at 0.5 V, a clear margin
    with pytest.raises(ConfigError, match="sense_bias"):
        HardwareConfig(transfer=TransferConfig(counter_bits=4, sense="two_bias", sense_bias=0.05))
    with pytest.raises(ConfigError, match="two_bias"):
        HardwareConfig(transfer=two_bias, device=MTJParams(v_h=50.0))
