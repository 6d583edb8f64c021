# The model folder a build imports (sourced by build.sh after tools/lib.sh): `select_model`
# prints it, from --model (MODEL_DIR), --checkpoint (CHECKPOINT_DIR, exported with torch) or the
# default model, downloaded from the model hub.

DEFAULT_REPO="cross-encoder/mmarco-mMiniLMv2-L12-H384-v1"
# NOTE: pin a commit hash here once it has been checked online; `main` is the moving head.
MODEL_REVISION="${MODEL_REVISION:-main}"
MODEL_DIR=""
CHECKPOINT_DIR=""

offline_help() {
  cat <<HELP
cannot download $DEFAULT_REPO@$MODEL_REVISION from the model hub (offline?).
  Point build.sh at a local copy instead:
    ./build.sh --checkpoint DIR   # a Hugging Face checkpoint: config.json, model.safetensors, tokenizer.json
    ./build.sh --model DIR        # an exported model folder: model.onnx, tokenizer.json, config.json
  (The test suite needs no model: ./build.sh test uses the committed tiny fixtures.)
HELP
}

default_model() {
  local name="${DEFAULT_REPO#*/}" dir checkpoint
  dir="$ROOT/models/$name"
  if [ -f "$dir/model.onnx" ] && [ -f "$dir/tokenizer.json" ] && [ -f "$dir/config.json" ]; then
    echo "$dir"
    return
  fi
  checkpoint="$CACHE/checkpoints/$name"
  # Fail fast (before installing torch) when the hub is out of reach.
  curl -fsS --max-time 15 -o /dev/null \
    "${HF_ENDPOINT:-https://huggingface.co}/api/models/$DEFAULT_REPO/revision/$MODEL_REVISION" \
    || die "$(offline_help)"
  say "downloading $DEFAULT_REPO@$MODEL_REVISION from the model hub"
  "$(python_env)" "$ROOT/tools/hub_download.py" "$DEFAULT_REPO" "$MODEL_REVISION" "$checkpoint" \
    || die "$(offline_help)"
  export_checkpoint "$checkpoint" "$dir"
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
