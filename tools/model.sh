# The model folder a build imports (sourced by build.sh after tools/lib.sh): `select_model`
# prints it, from --model (MODEL_DIR), --checkpoint (CHECKPOINT_DIR, exported with torch) or the
# default model, downloaded from the model hub by tools/hub-fetch.mjs (Node; no Python).
#
# Environment for the default model: HF_ENDPOINT (the hub, default https://huggingface.co),
# MODEL_REPO (default DEFAULT_REPO), MODEL_REVISION (default: the commit pinned in MODEL_PINS, else
# main), MODEL_PINS (default tools/model-pins.json: per repository, the pinned commit and each
# source file's sha256), MODELS_DIR (where downloaded model folders go, default models/).

DEFAULT_REPO="cross-encoder/mmarco-mMiniLMv2-L12-H384-v1"
MODEL_REPO="${MODEL_REPO:-$DEFAULT_REPO}"
MODEL_PINS="${MODEL_PINS:-$ROOT/tools/model-pins.json}"
MODELS_DIR="${MODELS_DIR:-$ROOT/models}"
MODEL_DIR=""
CHECKPOINT_DIR=""

offline_help() {
  cat <<HELP
cannot download $MODEL_REPO from ${HF_ENDPOINT:-https://huggingface.co} (see the line above).
  Point build.sh at a local copy instead:
    ./build.sh --model DIR        # a model folder: model.onnx (the hub's onnx/model.onnx is fine),
                                  # tokenizer.json, config.json
    ./build.sh --checkpoint DIR   # a Hugging Face checkpoint without an ONNX file (needs Python + torch)
  (The test suite needs no model: ./build.sh test uses the committed tiny fixtures.)
HELP
}

# Downloads MODEL_REPO's config.json, tokenizer.json and onnx/model.onnx (once per revision:
# tools/hub-fetch.mjs keeps a folder it already made) and prints the folder. The build's importer
# makes the hub's int64 TorchScript form WebGPU-ready.
default_model() {
  local dir="$MODELS_DIR/${MODEL_REPO#*/}"
  mkdir -p "$MODELS_DIR"
  local status=0
  node "$ROOT/tools/hub-fetch.mjs" --endpoint "${HF_ENDPOINT:-https://huggingface.co}" \
    --repo "$MODEL_REPO" ${MODEL_REVISION:+--revision "$MODEL_REVISION"} --pins "$MODEL_PINS" --out "$dir" \
    || status=$?
  # hub-fetch's 3: the hub answered and its line says what was wrong; else it was not reached.
  [ "$status" = 0 ] || { [ "$status" = 3 ] && die "the model download stopped (the line above)"; die "$(offline_help)"; }
  echo "$dir"
}

export_checkpoint() {
  local checkpoint="$1" dir="$2"
  [ -f "$checkpoint/config.json" ] || die "$checkpoint has no config.json: not a Hugging Face checkpoint"
  [ -f "$checkpoint/tokenizer.json" ] || die "$checkpoint has no tokenizer.json"
  mkdir -p "$dir"
  say "exporting $checkpoint to $dir/model.onnx (WebGPU-ready: int32, opset 18)"
  "$(python_env)" "$ROOT/tools/export_onnx.py" "$checkpoint" "$dir/model.onnx" --form webgpu >&2
  cp "$checkpoint/tokenizer.json" "$checkpoint/config.json" "$dir/"
}

select_model() {
  if [ -n "$MODEL_DIR" ]; then
    [ -d "$MODEL_DIR" ] || die "--model $MODEL_DIR: no such folder"
    (cd "$MODEL_DIR" && pwd)
  elif [ -n "$CHECKPOINT_DIR" ]; then
    [ -d "$CHECKPOINT_DIR" ] || die "--checkpoint $CHECKPOINT_DIR: no such folder"
    local dir="$ROOT/models/$(basename "$CHECKPOINT_DIR")"
    export_checkpoint "$CHECKPOINT_DIR" "$dir"
    echo "$dir"
  else
    default_model
  fi
}
