"""The run summary names the synapse the run trained: k MTJs, or the buffer-and-counter synapse."""

from mtjxbar.plots.history import network_label


def test_the_label_names_the_synapse():
    plain = {"sizes": [64, 128, 80], "config": {"training": {"outputs_per_class": 8},
                                                "hardware": {"mapping": {"mtjs_per_synapse": 3},
                                                             "transfer": {"counter_bits": 0}}}}
    assert network_label(plain) == "64-128-10 (x8 outputs per class), k = 3"
    transfer = {**plain, "config": {**plain["config"], "hardware": {
        "mapping": {"mtjs_per_synapse": 1}, "transfer": {"counter_bits": 6, "buffer_mtjs": 2}}}}
    assert network_label(transfer).endswith("buffer-and-counter synapses (2-MTJ buffer + 6-bit counter)")
