/**
 * The Node build: the `trustflash` CLI as an ES module in dist-node/ (dependencies stay external,
 * resolved from node_modules at run time). `npm run build` runs this after the web build.
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  // public/ (the web app's static files and the 33 MB of samples) is not part of the Node build
  publicDir: false,
  // the bin (`npx trustflash` from a clone runs the file itself): executable, as npm makes an installed bin
  plugins: [{ name: 'executable-bin', writeBundle: (o) => chmodSync(join(o.dir ?? 'dist-node', 'trustflash.js'), 0o755) }],
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'dist-node',
    emptyOutDir: true,
    sourcemap: false,
    minify: false,
    rollupOptions: {
      input: { trustflash: 'src/cli/bin.ts', emulator: 'src/emulator/index.ts', 'make-samples': 'src/cli/make-samples.ts', bench: 'bench/run.ts' },
      output: { format: 'es', entryFileNames: '[name].js', banner: (chunk) => (chunk.name === 'trustflash' ? '#!/usr/bin/env node' : '') },
    },
  },
});
