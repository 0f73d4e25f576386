"""`python -m detector.synthetic --output DIR`: write the small synthetic COCO data set of coloured shapes
(`detector.data.synthetic`) that the quickstart and the tests use."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from core.cli import ArgumentParser
from core.errors import run_cli
from detector.data.synthetic import SHAPES, generate_synthetic_coco


@run_cli
def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(
        prog="python -m detector.synthetic", description="Write a small COCO data set of coloured shapes."
    )
    parser.add_argument("--output", required=True, type=Path, help="folder to write images/, train.json, val.json (and test.json)")
    parser.add_argument("--num-train", type=int, default=48, help="training images (default 48)")
    parser.add_argument("--num-val", type=int, default=16, help="validation images (default 16)")
    parser.add_argument("--num-test", type=int, default=0,
                        help="held-out test images, written to test.json (default 0: no test split)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    parser.add_argument("--image-size", type=int, nargs=2, default=(192, 256), metavar=("H", "W"))
    parser.add_argument("--max-objects", type=int, default=4, help="most shapes per image (default 4)")
    parser.add_argument("--classes", nargs="+", default=["circle", "square", "triangle"], choices=list(SHAPES))
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    args = parser.parse_args(argv)
    out = generate_synthetic_coco(
        args.output, args.num_train, args.num_val, tuple(args.image_size), args.classes, args.seed,
        args.max_objects, force=args.force, num_test=args.num_test,
    )
    counts = {"train": args.num_train, "val": args.num_val, "test": args.num_test}
    splits = [split for split, count in counts.items() if count]
    written = [f"{counts[split]} {split} images ({len(json.loads((out / f'{split}.json').read_text())['annotations'])} boxes)"
               for split in splits]
    print(f"wrote {', '.join(written)}, classes {', '.join(args.classes)}, to {out}/ "
          f"(images/, {', '.join(f'{split}.json' for split in splits)})")


if __name__ == "__main__":
    main()
