#!/usr/bin/env bash
# Install mmvg and its whole OpenMMLab stack into a virtual environment (default: .venv in the repo).
#
#   bash tools/install.sh          # idempotent: a finished install is detected and skipped
#
# What it does (measured on 2 cores, Python 3.11, no GPU):
#   1. venv + torch 2.14.1 / torchvision 0.29.1 (+ setuptools<81, which mmcv and mmengine need for pkg_resources)
#   2. mmcv 2.1.0 compiled with its CPU ops. mmcv 2.1.0's setup.py asks for C++17, torch 2.14 headers need C++20:
#      the sdist is patched on that one flag and built once (about 16 minutes on 2 cores); the wheel is cached in
#      $MMVG_CACHE (default ~/.cache/mmvg) so later installs on the same machine take seconds.
#   3. mmengine, mmdet 3.3.0, mmsegmentation 1.2.2 (+ ftfy, regex), mmpretrain 1.2.0, timm, test tools, grad-cam,
#      mmvg itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMVG_VENV:-$ROOT/.venv}"
CACHE="${MMVG_CACHE:-$HOME/.cache/mmvg}"
PY="$VENV/bin/python"
STAMP="$VENV/.mmvg-install-$(cat "$ROOT/tools/install.sh" "$ROOT/setup.py" | sha1sum | cut -c1-12)"

say() { echo "[install $(date +%H:%M:%S)] $*"; }

if [ -f "$STAMP" ]; then
  say "environment in $VENV is complete (delete $STAMP to reinstall)"
  exit 0
fi

START=$(date +%s)
if [ ! -x "$PY" ]; then
  say "creating virtual environment $VENV"
  python3 -m venv "$VENV"
fi
PIP=("$PY" -m pip install --disable-pip-version-check --progress-bar off)

say "step 1/3: torch 2.14.1 + torchvision 0.29.1 and build tools"
"${PIP[@]}" -q 'setuptools>=77.0.3,<81' wheel ninja 'numpy==1.26.4'
"${PIP[@]}" -q torch==2.14.1 torchvision==0.29.1

if "$PY" -c "import mmcv, mmcv.ops; from mmcv.ops import RoIAlign, nms; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  say "step 2/3: mmcv 2.1.0 with ops already installed"
else
  mkdir -p "$CACHE"
  WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$WHEEL" ]; then
    say "step 2/3: compiling mmcv 2.1.0 with CPU ops (about 16 minutes on 2 cores; compiler lines follow)"
    BUILD=$(mktemp -d)
    "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: --no-build-isolation \
      mmcv==2.1.0 -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
    # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17 for its CPU build.
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$BUILD"/mmcv-2.1.0/setup.py
    grep -q "c++20" "$BUILD"/mmcv-2.1.0/setup.py || { echo "mmcv setup.py patch failed" >&2; exit 1; }
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$PY" -m pip wheel --no-deps --no-build-isolation -v \
      "$BUILD"/mmcv-2.1.0 -w "$CACHE" 2>&1 | grep --line-buffered -E "^\s*\[[0-9]+/[0-9]+\]|error:|Created wheel" || true
    WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)
    [ -n "$WHEEL" ] || { echo "mmcv build failed: no wheel in $CACHE" >&2; exit 1; }
    rm -rf "$BUILD"
  else
    say "step 2/3: installing cached mmcv wheel $WHEEL"
  fi
  "${PIP[@]}" -q --no-deps "$WHEEL"
  "${PIP[@]}" -q addict mmengine==0.10.7 opencv-python packaging pyyaml yapf
fi

say "step 3/3: mmdet, mmsegmentation, mmpretrain, timm, test tools, grad-cam, mmvg"
"${PIP[@]}" -q 'numpy==1.26.4' mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 ftfy regex mmpretrain==1.2.0 \
  timm==1.0.31 pycocotools 'setuptools>=77.0.3,<81' pytest pytest-timeout hypothesis
# grad-cam (tools/visualization) needs opencv-python-headless: the same version as opencv-python, as both write cv2/
CV=$("$PY" -c "from importlib.metadata import version; print(version('opencv-python'))")
"${PIP[@]}" -q grad-cam==1.5.7 "opencv-python-headless==$CV" 'numpy==1.26.4'
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT"
"$PY" -c "import mmcv.ops, mmdet, mmseg, mmpretrain, timm, pytorch_grad_cam, mmvg; from mmcv.ops import RoIAlign, nms" \
  || { echo "import check failed" >&2; exit 1; }

rm -f "$VENV"/.mmvg-install-*
touch "$STAMP"
say "done in $(( $(date +%s) - START )) s: $VENV"
