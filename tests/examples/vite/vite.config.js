import { defineConfig } from 'vite';

export default defineConfig({
  // The package's worker imports modules, so it must be an ES module worker.
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
