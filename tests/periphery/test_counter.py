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
