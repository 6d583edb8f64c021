// Prints what a site's visitors and a package's users download (`./build.sh sizes`):
//
//   node tools/sizes.mjs [PKG_DIR]      # default pkg/
//
// * the npm package: `npm pack --dry-run` of PKG_DIR (the tarball and its unpacked size, the
//   file count), the code only;
// * the model folder PKG_DIR/model: each file raw, gzip -9 and brotli (quality 11), as a host
//   serving pre-compressed files would send them (docs/hosting.md).
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** `npm pack --dry-run --json` of `pkg`: `{ size, unpackedSize, files: [{ path, size }] }`. */
export function packSize(pkg) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [{ size, unpackedSize, files }] = JSON.parse(out);
  return { size, unpackedSize, files: files.map(({ path: p, size: s }) => ({ path: p, size: s })) };
}

/** Each file of `dir` raw, gzip -9 and brotli 11. */
export async function compressedSizes(dir) {
  const rows = [];
  for (const file of (await readdir(dir)).sort()) {
    const data = await readFile(path.join(dir, file));
    rows.push({
      file,
      raw: data.length,
      gzip: gzipSync(data, { level: 9 }).length,
      brotli: brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }).length,
    });
  }
  return rows;
}

const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pkg = path.resolve(process.argv[2] ?? 'pkg');
  const pack = packSize(pkg);
  console.log(`npm package (${pkg}): tarball ${mb(pack.size)}, unpacked ${mb(pack.unpackedSize)}, ${pack.files.length} files`);
  for (const f of pack.files.sort((a, b) => b.size - a.size).slice(0, 6)) console.log(`  ${f.path.padEnd(34)} ${mb(f.size)}`);
  const rows = await compressedSizes(path.join(pkg, 'model'));
  console.log(`\nmodel folder (${path.join(pkg, 'model')}):`);
  console.log(`  ${'file'.padEnd(22)} ${'raw'.padStart(11)} ${'gzip -9'.padStart(11)} ${'brotli 11'.padStart(11)}`);
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const r of rows) {
    console.log(`  ${r.file.padEnd(22)} ${mb(r.raw).padStart(11)} ${mb(r.gzip).padStart(11)} ${mb(r.brotli).padStart(11)}`);
    for (const k of Object.keys(total)) total[k] += r[k];
  }
  console.log(`  ${'total'.padEnd(22)} ${mb(total.raw).padStart(11)} ${mb(total.gzip).padStart(11)} ${mb(total.brotli).padStart(11)}`);
}
