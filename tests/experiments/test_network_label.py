"""The run summary names the synapse the run trained (k MTJs, or the buffer-and-counter synapse) and the
arrays it trained on."""

from mtjxbar.plots.history import network_label


def test_the_label_names_the_synapse():
    plain = {"sizes": [64, 128, 80], "config": {"training": {"outputs_per_class": 8},
                                                "hardware": {"mapping": {"mtjs_per_synapse": 3},
                                                             "transfer": {"counter_bits": 0}}}}
    assert network_label(plain) == "64-128-10 (x8 outputs per class), k = 3"
    transfer = {**plain, "config": {**plain["config"], "hardware": {
        "mapping": {"mtjs_per_synapse": 1}, "transfer": {"counter_bits": 6, "buffer_mtjs": 2}}}}
    assert network_label(transfer).endswith("buffer-and-counter synapses (2-MTJ buffer + 6-bit counter)")


def test_the_label_names_the_array_kind():
    """A passive run and a 1T1MTJ run of the same network are told apart in the summary and the plot title."""
    hardware = {"mapping": {"mtjs_per_synapse": 1}, "transfer": {"counter_bits": 0}}
    record = {"sizes": [64, 8, 10], "config": {"hardware": {**hardware, "array": {"kind": "1t1mtj"}}}}
    assert network_label(record) == "64-8-10, k = 1, 1T1MTJ arrays"
    passive = {"kind": "passive", "tile_rows": 64, "tile_cols": 32, "write_scheme": "v3",
               "circuit": {"r_wire_row": 2.5, "r_wire_col": 2.5}}
    record["config"]["hardware"]["array"] = passive
    assert network_label(record) == "64-8-10, k = 1, passive arrays (64x32 tiles, 2.5 ohm wires, V/3)"
    record["config"]["hardware"]["array"] = {**passive, "circuit": {"r_wire_row": 0.0}, "write_scheme": "v2"}
    assert network_label(record).endswith("passive arrays (64x32 tiles, ideal wires, V/2)")
    record["config"]["hardware"]["array"] = {**passive, "circuit": {"r_wire_row": 0.0, "r_wire_col": 1.0}}
    assert network_label(record).endswith("wires 0 ohm (rows) / 1 ohm (columns), V/3)")


def test_the_plot_title_is_wrapped_to_the_figure(tmp_path, monkeypatch):
    """The title (dataset, network, synapse, arrays, seed) is wrapped so that it fits the 6.4-inch figure."""
    import matplotlib.axes

    from mtjxbar.plots.history import plot_history

    titles = []
    real = matplotlib.axes.Axes.set_title
    def set_title(ax, text, **kw):
        titles.append(text)
        return real(ax, text, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", set_title)
    hardware = {"mapping": {"mtjs_per_synapse": 1}, "transfer": {"counter_bits": 6, "buffer_mtjs": 2},
                "array": {"kind": "passive", "tile_rows": 64, "tile_cols": 64, "write_scheme": "v3",
                          "circuit": {"r_wire_row": 2.5, "r_wire_col": 2.5}}}
    record = {"dataset": "mnist", "seed": 0, "sizes": [784, 512, 160], "history": {"insitu": [0.5, 0.6]},
              "config": {"training": {"outputs_per_class": 16}, "hardware": hardware}}
    plot_history(record, tmp_path / "a.png")
    lines = titles[0].split("\n")
    assert len(lines) > 1 and max(map(len, lines)) <= 70 and " ".join(lines).endswith("V/3), seed 0")

