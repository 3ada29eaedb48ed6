"""Both array kinds honour one contract (:class:`~mtjxbar.crossbar.protocol.CrossbarArray`), each with its
own physics and nothing overridden away: no public method that only raises NotImplementedError or returns a
"not applicable" None, no kind inheriting the other's methods."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
import torch

from mtjxbar.crossbar import (
    ArrayConfig,
    CellArray,
    CircuitConfig,
    Crossbar,
    CrossbarArray,
    PassiveCrossbar,
    SeparableRead,
    UpdatePlan,
    WritePhase,
    WriteResult,
)
from mtjxbar.crossbar.chips import ChipArrays
from mtjxbar.crossbar.protocol import CrossbarArray as ProtocolClass
from mtjxbar.device import MTJParams, physics
from mtjxbar.periphery.arrays import make_array
from mtjxbar.periphery.passive_calibration import ReadCalibration
from mtjxbar.periphery.passive_compensation import WriteCompensation

F64 = torch.float64
DEV = MTJParams()
WIRED = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0)


def _kinds():
    return {"1t1mtj": Crossbar(5, 4, DEV, dtype=F64),
            "passive": PassiveCrossbar(5, 4, DEV, ArrayConfig(kind="passive"), dtype=F64),
            "passive-wired": PassiveCrossbar(5, 4, DEV, ArrayConfig(kind="passive", circuit=WIRED), dtype=F64,
                                             calibration=ReadCalibration(), compensation=WriteCompensation())}


def _protocol_members() -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(ProtocolClass)))
    cls = tree.body[0]
    names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    names |= {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}
    return names


@pytest.mark.parametrize("kind", ["1t1mtj", "passive", "passive-wired"])
def test_every_kind_honours_the_array_protocol(kind):
    xb = _kinds()[kind]
    assert isinstance(xb, CrossbarArray)
    assert isinstance(xb, CellArray)
    for name in _protocol_members():  # each member is there, not only what isinstance samples
        assert hasattr(xb, name), name
    gen = torch.Generator().manual_seed(0)
    xb.set_states(torch.rand(5, 4, generator=gen) < 0.5)
    v = torch.linspace(-0.1, 0.1, 5, dtype=F64)
    assert xb.read(v).shape == (4,) and xb.read(torch.stack([v, -v])).shape == (2, 4)
    assert xb.read_transposed(v[:4]).shape == (5,)
    phase = WritePhase(row_widths=torch.full((5,), 5e-9, dtype=F64), col_currents=torch.full((4,), 60e-6, dtype=F64),
                       polarity="to_p")
    p = xb.switching_probabilities(UpdatePlan((phase,)))
    assert p.shape == (1, 5, 4) and bool((p >= 0).all()) and bool((p <= 1).all())
    before = xb.parallel.clone()
    result = xb.write(UpdatePlan((phase,)), gen)
    assert isinstance(result, WriteResult)
    assert int((xb.parallel != before).sum()) == result.flipped_cells.numel() == result.flips_to_p + result.flips_to_ap
    state = xb.state_dict()
    assert set(state) == {"states", "params", "table_spans", "stuck"}
    xb.set_states(~xb.parallel)
    xb.load_state_dict(state)
    assert torch.equal(xb.parallel, state["states"])


def test_conductances_are_each_kinds_own_cells():
    """A 1T1MTJ cell is the junction plus its transistor; a passive cell is the junction alone."""
    one_t, passive = Crossbar(2, 3, DEV, dtype=F64), PassiveCrossbar(2, 3, DEV, ArrayConfig(kind="passive"), dtype=F64)
    states = torch.tensor([[True, False, True], [False, False, True]])
    for xb in (one_t, passive):
        xb.set_states(states)
    r_on = ArrayConfig().r_access
    r_ap = float(physics.ap_resistance(torch.tensor(0.2, dtype=F64), DEV.r_p, DEV.tmr0, DEV.v_h))
    g_p, g_ap = 1.0 / DEV.r_p, 1.0 / r_ap
    want = torch.where(states, torch.tensor(g_p, dtype=F64), torch.tensor(g_ap, dtype=F64))
    torch.testing.assert_close(passive.conductances(0.2), want, rtol=1e-12, atol=0)
    g_one_t = one_t.conductances(0.0)
    torch.testing.assert_close(g_one_t[states], torch.full((3,), 1.0 / (DEV.r_p + r_on), dtype=F64), rtol=1e-12,
                               atol=0)


def test_only_the_isolated_cells_read_separates():
    kinds = _kinds()
    assert isinstance(kinds["1t1mtj"], SeparableRead)
    assert not isinstance(kinds["passive"], SeparableRead)
    for name in ("drive_terms", "read_terms", "kernel_view", "sampler", "per_cell_reads", "ap_conductance"):
        assert not hasattr(kinds["passive"], name), f"a passive array has the 1T1MTJ array's {name}"


def test_neither_kind_inherits_the_other():
    assert not issubclass(PassiveCrossbar, Crossbar) and not issubclass(Crossbar, PassiveCrossbar)


def _public_methods(cls):
    """(owner class, name, function node) of every public method defined in ``cls``'s mtjxbar classes."""
    for owner in cls.__mro__:
        if not owner.__module__.startswith("mtjxbar."):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(owner)))
        for node in tree.body[0].body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield owner, node.name, node


def _not_applicable(node: ast.FunctionDef) -> bool:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    if len(body) != 1:
        return not body
    stmt = body[0]
    if isinstance(stmt, ast.Raise):
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    if isinstance(stmt, ast.Return):
        return stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value is None)
    return isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))


@pytest.mark.parametrize("cls", [Crossbar, PassiveCrossbar, ChipArrays], ids=lambda c: c.__name__)
def test_no_public_method_is_overridden_away(cls):
    offenders = [f"{owner.__name__}.{name}" for owner, name, node in _public_methods(cls) if _not_applicable(node)]
    assert not offenders, f"public methods that do nothing but refuse or return None: {offenders}"


def test_the_check_sees_a_method_overridden_away():
    class Refusing:
        def drive_terms(self, v):
            """Always None."""
            return None

        def kernel_view(self):
            raise NotImplementedError("not for this kind")

    nodes = ast.parse(textwrap.dedent(inspect.getsource(Refusing))).body[0].body
    assert all(_not_applicable(n) for n in nodes)


@pytest.mark.parametrize("kind", ["1t1mtj", "passive"])
def test_the_layer_factory_builds_the_kind_the_config_names(kind):
    from mtjxbar.crossbar import BiasSolverConfig, CircuitSolverConfig
    array = ArrayConfig(kind=kind, circuit=WIRED) if kind == "passive" else ArrayConfig()
    xb = make_array(3, 2, DEV, array, BiasSolverConfig(), CircuitSolverConfig(), dtype=F64)
    assert type(xb) is (PassiveCrossbar if kind == "passive" else Crossbar)
    assert isinstance(xb, CrossbarArray)
    if kind == "passive":  # the periphery's algorithms come with it
        assert isinstance(xb.calibration, ReadCalibration) and isinstance(xb.compensation, WriteCompensation)


def test_a_wired_passive_array_without_its_periphery_algorithms_says_so():
    with pytest.raises(ValueError, match="read_calibration"):
        PassiveCrossbar(3, 2, DEV, ArrayConfig(kind="passive", circuit=WIRED, write_compensation=0))
    with pytest.raises(ValueError, match="write_compensation"):
        PassiveCrossbar(3, 2, DEV, ArrayConfig(kind="passive", circuit=WIRED, read_calibration="off"))
    raw = PassiveCrossbar(3, 2, DEV, ArrayConfig(kind="passive", circuit=WIRED, read_calibration="off",
                                                 write_compensation=0))
    assert raw.calibration is None and raw.compensation is None


def test_the_fused_loop_turns_a_passive_transfer_layer_away_before_asking_for_1t1mtj_reads():
    """Per-cell parameters on passive counter tiles: the fused loop's check names the array kind (it used to
    ask the passive array for the 1T1MTJ array's per-cell read fit first)."""
    from mtjxbar.device import VariationConfig
    from mtjxbar.nn.config import HardwareConfig
    from mtjxbar.nn.linear import manufacture_layers
    from mtjxbar.periphery.config import TransferConfig
    from mtjxbar.training import InSituNetwork, build_architecture
    from mtjxbar.training.config import TrainingConfig
    from mtjxbar.training.fused.loop import unsupported

    hw = HardwareConfig(array=ArrayConfig(kind="passive"), transfer=TransferConfig(counter_bits=2),
                        variation=VariationConfig(r_p_dtod=0.03))
    x = torch.rand(5, 8, generator=torch.Generator().manual_seed(0))
    net = InSituNetwork(build_architecture(x, 2, (3,), TrainingConfig(outputs_per_class=1)), hw)
    manufacture_layers(net.layers, 0)
    assert unsupported(net) == "layer 0: PassiveCrossbar arrays (only ideal-wire 1T1MTJ arrays)"
