// Launches Debian's headless Chromium through playwright-core, with a fresh profile each time.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE ?? 'playwright-core');

/**
 * Runs `use(page, errors)` in a new headless Chromium; `webgpu` adds the flags that give it a
 * SwiftShader WebGPU adapter, `args` any others. `errors` collects uncaught page errors.
 */
export async function withPage({ webgpu = false, args: more = [] }, use) {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'reranker-chromium-'));
  const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  if (webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader');
  args.push(...more);
  // A fresh profile each time (the persistent-context form is how playwright takes one).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args,
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    return await use(page, errors);
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}
