"""Train FBNetV3OD on a COCO-format data set.

    python -m detector.train --config C.yaml --data DIR --output OUT [--set train.lr=0.01 ...]
    python -m detector.train --config C.yaml --train-json J --train-images D [--val-json J --val-images D] --output OUT
    python -m detector.train ... --test-json J [--test-images D]      # a held-out test split (DIR/test.json of --data)
    python -m detector.train --output OUT --resume [--epochs N]       # continue a run (its config.yaml)
    torchrun --nproc_per_node 2 -m detector.train ...                  # DDP (gloo on CPU, NCCL on CUDA)

Every user error (bad config key or value, missing data, bad checkpoint, diverged loss) ends with
one `error: ...` line and exit status 2. A test split (`DIR/test.json`, or `--test-json`) is held out: training and
early stopping use train and val only, and the final model is evaluated on it once at the end (`OUT/eval_test.json`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.cli import ArgumentParser
from core.errors import ConfigError, run_cli
from core.overrides import apply_overrides, origin_of
from core.yaml_io import read_yaml


def read_config_dict(path: Path) -> dict[str, Any]:
    """The raw YAML mapping (validated later, after --set overrides are applied)."""
    data = read_yaml(path, "config")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a mapping of sections (model, input, train), got {type(data).__name__}")
    return data


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m detector.train", description="Train FBNetV3OD on COCO-format data.")
    parser.add_argument("--config", type=Path, help="YAML config (default: built-in defaults; with --resume: OUT/config.yaml)")
    parser.add_argument("--data", type=Path, help="data folder with images/, train.json, val.json, optional test.json (held out)")
    parser.add_argument("--train-json", type=Path, help="training annotations (instead of / overriding --data)")
    parser.add_argument("--train-images", type=Path, help="training image folder")
    parser.add_argument("--val-json", type=Path, help="validation annotations (optional without --data)")
    parser.add_argument("--val-images", type=Path, help="validation image folder (default: the training one)")
    parser.add_argument("--test-json", type=Path, help="held-out test annotations, evaluated once after training "
                                                       "(default: DIR/test.json when --data has one)")
    parser.add_argument("--test-images", type=Path,
                        help="test image folder (default: DIR/images of --data, else images/ beside --test-json)")
    parser.add_argument("--output", type=Path, required=True, help="run folder: checkpoints, metrics, config, curves")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. --set train.lr=0.01 model.norm=GN (values read as YAML)")
    parser.add_argument("--epochs", type=int, help="shortcut for --set train.epochs=N")
    parser.add_argument("--from-scratch", action="store_true",
                        help="start from random weights: shortcut for --set model.weights=null, which also makes "
                             "model.freeze_at default to 0 (train every stage) unless the config or --set gives it")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt (only train.epochs may grow)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # torch and the detector only now: `--help` and a bad flag answer at once
    from detector.config import load_config
    from detector.data.paths import held_out_test, resolve_data_paths
    from detector.evaluation.split_report import report_name
    from detector.training.distributed import default_device
    from detector.training.engine import train
    from detector.training.run_folder import CONFIG, CURVES, FINAL, LAST, METRICS, TENSORBOARD

    is_main = int(os.environ.get("RANK", "0")) == 0
    logging.basicConfig(level=logging.INFO if is_main else logging.WARNING, format="%(message)s")

    config_path = args.config
    if config_path is None and args.resume and (args.output / CONFIG).is_file():
        config_path = args.output / CONFIG
    data = read_config_dict(config_path) if config_path is not None else {}
    if args.from_scratch and any(text.partition("=")[0].strip() == "model.weights" for text in args.overrides):
        raise ConfigError("--from-scratch and --set model.weights=... both set model.weights; pass one of them")
    # the shortcut flags are the overrides they stand for, spelled as the user gave them (an error names the flag)
    scratch = {"model.weights=null": "--from-scratch"} if args.from_scratch else {}
    epochs = {f"train.epochs={args.epochs}": f"--epochs {args.epochs}"} if args.epochs is not None else {}
    overrides, spelled = [*scratch, *args.overrides, *epochs], {**scratch, **epochs}
    source = str(config_path) if config_path is not None else "the default config"
    config = load_config(apply_overrides(data, overrides), origin=lambda key: origin_of(key, overrides, source, spelled))

    paths = resolve_data_paths(
        data_dir=args.data, train_json=args.train_json, train_images=args.train_images,
        val_json=args.val_json, val_images=args.val_images,
    )
    test = held_out_test(args.data, args.test_json, args.test_images)
    result = train(config, paths, args.output, resume=args.resume, device=args.device or default_device(), progress=not args.no_progress,
                   strict_schedule=True, test=test)
    if not is_main:
        return
    out = result.output_dir
    test_ap = result.test_metrics.get("ap")
    test_summary = f"; test AP {test_ap:.2f} ({report_name('test')})" if isinstance(test_ap, float) else ""
    if result.already_complete:
        print(f"training in {out} is already complete ({result.epochs_completed} epochs); nothing to train "
              f"(raise --epochs to train longer){test_summary}")
        return
    ap = result.metrics.get("ap")
    summary = (f"; val AP {ap:.2f}" if isinstance(ap, float) else "") + test_summary
    state = "stopped early" if result.stopped_early else "complete"
    epochs = f"{result.epochs_completed} epoch{'s' if result.epochs_completed != 1 else ''}"
    print(f"training {state}: {epochs}, {result.global_step} iterations{summary}")
    print(f"outputs in {out}/:")
    for name, what in ((FINAL, "weights for evaluate/predict/export"), (LAST, "full state for --resume"),
                       (METRICS, "per-epoch metrics"), (CONFIG, "resolved config"), (CURVES, "loss and AP curves"),
                       (report_name("test"), "AP of the final model on the held-out test split (its PR curve, confusion "
                                             "matrix and samples sheet: eval_test_*.png)"),
                       (f"{TENSORBOARD}/", f"TensorBoard events: tensorboard --logdir {out / TENSORBOARD}")):
        if (out / name).exists():
            print(f"  {name:<15} {what}")
    data_hint = f"--data {args.data}" if args.data else f"--json {args.val_json or args.train_json}"
    print(f"evaluate: python -m detector.evaluate --checkpoint {out / FINAL} {data_hint}")


if __name__ == "__main__":
    main()
