#!/usr/bin/env bash
# The demo on a fresh machine: install everything (skipped when done), then train Mask R-CNN with a CoC-small
# backbone on generated shapes data, evaluate it with mmdet's COCO metric and draw its predictions.
#   bash tools/demo.sh                  # again: prints the finished result (FORCE=1 trains again)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIG=${CONFIG:-configs/coc/mask_rcnn_coc_small.py}
WORK_DIR="work_dirs/demo/$(basename "$CONFIG" .py)"

bash tools/install.sh
if [ -f "$WORK_DIR/demo_result.json" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "[demo] already done (FORCE=1 bash tools/demo.sh trains again):"
  cat "$WORK_DIR/demo_result.json"
  exit 0
fi
echo "[demo] training $CONFIG on the generated shapes data (CPU, about 11-15 minutes on 2 cores)"
.venv/bin/python tools/train.py "$CONFIG" --demo --work-dir "$WORK_DIR"
cat "$WORK_DIR/demo_result.json"
