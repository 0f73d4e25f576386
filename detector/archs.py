"""List the registered architectures (`model.arch`) with the parameters and FLOPs of the detector each builds, and the
named pretrained weights (`model.weights`).

    python -m detector.archs                          # every arch (a few seconds: each part is counted once, without memory)
    python -m detector.archs fbnetv3_a fbnetv3_g      # only these
    python -m detector.archs --input-size 800 1333    # FLOPs at detectron2's test size instead of the config's default
"""

from __future__ import annotations

from collections.abc import Sequence

from core.cli import ArgumentParser
from core.errors import ConfigError, run_cli

MIN_INPUT_SIZE = 32  # a C5 trunk's output stride: below it the last stage sees less than one cell of image


def build_parser() -> ArgumentParser:
    # the defaults are read from the config (pydantic, no torch): --help shows what a run without the flag counts at
    from detector.config import InputConfig

    default_size = (InputConfig.model_fields["min_size"].default, InputConfig.model_fields["max_size"].default)
    parser = ArgumentParser(prog="python -m detector.archs", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("names", nargs="*", metavar="ARCH", help="archs to list (default: every registered one)")
    parser.add_argument("--num-classes", type=int, default=80,
                        help="foreground classes of the detectors counted (default 80, as the COCO checkpoints; "
                             "the box predictor grows with it)")
    parser.add_argument("--input-size", type=int, nargs=2, default=default_size, metavar=("MIN_SIZE", "MAX_SIZE"),
                        help=f"input.min_size and input.max_size the FLOPs are counted at (default {default_size[0]} "
                             f"{default_size[1]}, the config's default; FLOPs grow with it, params do not)")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.num_classes < 1:
        raise ConfigError(f"--num-classes must be >= 1, got {args.num_classes}")
    min_size, max_size = args.input_size
    if min(min_size, max_size) < MIN_INPUT_SIZE or min_size > max_size:
        raise ConfigError(f"--input-size MIN_SIZE MAX_SIZE: both must be >= {MIN_INPUT_SIZE} and MIN_SIZE <= MAX_SIZE, "
                          f"got {min_size} {max_size}")
    # torch and the detector only now: `--help` and a bad flag answer at once
    from detector.config import ModelConfig, RPNConfig
    from detector.modeling.backbones.registry import arch_spec, list_archs
    from detector.modeling.catalog import arch_rows, weights_rows

    for name in args.names:
        try:
            arch_spec(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    default_arch = ModelConfig.model_fields["arch"].default
    rois = RPNConfig.model_fields["post_nms_topk_test"].default
    names = args.names or list_archs()
    plural = "s" if len(names) != 1 else ""
    print(f"{len(names)} architecture{plural} (model.arch), detector with {args.num_classes} classes, nothing frozen; "
          f"FLOPs of one {min_size}x{max_size} input with {rois} RoIs (model.rpn.post_nms_topk_test):")
    print(f"  {'arch':<32}{'params':>9}  {'FLOPs':>8}  {'stages':>6}  named weights")
    for row in arch_rows(names, args.num_classes, (min_size, max_size)):
        mark = " (default)" if row.name == default_arch else ""
        print(f"  {row.name:<32}{row.params / 1e6:>8.2f}M  {row.flops / 1e9:>7.2f}G  {row.trunk_stages:>6}  "
              f"{', '.join(row.weights) or '-'}{mark}", flush=True)
    print("\nnamed weights (model.weights; downloaded once into the torch hub cache, or set model.weights to a local file):")
    print(f"  {'name':<26}{'arch':<20}{'classes':>7}  {'COCO AP':>7}  downloaded")
    for w in weights_rows():
        ap = f"{w.box_ap:.2f}" if w.box_ap is not None else "-"
        print(f"  {w.name:<26}{w.arch:<20}{w.num_classes:>7}  {ap:>7}  {'yes' if w.cached else 'no'}")
    print("\nFLOPs grow with the input size (--input-size) and with model.rpn.post_nms_topk_test"
          " (the box head runs on every RoI);"
          "\na search counts them the same way for each trial's config and lists them per trial (trials.csv, flops column).")


if __name__ == "__main__":
    main()
