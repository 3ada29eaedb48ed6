"""bench/passive_linear_floor.py's counting: the lines a write pattern drives away from its unselected level
and the selected cells of the held pattern, tile by tile (what its floors multiply the timed primitives by)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def floor(load_script):
    return load_script("bench/passive_linear_floor.py")


def test_off_level_marks_the_lines_away_from_the_shared_level(floor):
    assert floor._off_level(np.array([0.3, 0.45, 0.3, 0.3, 0.52])).tolist() == [0, 1, 0, 0, 1]
    assert floor._off_level(np.array([0.1, 0.2, 0.3])).tolist() == [1, 1, 1]  # no shared level: all count


def test_count_per_tile_held_and_released(floor):
    """Two row tiles x two column tiles of 2 lines each. Held: rows 0 and 3 selected (their sources moved off
    the 0.45 V level), column 1 selected; released: every row at the level, column 1 still off it. The skipped
    tile (released pattern, tile (0, 1)) counts nothing."""
    counts = SimpleNamespace(patterns=0, lines=0, held=0, selected=0, selected_rows=0)
    src_r = np.array([[0.9, 0.45, 0.45, 0.95], [0.45, 0.45, 0.45, 0.45]])
    src_c = np.array([[0.45, 0.02, 0.45, 0.45], [0.45, 0.02, 0.45, 0.45]])
    starts = np.array([0, 2, 4])
    tiles = np.ones((2, 2, 2), dtype=bool)
    tiles[1, 0, 1] = False
    floor._WriteCounter._count(counts, src_r, src_c, starts, starts, tiles)
    # held: tile lines (1+1, 1+0, 1+1, 1+0) -> 6 over 4 tiles; released: (0+1, -, 0+1, 0+0) -> 2 over 2 tiles
    # (the tile with no line off the level needs no product)
    assert (counts.patterns, counts.lines) == (6, 8)
    # selected cells: a selected row's cells on the selected columns, tiles (0, 0) and (1, 0): one each
    assert (counts.held, counts.selected, counts.selected_rows) == (2, 2, 2)
