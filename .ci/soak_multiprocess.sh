#!/usr/bin/env bash
# The multi-process checks, N times in a row (default 30), with one CPU-bound
# load process per core running beside them: the pytest tests that start 2
# gloo ranks, and short 2-rank tools/dist_train.sh and tools/dist_test.sh runs.
# Any failure stops the loop and prints its log. Not part of CI (tens of
# minutes); run it after touching launch/exit code:
#     bash .ci/soak_multiprocess.sh 30
# SOAK_CHECKS picks the checks (default "pytest train test"), SOAK_LOAD the
# number of load processes (default: one per core), PY the interpreter; the
# suite runs its rounds with an interpreter that records the commands and
# checks them with the tools' parsers (tests/test_ci.py).
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
PY=${PY:-.venv/bin/python}
CHECKS=${SOAK_CHECKS:-pytest train test}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq "${SOAK_LOAD:-$(env -u OMP_NUM_THREADS nproc)}"); do (while :; do :; done) & done
$PY tools/dataset_converters/make_demo_data.py --out "$WORK/data" --num-train 16 --num-val 4 >/dev/null
OPTS=(--cfg-options "train_dataloader.dataset.data_root=$WORK/data"
      "val_dataloader.dataset.val.data_root=$WORK/data"
      "val_dataloader.dataset.train.data_root=$WORK/data"
      "test_dataloader.dataset.data_root=$WORK/data"
      train_dataloader.batch_size=2 train_dataloader.num_workers=0
      train_dataloader.persistent_workers=False test_dataloader.num_workers=0
      test_dataloader.persistent_workers=False val_dataloader.num_workers=0
      val_dataloader.persistent_workers=False "model.data_preprocessor.size=(64,64)"
      "model.test_cfg.size=(64,64)" "train_dataloader.dataset.pipeline.2.scale=(64,64)"
      train_cfg.max_iters=2 train_cfg.val_interval=2 default_hooks.checkpoint.interval=2)
export CUDA_VISIBLE_DEVICES= PYTHON=$PY
fail=0
for i in $(seq "$N"); do
  for check in $CHECKS; do
    log="$WORK/$i-$check.log"
    export PORT=$((20000 + RANDOM % 20000))
    case $check in
      pytest) $PY -m pytest -q -p no:cacheprovider tests/test_engine/test_one_vs_two_processes.py \
                "tests/test_tools/test_train_test.py::test_ddp_ranks_hold_identical_weights_through_the_warm_up" \
                "tests/test_engine/test_rng_state_hook.py::test_validation_between_save_and_kill_changes_nothing" \
                >"$log" 2>&1 ;;
      train) bash tools/dist_train.sh configs/apc/apc_demo_cpu.py 2 --work-dir "$WORK/run" \
               "${OPTS[@]}" >"$log" 2>&1 ;;
      test) bash tools/dist_test.sh configs/apc/apc_demo_cpu.py "$WORK/run/iter_2.pth" 2 \
              --work-dir "$WORK/run" --out "$WORK/run/preds$i" "${OPTS[@]}" >"$log" 2>&1 ;;
    esac
    rc=$?
    if [ $rc -ne 0 ]; then
      echo "run $i, $check: exit $rc"; tail -40 "$log"; fail=$((fail + 1)); break 2
    fi
  done
  echo "run $i: $CHECKS: ok"
done
echo "soak: $((i - fail)) of $N rounds passed, $fail failed, with ${SOAK_LOAD:-$(env -u OMP_NUM_THREADS nproc)} load processes (checks: $CHECKS)"
exit $fail
