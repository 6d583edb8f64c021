// Reads cargo's `--message-format=json` on stdin and prints the OUT_DIR of web-reranker's build
// script (where the build wrote the weights and tokenizer.bin); `./build.sh` pipes its wasm
// builds through it.
import { createInterface } from 'node:readline';

let out = null;
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'build-script-executed' && message.package_id?.includes('web-reranker')) {
    out = message.out_dir;
  }
}
if (out === null) {
  console.error('build.sh: cargo reported no build-script output for web-reranker');
  process.exit(1);
}
console.log(out);
