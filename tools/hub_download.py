"""Downloads a checkpoint from the model hub (``./build.sh`` with no model, online).

    python tools/hub_download.py REPO REVISION TARGET_DIR

Exits 1 with the reason on stderr when the hub cannot be reached or the revision is unknown.
"""
import sys

from huggingface_hub import snapshot_download

repo, revision, target = sys.argv[1:4]
try:
    snapshot_download(repo_id=repo, revision=revision, local_dir=target,
                      allow_patterns=["config.json", "model.safetensors", "pytorch_model.bin",
                                      "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "sentencepiece.bpe.model"])
except Exception as e:  # offline, hub down, revision unknown
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
