/**
 * The import rules between the project's layers (DESIGN.md "Architecture", issue #11), checked on
 * the source text: every static `import … from`, `export … from` and dynamic `import()` of a
 * relative path is resolved and judged. Not a test file itself; layering.test.ts runs it on src/
 * and on a fixture tree that breaks every rule once.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface Violation {
  readonly file: string;
  readonly target: string;
  readonly rule: string;
}

/** Where a file lives, as the rules name it. */
function layerOf(rel: string): string {
  const p = rel.split(sep).join('/');
  if (p.startsWith('src/core/')) return 'core';
  if (p.startsWith('src/emulator/')) return 'emulator';
  if (p.startsWith('src/gadget/')) return 'gadget';
  if (p.startsWith('src/cli/')) return 'cli';
  if (p.startsWith('src/assets/')) return 'assets';
  if (p.startsWith('src/service/')) return 'service';
  if (p.startsWith('src/sw/')) return 'sw';
  if (p.startsWith('src/ui/worker/')) return 'ui-worker';
  if (p.startsWith('src/ui/')) return 'ui';
  if (p === 'src/main.ts') return 'ui';
  if (p.startsWith('tests/')) return 'tests';
  if (p.startsWith('wasm/')) return 'wasm';
  return 'other';
}

/** The DFU host and the vendor protocol's wire modules: the page's state and components never call them. */
const WIRE = ['src/core/dfu/host.ts', 'src/core/dfu/reconnect.ts', 'src/core/dfu/record.ts', 'src/core/dfu/spec.ts', 'src/core/update/nic-client.ts', 'src/core/update/session.ts'];

/**
 * What the page (src/ui outside the Worker entry files) may use of the device side at run time: its
 * message types' constants, the history store it reads itself and the release catalog's store. The device service itself is
 * loaded only by the real-USB backend (USBDevice objects cannot move to a Worker). Type-only
 * imports of src/service are not calls and are allowed anywhere in src/ui.
 */
const SERVICE_FOR_PAGE = ['src/service/device-protocol.ts', 'src/service/history-store.ts', 'src/service/catalog-store.ts'];
const REAL_USB_BACKEND = { file: 'src/ui/state/device-backend.ts', reaches: 'src/service/device-service.ts' };

/**
 * Known exceptions, each a file and the layer it reaches, to be removed by the rest of issue #11. A
 * stale entry (no longer needed) fails the test too, so this list only shrinks.
 */
export const EXCEPTIONS: readonly { file: string; reaches: string }[] = [];

type Rule = (from: string, to: string, toRel: string, typeOnly: boolean, fromRel: string) => string | undefined;

/**
 * The emulator's public surface for everything outside it (and its gadget): the package entry
 * point, plus the two light modules that parse a fault or a saved state without loading the
 * firmware (the page parses those before it loads the emulator).
 */
const EMULATOR_ENTRY = ['src/emulator/index.ts', 'src/emulator/faults.ts', 'src/emulator/persist.ts'];
const throughEntry = (to: string, toRel: string) => (to === 'emulator' && !EMULATOR_ENTRY.includes(toRel) ? `the emulator is used through ${EMULATOR_ENTRY.join(', ')}, not ${toRel}` : undefined);

const RULES: Record<string, Rule> = {
  // core runs in the page, a Worker and Node: it imports nothing above it
  core: (_f, to) => (to === 'core' ? undefined : 'src/core imports only src/core (and its npm packages)'),
  // the device model shares no code with the host: a host bug must not become a device bug
  emulator: (_f, to) => (to === 'emulator' ? undefined : 'src/emulator imports only src/emulator (the firmware comes from wasm/, built)'),
  gadget: (_f, to, toRel) => (to === 'gadget' || to === 'emulator' || toRel.startsWith('src/core/bytes/') ? undefined : 'src/gadget imports src/gadget, src/emulator and src/core/bytes only'),
  // the page renders state and sends intents; wire bytes are the device side's
  ui: (_f, to, toRel, typeOnly, fromRel) => {
    if (to === 'ui' || to === 'ui-worker') return undefined;
    if (to === 'core') return !typeOnly && WIRE.includes(toRel) ? `the page (src/ui outside the worker) does not call the wire module ${toRel}` : undefined;
    if (to === 'service') {
      if (typeOnly || SERVICE_FOR_PAGE.includes(toRel)) return undefined;
      if (fromRel === REAL_USB_BACKEND.file && toRel === REAL_USB_BACKEND.reaches) return undefined;
      return `the page reaches the device side through the Worker's messages (${SERVICE_FOR_PAGE.join(', ')}; the service itself only from ${REAL_USB_BACKEND.file}), not ${toRel}`;
    }
    return `src/ui imports src/ui, src/core and the device side's messages only, not ${to}`;
  },
  // the Worker entry files: the device service (device-worker.ts) and the verifier (verify-worker.ts)
  'ui-worker': (_f, to) => (to === 'ui-worker' || to === 'ui' || to === 'core' || to === 'service' ? undefined : `the Worker entry files import core and the device service, not ${to}`),
  // the device side: it drives the DFU host (core) and the emulator; it knows nothing of the page
  service: (_f, to, toRel) => (to === 'service' || to === 'core' || to === 'emulator' ? throughEntry(to, toRel) : `src/service imports src/service, src/core and the emulator's entry points, not ${to}`),
  // the service worker (T12) verifies the app's release with core alone, before anything of the page runs
  sw: (_f, to) => (to === 'sw' || to === 'core' ? undefined : `src/sw imports only src/sw and src/core, not ${to}`),
  cli: (_f, to, toRel) => (to === 'ui' || to === 'ui-worker' || to === 'tests' ? `src/cli does not import ${to}` : throughEntry(to, toRel)),
};

const IMPORT = /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'generated' && name !== 'node_modules') yield* sourceFiles(p);
    } else if (/\.(ts|svelte)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

/** Every rule broken under `root` (a checkout, or a fixture tree with the same layout). */
export function checkImports(root: string): Violation[] {
  const out: Violation[] = [];
  for (const file of sourceFiles(join(root, 'src'))) {
    const rel = relative(root, file).split(sep).join('/');
    const from = layerOf(rel);
    const rule = RULES[from];
    if (!rule) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[3] ?? m[4]!;
      // the device side runs in a Worker and in Node tests: no Svelte, no component
      if (from === 'service' && /^svelte(\/|$)/.test(spec)) {
        out.push({ file: rel, target: spec, rule: 'src/service does not import Svelte' });
        continue;
      }
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = relative(root, resolve(dirname(file), spec.replace(/\?.*$/, ''))).split(sep).join('/');
      const to = layerOf(target);
      // src/assets holds data (the demo key set), no code: the app, the CLI and the tests read it
      if (to === 'assets' && from !== 'core' && from !== 'emulator') continue;
      const why = to === 'tests' && from !== 'cli' ? 'src never imports from tests/' : rule(from, to, target, !!m[2], rel);
      if (why && !EXCEPTIONS.some((e) => e.file === rel && e.reaches === to)) out.push({ file: rel, target, rule: why });
    }
  }
  return out;
}

/** Exceptions no file needs any more. */
export function staleExceptions(root: string): string[] {
  const stale: string[] = [];
  for (const e of EXCEPTIONS) {
    const text = readFileSync(join(root, e.file), 'utf8');
    const reaches = [...text.matchAll(IMPORT)].some((m) => {
      const spec = m[3] ?? m[4]!;
      return spec.startsWith('.') && layerOf(relative(root, resolve(dirname(join(root, e.file)), spec.replace(/\?.*$/, ''))).split(sep).join('/')) === e.reaches;
    });
    if (!reaches) stale.push(`${e.file} → ${e.reaches}`);
  }
  return stale;
}
