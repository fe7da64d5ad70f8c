/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { releasePlugin } from './scripts/release-plugin.ts';

/**
 * Strict Content-Security-Policy, sent by `vite preview` as a header and also set by index.html's
 * meta tag (for any static host). 'wasm-unsafe-eval' lets hash-wasm compile its WebAssembly; no
 * inline script, no eval, no network beyond this origin.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** frame-ancestors is ignored in a meta tag (CSP3 §6.1.2), so the meta copy leaves it out. */
const cspMeta = CSP.split('; ').filter((d) => !d.startsWith('frame-ancestors')).join('; ');

export default defineConfig({
  plugins: [
    { name: 'trustflash-csp', transformIndexHtml: (html) => html.replace('%TRUSTFLASH_CSP%', cspMeta) },
    svelte(),
    VitePWA({
      registerType: 'prompt',
      injectRegister: false,
      includeAssets: ['icon.svg'],
      manifest: {
        name: 'TrustFlash secure firmware updater',
        short_name: 'TrustFlash',
        description: 'Verify signed firmware and update devices over WebUSB DFU, offline.',
        start_url: '.',
        display: 'standalone',
        background_color: '#0f172a',
        theme_color: '#1e3a8a',
        icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      // T12 (docs/release.md): our own worker, src/sw/sw.ts, instead of a generated one, because it
      // must verify the signed release manifest and every file before it caches anything. The same
      // files are precached as before (the big sample is not); the worker claims clients itself.
      strategies: 'injectManifest',
      srcDir: 'src/sw',
      filename: 'sw.ts',
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,wasm}', 'samples/*.{tfw,pem,json}'],
        globIgnores: ['samples/big-*'],
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
        rollupFormat: 'iife',
      },
      devOptions: { enabled: false },
    }),
    // after the worker is built: writes and signs dist/release-manifest.json; pins the release key (define)
    releasePlugin(),
  ],
  build: { target: 'es2022', sourcemap: false },
  worker: { format: 'es' },
  server: { headers: securityHeaders },
  preview: { port: 4173, strictPort: true, headers: securityHeaders },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
