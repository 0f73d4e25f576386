"""A small mutation check: break the code the way a test claims to catch, run that test, expect it to fail.

    .venv/bin/python tests/mutants.py                 # every mutant
    .venv/bin/python tests/mutants.py restore_branch  # some, by name
    .venv/bin/python tests/mutants.py --list          # names, files and the tests that must catch them
    .venv/bin/python tests/mutants.py --baseline      # the same tests on the unmutated tree (they must pass)

Each mutant replaces one exact snippet of one file (it must occur once) in a scratch copy of the working tree
(tracked and untracked files that git does not ignore), then runs the listed tests there with pytest. The
mutant is *killed* when pytest reports failed tests (exit status 1) and *survived* when they pass; any other
status (collection error, no tests) is an *error* of the mutant, not a kill. A developer tool, not run in CI:
every mutant costs a pytest run of its tests.

Hand-picked mutants rather than `mutmut`: these are the breakages that reviews found tests blind to, each
tied to the test that must now see it; a generic tool mutates every operator and would take hours per run here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """`find` (exactly once in `path`) becomes `replace`; one of `tests` must then fail."""

    name: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]


MUTANTS: list[Mutant] = [
    # ---- search trials
    Mutant("trial_restore_raises", "nars/tune/trainable.py",
           "    else:\n        with checkpoint.as_directory() as folder:",
           "    else:\n        raise RuntimeError('restore broken')\n        with checkpoint.as_directory() as folder:",
           ("tests/nars/test_trial_resume.py",)),
    Mutant("trial_restore_trains_from_scratch", "nars/tune/trainable.py", "resume=checkpoint is not None", "resume=False",
           ("tests/nars/test_trial_resume.py",)),
    # ---- detector tests
    Mutant("predict_saves_undrawn_image", "detector/predict.py", "to_pil_image(canvas).save(",
           'to_pil_image((item["image"] * 255).round().to(torch.uint8)).save(',
           ("tests/detector/test_predict.py::test_predict_cli_writes_pngs_and_json",)),
    Mutant("predict_score_thresh_unbounded_above", "detector/predict.py", "if not 0.0 <= args.score_thresh <= 1.0:",
           "if not 0.0 <= args.score_thresh:", ("tests/detector/test_predict.py::test_predict_cli_bad_values_are_one_error_line",)),
    Mutant("predict_batch_size_zero_accepted", "detector/predict.py", "if args.batch_size < 1:", "if args.batch_size < 0:",
           ("tests/detector/test_predict.py::test_predict_cli_bad_values_are_one_error_line",)),
    Mutant("export_calibration_images_ignored_without_int8", "detector/export.py",
           "if args.calibration_images and not args.int8:", "if args.calibration_images and args.int8 is None:",
           ("tests/detector/test_export.py::test_export_cli_calibration_images_without_int8_is_one_error_line",)),
    Mutant("export_cli_exports_fresh_weights", "detector/export.py",
           'detector, checkpoint = model_from_checkpoint(args.checkpoint, device="cpu", use_ema=not args.no_ema)',
           '_, checkpoint = model_from_checkpoint(args.checkpoint, device="cpu", use_ema=not args.no_ema); '
           "from detector.modeling.model import build_detector; "
           'detector = build_detector(checkpoint["config"], num_classes=len(checkpoint["class_names"]), load_weights=False).eval()',
           ("tests/detector/test_export.py::test_export_cli_check",)),
    Mutant("weights_load_skips_buffers", "detector/weights/loading.py", "own = model.state_dict()", "own = dict(model.named_parameters())",
           ("tests/detector/test_weights.py::test_frozen_and_group_norm_models_load_original_weights",)),
    Mutant("weights_hides_unused_bn_statistics", "detector/weights/loading.py",
           '[k for k in report.unexpected if not k.endswith("num_batches_tracked")]',
           '[k for k in report.unexpected if not k.endswith(("num_batches_tracked", "running_mean", "running_var"))]',
           ("tests/detector/test_weights.py::test_frozen_and_group_norm_models_load_original_weights",)),
    Mutant("gn_frozen_stages_become_frozen_bn", "detector/modeling/model.py",
           'frozen = get_norm_layer("FrozenBN") if m.norm != "GN" else norm', 'frozen = get_norm_layer("FrozenBN")',
           ("tests/detector/test_weights.py::test_frozen_and_group_norm_models_load_original_weights",)),
    Mutant("block_string_drops_se_gate", "detector/modeling/backbones/spec.py",
           '"se_gate": "hsigmoid" if match["se"] == "_sehsig" else "sigmoid",', '"se_gate": "sigmoid",',
           ("tests/detector/test_fbnet_archs.py::test_block_forms_parse_to_the_fields_they_spell",)),
    Mutant("block_string_drops_kernel", "detector/modeling/backbones/spec.py", '"kernel": int(match["k"]),', "",
           ("tests/detector/test_fbnet_archs.py::test_block_forms_parse_to_the_fields_they_spell",)),
    Mutant("evaluate_boxes_rounded_to_pixels", "detector/evaluation/coco.py", '"bbox": [round(v, 3) for v in box]',
           '"bbox": [round(v) for v in box]', ("tests/detector/test_evaluate.py",)),
    Mutant("evaluate_scores_rounded", "detector/evaluation/coco.py", '"score": float(score)}', '"score": round(float(score), 2)}',
           ("tests/detector/test_evaluate.py",)),
    Mutant("int8_predict_saves_undrawn_image", "detector/predict.py", "to_pil_image(canvas).save(",
           'to_pil_image((item["image"] * 255).round().to(torch.uint8)).save(',
           ("tests/detector/test_quantize.py::test_export_int8_check_then_evaluate_and_predict_the_files",)),
    # the int8 AP comparison needs a model that detects (2 minutes of training): a slow test, selected with -m slow
    Mutant("int8_calibrated_on_black_images", "detector/deploy/int8.py", '{"image": image.numpy()}', '{"image": np.zeros_like(image.numpy())}',
           ("tests/detector/test_quantize.py::test_calibration_sets_the_input_range_the_model_then_sees",)),
    Mutant("int8_calibrated_on_0_255_pixels", "detector/deploy/int8.py", '{"image": image.numpy()}', '{"image": image.numpy() * 255}',
           ("tests/detector/test_quantize.py::test_calibration_sets_the_input_range_the_model_then_sees",)),
    Mutant("inference_fold_drops_norm_bias", "detector/modeling/inference.py", "norm.eps, norm.weight, norm.bias)", "norm.eps, norm.weight, None)",
           ("tests/detector/test_inference.py",)),
    # evaluation report: per-class table, confusion matrix, figures
    Mutant("per_class_ap50_at_iou_055", "detector/evaluation/per_class.py", "mean_precision(precision[at50])",
           "mean_precision(precision[at50 + 1])", ("tests/detector/test_eval_report.py::test_per_class_ap_and_counts_match_cocoeval_per_category_and_the_file",)),
    Mutant("per_class_counts_crowd_boxes", "detector/evaluation/per_class.py", 'if ann.get("iscrowd", 0) or (', "if (",
           ("tests/detector/test_eval_report.py::test_per_class_ap_and_counts_match_cocoeval_per_category_and_the_file",)),
    Mutant("confusion_ignores_the_class_when_matching", "detector/evaluation/confusion.py", "iou + same_class", "iou",
           ("tests/detector/test_eval_report.py::test_confusion_matrix_counts_a_hand_made_case",)),
    Mutant("confusion_ignores_the_score_threshold", "detector/evaluation/confusion.py", 'keep = det["scores"] >= score_thresh',
           'keep = det["scores"] >= 0', ("tests/detector/test_eval_report.py::test_confusion_matrix_counts_a_hand_made_case",)),
    Mutant("evaluate_plots_despite_no_plots", "detector/evaluate.py", "if not args.no_plots:", "if True:",
           ("tests/detector/test_eval_report.py::test_the_cli_writes_per_class_rows_and_figures",)),
    # ---- search tests
    Mutant("nars_picks_in_random_order", "nars/searchers/nars.py", "self._exploit_order(candidates, mean)",
           "self._rng(3).permutation(len(candidates))",
           ("tests/nars/test_searcher.py::test_predicted_picks_beat_random_picks_from_the_same_pool",)),
    Mutant("local_search_moves_two_parameters", "nars/searchers/local.py", "child = space.repair({**point, param.name: value}, rng)",
           "child = space.mutate(space.repair({**point, param.name: value}, rng), rng, validate=False)",
           ("tests/nars/test_smac_searcher.py::test_every_baseline_starts_with_search_initial_points",)),
    Mutant("smac_restore_forgets_the_history", "nars/searchers/smac.py",
           "            for values, cost in self.history:\n                self._tell(self._trial_info(values), cost)\n", "",
           ("tests/nars/test_smac_searcher.py::test_suggests_valid_points_and_learns_from_results",)),
    Mutant("yaml_file_unsafe_loader", "core/yaml_io.py", "yaml.safe_load(path.read_text())",
           "yaml.load(path.read_text(), Loader=yaml.UnsafeLoader)", ("tests/reliability/test_security.py",)),
    Mutant("set_value_unsafe_loader", "core/overrides.py", "yaml.safe_load(raw)", "yaml.load(raw, Loader=yaml.UnsafeLoader)",
           ("tests/reliability/test_security.py",)),
    Mutant("search_searcher_flag_ignored", "nars/search.py", '"searcher": "search.searcher", ', "",
           ("tests/nars/test_search_cli.py::test_searcher_and_resource_flags_reach_the_experiment",)),
    Mutant("analysis_module_runs_nothing", "nars/analysis/__main__.py", 'if __name__ == "__main__":\n    main()',
           'if __name__ == "__main__":\n    pass', ("tests/nars/test_analysis.py::test_cli_in_its_own_process_writes_the_report_and_says_where",)),
    Mutant("nars_learns_a_loss_on_its_raw_scale", "nars/searchers/nars.py", 'TargetTransform.for_metric(self.mode or "max", y)',
           'TargetTransform(self.mode or "max")',
           ("tests/nars/test_cold_start.py::test_a_search_on_a_loss_fits_its_log_and_reports_in_the_loss_units",)),
    Mutant("screened_repeats_become_trials", "nars/searchers/screened.py",
           "if repeats < REPEAT_DRAWS and self._answer_repeat(key, inner_id):", "if False:",
           ("tests/nars/test_screened.py::test_a_repeat_costs_no_trial_and_is_told_what_its_point_measured",
            "tests/nars/test_screened.py::test_tpe_on_a_small_grid_spends_every_trial_on_a_new_point")),
    Mutant("optuna_ordered_choice_as_categorical", "nars/searchers/optuna.py", "if isinstance(param, Choice) and param.ordered:",
           "if False:", ("tests/nars/test_screened.py::test_tpe_on_a_small_grid_spends_every_trial_on_a_new_point",)),
    Mutant("final_winner_without_doubt", "nars/stages/final.py", "if result.best_predicted - margin > y[best]:",
           "if result.best_predicted > y[best]:",
           ("tests/nars/test_final_stage.py::test_a_point_predicted_above_the_best_trial_by_less_than_its_doubt_does_not_win",)),
]


def working_tree_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()]


def copy_tree(target: Path) -> None:
    for name in working_tree_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.path
    text = path.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise SystemExit(f"error: mutant {mutant.name}: the snippet occurs {count} times in {mutant.path}, not once")
    path.write_text(text.replace(mutant.find, mutant.replace))


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(root)}
    shared = REPO.parent / "shared"
    if shared.is_dir():  # the scratch copy has no ../shared beside it: point the tests at this one, and let none skip
        env.update(SHARED_DIR=str(shared), REQUIRE_SHARED="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-200:]
    return proc.returncode, (failed[0] if failed else summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--baseline", action="store_true", help="run the mutants' tests on the unmutated tree instead")
    args = parser.parse_args()
    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else MUTANTS
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {m.path:34} {' '.join(m.tests)}")
        return 0
    rows, bad = [], 0
    for mutant in chosen:
        with tempfile.TemporaryDirectory(prefix="mutant-") as scratch:
            root = Path(scratch)
            copy_tree(root)
            if not args.baseline:
                apply(mutant, root)
            start = time.perf_counter()
            status, detail = run_tests(root, mutant.tests)
        outcome = {0: "passed" if args.baseline else "SURVIVED", 1: "FAILED" if args.baseline else "killed"}.get(status, f"error ({status})")
        bad += outcome not in ("killed", "passed")
        rows.append((mutant.name, outcome, time.perf_counter() - start, detail))
        print(f"{mutant.name:40} {outcome:10} {rows[-1][2]:6.0f} s  {detail}", flush=True)
    print(f"\n{len(rows)} mutants: {sum(r[1] == 'killed' for r in rows)} killed, {sum(r[1] == 'SURVIVED' for r in rows)} survived, "
          f"{sum(r[1].startswith('error') for r in rows)} errors" if not args.baseline else f"\n{len(rows)} baselines, {bad} not passing")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
