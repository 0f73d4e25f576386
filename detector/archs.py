"""List the registered architectures (`model.arch`) with the parameters of the detector each builds, and the named
pretrained weights (`model.weights`).

    python -m detector.archs                          # every arch (a few seconds: each detector is built, without memory)
    python -m detector.archs fbnetv3_a fbnetv3_g      # only these
"""

from __future__ import annotations

from collections.abc import Sequence

from core.cli import ArgumentParser
from core.errors import ConfigError, run_cli


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m detector.archs", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("names", nargs="*", metavar="ARCH", help="archs to list (default: every registered one)")
    parser.add_argument("--num-classes", type=int, default=80,
                        help="foreground classes of the detectors counted (default 80, as the COCO checkpoints; the box predictor grows with it)")
    return parser


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.num_classes < 1:
        raise ConfigError(f"--num-classes must be >= 1, got {args.num_classes}")
    # torch and the detector only now: `--help` and a bad flag answer at once
    from detector.config import ModelConfig
    from detector.modeling.backbones.registry import arch_spec, list_archs
    from detector.modeling.catalog import arch_rows, weights_rows

    for name in args.names:
        try:
            arch_spec(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    default_arch = ModelConfig.model_fields["arch"].default
    names = args.names or list_archs()
    plural = "s" if len(names) != 1 else ""
    print(f"{len(names)} architecture{plural} (model.arch), parameters of the detector with {args.num_classes} classes, nothing frozen:")
    print(f"  {'arch':<32}{'params':>9}  {'stages':>6}  named weights")
    for row in arch_rows(names, args.num_classes):
        mark = " (default)" if row.name == default_arch else ""
        print(f"  {row.name:<32}{row.params / 1e6:>8.2f}M  {row.trunk_stages:>6}  {', '.join(row.weights) or '-'}{mark}", flush=True)
    print("\nnamed weights (model.weights; downloaded once into the torch hub cache, or set model.weights to a local file):")
    print(f"  {'name':<26}{'arch':<20}{'classes':>7}  {'COCO AP':>7}  downloaded")
    for w in weights_rows():
        ap = f"{w.box_ap:.2f}" if w.box_ap is not None else "-"
        print(f"  {w.name:<26}{w.arch:<20}{w.num_classes:>7}  {ap:>7}  {'yes' if w.cached else 'no'}")
    print("\nFLOPs depend on the input size and proposal counts: a search lists them per trial (trials.csv, flops column).")


if __name__ == "__main__":
    main()
