/**
 * Layering is checked, not hoped for: src/ against the import rules (imports.ts), and a fixture
 * tree that breaks each rule, which the checker must catch (so a checker that finds nothing
 * cannot pass). The core-only type check (tsconfig.core.json: no DOM, no Node types) runs as a
 * gate in npm test.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { checkImports, staleExceptions } from './imports.ts';
import { ROOT } from '../cli/helpers.ts';

describe('layering', () => {
  it('src/ keeps every import rule (core imports only core; the emulator only itself; the device side not the page; the page no wire module)', () => {
    expect(checkImports(ROOT)).toEqual([]);
    expect(staleExceptions(ROOT)).toEqual([]);
  });

  it('a fixture with a forbidden import across each line is rejected, naming the rule', () => {
    const v = checkImports(join(ROOT, 'tests/fixtures/layering'));
    const seen = v.map((x) => `${x.file} → ${x.target}: ${x.rule}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'src/core/bad.ts → src/ui/state/thing.ts: src/core imports only src/core (and its npm packages)',
        'src/core/bad.ts → src/emulator/nic.ts: src/core imports only src/core (and its npm packages)',
        'src/core/bad.ts → src/cli/main.ts: src/core imports only src/core (and its npm packages)',
        'src/core/bad.ts → tests/helper.ts: src never imports from tests/',
        'src/ui/state/thing.ts → src/core/dfu/host.ts: the page (src/ui outside the worker) does not call the wire module src/core/dfu/host.ts',
        "src/ui/state/thing.ts → src/emulator/index.ts: src/ui imports src/ui, src/core and the device side's messages only, not emulator",
        'src/emulator/nic.ts → src/core/image/parse.ts: src/emulator imports only src/emulator (the firmware comes from wasm/, built)',
        'src/cli/reach.ts → src/emulator/nic.ts: the emulator is used through src/emulator/index.ts, src/emulator/faults.ts, src/emulator/persist.ts, not src/emulator/nic.ts',
        // the device side (src/service): the page reaches it through the Worker's messages only
        'src/ui/state/thing.ts → src/service/registry.ts: the page reaches the device side through the Worker\'s messages (src/service/device-protocol.ts, src/service/history-store.ts, src/service/catalog-store.ts; the service itself only from src/ui/state/device-backend.ts), not src/service/registry.ts',
        'src/ui/state/thing.ts → src/service/device-service.ts: the page reaches the device side through the Worker\'s messages (src/service/device-protocol.ts, src/service/history-store.ts, src/service/catalog-store.ts; the service itself only from src/ui/state/device-backend.ts), not src/service/device-service.ts',
        // and it knows nothing of the page, the CLI or Svelte
        "src/service/runner.ts → src/ui/state/thing.ts: src/service imports src/service, src/core and the emulator's entry points, not ui",
        "src/service/runner.ts → src/cli/reach.ts: src/service imports src/service, src/core and the emulator's entry points, not cli",
        'src/service/runner.ts → src/emulator/nic.ts: the emulator is used through src/emulator/index.ts, src/emulator/faults.ts, src/emulator/persist.ts, not src/emulator/nic.ts',
        'src/service/runner.ts → svelte: src/service does not import Svelte',
      ]),
    );
    // a type-only import of a wire module's types is not a call: allowed; so is the service's message module and any of its types
    expect(seen.some((s) => s.includes('src/core/dfu/spec.ts'))).toBe(false);
    expect(v.some((x) => x.target === 'src/service/device-protocol.ts')).toBe(false);
    expect(v.filter((x) => x.target === 'src/service/registry.ts')).toHaveLength(1);
    // the service drives the DFU host: allowed
    expect(seen.some((s) => s.startsWith('src/service/runner.ts → src/core/'))).toBe(false);
    expect(v).toHaveLength(14);
  });
});
