/**
 * The web build's release step (threat T12, docs/release.md), as a Vite plugin:
 * - at config time it reads the release key (TRUSTFLASH_RELEASE_KEY, else the committed demo key)
 *   and the app's version (package.json, and the git commit), and defines `__TRUSTFLASH_RELEASE__`
 *   for the page and the service worker alike (vite-plugin-pwa passes `define` to its build of
 *   the worker), so both pin the release key's SPKI;
 * - once every other step has written dist/ (the service worker included), it lists every file
 *   with its size and SHA-256 in release-manifest.json, signs it detached into
 *   release-manifest.json.sig, and checks what it wrote against the tree.
 * Nothing here reads a clock or an absolute path, and the signature is deterministic, so the
 * same commit builds the same bytes (tests/repro-build.mjs).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin, ResolvedConfig } from 'vite';
import { importSigningKey, type SigningKey } from '../src/core/crypto/private-key.ts';
import { signBytes } from '../src/core/crypto/signature.ts';
import { base64Encode } from '../src/core/crypto/pem.ts';
import { isDemoKeyId } from '../src/core/crypto/demo-keys.ts';
import { keyIdOf } from '../src/core/crypto/keys.ts';
import {
  buildReleaseManifest,
  checkReleaseTree,
  encodeReleaseManifest,
  releaseKeyAlg,
  RELEASE_MANIFEST_PATH,
  RELEASE_SIGNATURE_PATH,
  verifyReleaseManifest,
} from '../src/core/release/manifest.ts';
import type { ReleaseBuildInfo } from '../src/core/release/build-info.ts';

export const DEMO_RELEASE_KEY = 'src/assets/demo-keys/release/key.pem';

/** The commit being built: TRUSTFLASH_COMMIT, else git's HEAD (with "-dirty" when tracked files differ from it), else "unknown". */
function commitOf(root: string): string {
  if (process.env.TRUSTFLASH_COMMIT) return process.env.TRUSTFLASH_COMMIT;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** Every regular file under `dir`, by `/`-separated relative path. A symlink or other special file stops the build. */
function readTree(dir: string, prefix = '', out = new Map<string, Uint8Array>()): Map<string, Uint8Array> {
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) readTree(dir, rel, out);
    else if (e.isFile()) out.set(rel, new Uint8Array(readFileSync(join(dir, rel))));
    else throw new Error(`release manifest: ${rel} in the build output is not a regular file`);
  }
  return out;
}

export function releasePlugin(): Plugin {
  let config: ResolvedConfig;
  let key: SigningKey;
  let info: ReleaseBuildInfo;
  let written = false;
  return {
    name: 'trustflash-release',
    enforce: 'post',
    async config(user) {
      const root = resolve(user.root ?? process.cwd());
      const keyPath = resolve(root, process.env.TRUSTFLASH_RELEASE_KEY || DEMO_RELEASE_KEY);
      const imported = await importSigningKey(readFileSync(keyPath, 'utf8'));
      if (!imported.ok) throw new Error(`release key ${keyPath}: ${imported.reason}`);
      const alg = releaseKeyAlg(imported.value.spki);
      if (!alg.ok) throw new Error(`release key ${keyPath}: ${alg.reason}`);
      key = imported.value;
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
      info = {
        name: 'TrustFlash',
        version: pkg.version,
        commit: commitOf(root),
        keySpki: base64Encode(key.spki),
        demoKey: isDemoKeyId(await keyIdOf(key.spki)),
      };
      return { define: { __TRUSTFLASH_RELEASE__: JSON.stringify(info) } };
    },
    configResolved(resolved) {
      config = resolved;
    },
    // only a build that wrote its bundle gets a signed manifest (closeBundle runs after a failed build too)
    buildStart() {
      written = false;
    },
    writeBundle() {
      written = true;
    },
    // after vite-plugin-pwa's closeBundle (which builds sw.js): this one is ordered 'post'
    closeBundle: {
      order: 'post',
      sequential: true,
      async handler(error?: Error) {
        if (error || !written || config.build.ssr || config.command !== 'build') return;
        const outDir = resolve(config.root, config.build.outDir);
        const files = readTree(outDir);
        files.delete(RELEASE_MANIFEST_PATH);
        files.delete(RELEASE_SIGNATURE_PATH);
        const built = await buildReleaseManifest({ name: info.name, version: info.version, commit: info.commit }, key.spki, files);
        if (!built.ok) throw new Error(`release manifest: ${built.reason}`);
        const bytes = encodeReleaseManifest(built.value);
        const signature = await signBytes(key.alg, key.privateKey, bytes);
        writeFileSync(join(outDir, RELEASE_MANIFEST_PATH), bytes);
        writeFileSync(join(outDir, RELEASE_SIGNATURE_PATH), signature);
        // what was written must verify exactly as the service worker will check it
        const verified = await verifyReleaseManifest(bytes, signature, key.spki);
        if (!verified.ok) throw new Error(`release manifest: ${verified.reason}`);
        const tree = await checkReleaseTree(verified.value.manifest, files);
        if (!tree.ok) throw new Error(`release manifest: ${tree.reason}`);
        config.logger.info(
          `release manifest: ${files.size} files, ${info.name} ${info.version} (${info.commit}), release digest ${verified.value.digest}${info.demoKey ? ', signed with the DEMO release key' : ''}`,
        );
      },
    },
  };
}
