"""SynapseMapping: states <-> weights, weight levels, flip step, and the read arithmetic vs a dense sum."""

from __future__ import annotations

import pytest
import torch

from mtjxbar.periphery import MappingConfig, SynapseMapping

F64 = torch.float64
SCHEMES = ("reference", "differential")
KS = (1, 2, 3, 4, 5)


def mapping(k: int, scheme: str, n_out: int = 3) -> SynapseMapping:
    return SynapseMapping(n_out, MappingConfig(mtjs_per_synapse=k, scheme=scheme))


def random_w(rows: int, cols: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(rows, cols, generator=g, dtype=F64) * 2.0 - 1.0


def expected_levels(k: int, scheme: str) -> torch.Tensor:
    """k + 1 equally spaced levels on [-1, 1] (reference) or 2k + 1 (differential)."""
    n = 2 * k + 1 if scheme == "differential" else k + 1
    return torch.linspace(-1.0, 1.0, n, dtype=F64)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", KS)
def test_layout(k, scheme):
    m = mapping(k, scheme, n_out=4)
    per = k * (2 if scheme == "differential" else 1)
    assert m.per_output == per and m.physical_cols == 4 * per
    want_sign = torch.tensor([1.0, -1.0] * k if scheme == "differential" else [1.0] * k).repeat(4)
    assert torch.equal(m.col_sign, want_sign.to(m.col_sign.dtype))
    assert m.differential == (scheme == "differential")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", KS)
def test_levels_are_the_representable_values(k, scheme):
    m = mapping(k, scheme)
    w = random_w(200, 3, k)
    q = m.levels(w)
    allowed = expected_levels(k, scheme)
    dist = (q[..., None] - allowed).abs().min(dim=-1).values
    assert float(dist.max()) < 1e-12  # every output is one of the levels
    # and the nearest one (ties aside)
    nearest = allowed[(w[..., None] - allowed).abs().argmin(dim=-1)]
    assert float((q - w).abs().max()) <= 0.5 * float(allowed[1] - allowed[0]) + 1e-12
    torch.testing.assert_close((q - w).abs(), (nearest - w).abs(), rtol=0.0, atol=1e-12)
    # every level is reached, exactly, from itself; out-of-range requests clip to +-1
    torch.testing.assert_close(m.levels(allowed[:, None]), allowed[:, None], rtol=0.0, atol=1e-12)
    torch.testing.assert_close(m.levels(torch.tensor([[-3.0, 7.0]], dtype=F64)),
                               torch.tensor([[-1.0, 1.0]], dtype=F64), rtol=0.0, atol=0.0)
    assert m.levels(w).unique().numel() <= allowed.numel()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", KS)
def test_weights_of_states_for_are_the_levels(k, scheme):
    m = mapping(k, scheme)
    w = random_w(300, 3, 10 + k)
    states = m.states_for(w)
    assert states.dtype == torch.bool and states.shape == (300, m.physical_cols)
    torch.testing.assert_close(m.weights(states).to(F64), m.levels(w), rtol=0.0, atol=1e-6)
    levels = expected_levels(k, scheme)[:, None].expand(-1, 3)
    torch.testing.assert_close(m.weights(m.states_for(levels)).to(F64), levels, rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", KS)
def test_flipping_one_mtj_moves_the_weight_by_flip_step(k, scheme):
    m = mapping(k, scheme, n_out=2)
    assert m.flip_step == pytest.approx(1.0 / k if scheme == "differential" else 2.0 / k, rel=1e-15)
    g = torch.Generator().manual_seed(k)
    states = torch.rand(5, m.physical_cols, generator=g) < 0.5
    w0 = m.weights(states)
    for c in range(m.physical_cols):
        flipped = states.clone()
        flipped[:, c] ^= True
        dw = m.weights(flipped) - w0
        out = c // m.per_output
        sign = float(m.col_sign[c])
        # P (True) -> AP lowers the conductance: the weight moves by -sign * flip_step, and vice versa
        want = torch.where(states[:, c], -sign * m.flip_step, sign * m.flip_step)
        torch.testing.assert_close(dw[:, out].to(F64), want.to(F64), rtol=0.0, atol=1e-6)
        others = [o for o in range(m.n_out) if o != out]
        assert float(dw[:, others].abs().max()) == 0.0


def dense_weights(m: SynapseMapping, states: torch.Tensor) -> torch.Tensor:
    """W from the states by explicit loops (the definition in the module docstring)."""
    rows = states.shape[0]
    w = torch.zeros(rows, m.n_out, dtype=F64)
    b = states.to(F64) * 2.0 - 1.0
    for i in range(rows):
        for j in range(m.n_out):
            if m.differential:
                w[i, j] = sum(float(b[i, j * m.per_output + 2 * s] - b[i, j * m.per_output + 2 * s + 1]) / 2.0
                              for s in range(m.k)) / m.k
            else:
                w[i, j] = sum(float(b[i, j * m.per_output + s]) for s in range(m.k)) / m.k
    return w


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", (1, 2, 3))
def test_weights_match_dense_definition(k, scheme):
    m = mapping(k, scheme)
    g = torch.Generator().manual_seed(40 + k)
    states = torch.rand(6, m.physical_cols, generator=g) < 0.5
    torch.testing.assert_close(m.weights(states).to(F64), dense_weights(m, states), rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("k", (1, 2, 3))
def test_combine_expand_and_combine_transposed_against_dense(k, scheme):
    """With ohmic cells (G = g_p or g_ap): combine(v @ G) = k g_unit v @ W, and a transposed read driven
    with expand(u) gives k g_unit W @ u after combine_transposed (rel 1e-12 of the scale)."""
    m = mapping(k, scheme, n_out=4)
    rows = 7
    g_p, g_ap = 1.0 / 7e3, 1.0 / 13.2e3
    g_ref = 0.5 * (g_p + g_ap)
    gen = torch.Generator().manual_seed(50 + k)
    states = torch.rand(rows, m.physical_cols, generator=gen) < 0.5
    G = torch.where(states, torch.tensor(g_p, dtype=F64), torch.tensor(g_ap, dtype=F64))
    W = dense_weights(m, states)
    unit = m.unit_conductance(g_p, g_ap)
    assert unit == pytest.approx((g_p - g_ap) if scheme == "differential" else 0.5 * (g_p - g_ap), rel=1e-15)
    v = (torch.rand(3, rows, generator=gen, dtype=F64) * 2 - 1) * 0.1
    u = (torch.rand(3, m.n_out, generator=gen, dtype=F64) * 2 - 1) * 0.1
    scale = 0.1 * rows * g_p
    # forward: signed logical currents
    signed = m.combine(v @ G, v, g_ref)
    assert signed.shape == (3, m.n_out)
    torch.testing.assert_close(signed, m.k * unit * v @ W, rtol=0.0, atol=1e-12 * scale)
    # explicit per-output sum of the signed physical columns minus the reference
    for j in range(m.n_out):
        cols = range(j * m.per_output, (j + 1) * m.per_output)
        want = sum(float(m.col_sign[c]) * (v @ G[:, c]) for c in cols)
        if scheme == "reference":
            want = want - m.k * g_ref * v.sum(-1)
        torch.testing.assert_close(signed[:, j], want, rtol=0.0, atol=1e-12 * scale)
    # expand: one value per output -> per physical column times its sign
    expanded = m.expand(u)
    assert expanded.shape == (3, m.physical_cols)
    for c in range(m.physical_cols):
        torch.testing.assert_close(expanded[:, c], u[:, c // m.per_output] * float(m.col_sign[c]),
                                   rtol=0.0, atol=0.0)
    # transposed read: drive the columns with expand(u), sense the rows
    rows_out = m.combine_transposed(expanded @ G.T, u, g_ref)
    assert rows_out.shape == (3, rows)
    torch.testing.assert_close(rows_out, m.k * unit * u @ W.T, rtol=0.0, atol=1e-12 * scale)


def test_invalid_output_count():
    with pytest.raises(ValueError, match="n_out"):
        SynapseMapping(0, MappingConfig())
