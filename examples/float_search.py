"""The float baseline's learning-rate search: per-sample float SGD of the recipe's network, several rates.

    python examples/float_search.py [--config examples/mnist_insitu.toml] [--dataset mnist --data-dir DIR]
        [--lrs 1 3 10 30] [--epochs N] [--seeds 0] [--out docs/results/float_search_mnist.json]

The same network, data, centring, gains, output population, per-epoch decay and sample order as the in-situ
runs of the config (the runner's float method, without the in-situ part); one JSON record per (lr, seed)
with the test accuracy after every epoch, so the in-situ rule is compared with a float baseline tuned by the
same kind of search (issue 19: float >= 94 % on MNIST, a real baseline on Fashion-MNIST).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--config", default=str(Path(__file__).with_name("mnist_insitu.toml")))
    parser.add_argument("--dataset")
    parser.add_argument("--data-dir")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("docs/results/float_search_mnist.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from mtjxbar.config import replace_path
    from mtjxbar.experiments.config import load_config
    from mtjxbar.experiments.datasets import load_dataset
    from mtjxbar.experiments.runner import epoch_order
    from mtjxbar.rng import generator
    from mtjxbar.training import SoftwareMLP, build_architecture, evaluate, train_software_epoch

    config = load_config(args.config)
    for path, value in (("data.dataset", args.dataset), ("data.data_dir", args.data_dir),
                        ("training.epochs", args.epochs)):
        if value is not None:
            config = replace_path(config, path, value)
    d, tcfg = config.data, config.training
    data = load_dataset(d.dataset, d.data_dir, max_train=d.max_train, max_test=d.max_test)
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["lr"], r["seed"], r["epochs"], r["dataset"]) for r in records}
    for seed in args.seeds:
        arch = build_architecture(data.train_x, data.n_classes, config.hidden, tcfg)
        shapes = list(zip(arch.sizes[:-1], arch.sizes[1:], strict=True))
        for lr in args.lrs:
            if (lr, seed, tcfg.epochs, data.name) in done:
                continue
            init = [torch.rand(s, generator=generator(seed, f"init.shadow{i}")) * 2.0 - 1.0
                    for i, s in enumerate(shapes)]
            model = SoftwareMLP(arch, init, config.hardware.converters.input_range)
            history, t0 = [], time.perf_counter()
            for epoch in range(tcfg.epochs):
                order = epoch_order(seed, epoch, len(data.train_x))
                train_software_epoch(model, data.train_x, data.train_y, order, lr * tcfg.lr_decay**epoch, False)
                history.append(evaluate(model.predict, data.test_x, data.test_y, tcfg.eval_batch))
            records.append({"dataset": data.name, "lr": lr, "seed": seed, "epochs": tcfg.epochs,
                            "lr_decay": tcfg.lr_decay, "sizes": list(arch.sizes), "history": history,
                            "test": history[-1], "seconds": time.perf_counter() - t0})
            print(f"{data.name} lr {lr:g} seed {seed}: test {history[-1]:.4f} (best {max(history):.4f} at epoch "
                  f"{history.index(max(history)) + 1})", flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(records, indent=1) + "\n")
    for lr in args.lrs:
        tests = [r["test"] for r in records if r["lr"] == lr and r["epochs"] == tcfg.epochs]
        if tests:
            print(f"lr {lr:g}: {100 * statistics.mean(tests):.2f} % over {len(tests)} seed(s)")


if __name__ == "__main__":
    main()
