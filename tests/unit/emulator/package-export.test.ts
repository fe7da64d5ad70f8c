/** `trustflash/emulator` as another project imports it: the built Node ES module, through package.json exports. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(() => {
  if (!existsSync('dist-node/emulator.js')) execFileSync('npm', ['run', 'build:node', '--silent'], { stdio: 'pipe' });
}, 120_000);

describe('package export trustflash/emulator', () => {
  it('imports by package name in plain Node and drives a DFU GETSTATUS', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { createEmulatedNic } from 'trustflash/emulator';
      import { makeSamples } from './dist-node/make-samples.js';
      import { mkdtempSync, readFileSync } from 'node:fs';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      const dir = mkdtempSync(join(tmpdir(), 'tf-export-'));
      await makeSamples(dir, { big: false });
      const dev = await createEmulatedNic({ factoryImage: new Uint8Array(readFileSync(join(dir, 'factory.tfw'))), bankSize: 1 << 20 });
      await dev.open();
      await dev.selectConfiguration(1);
      const intf = dev.configuration.interfaces.find((i) => i.alternates.some((a) => a.interfaceClass === 0xfe)).interfaceNumber;
      await dev.claimInterface(intf);
      const r = await dev.controlTransferIn({ requestType: 'class', recipient: 'interface', request: 3, value: 0, index: intf }, 6);
      console.log(JSON.stringify({ vid: dev.vendorId, pid: dev.productId, status: r.status, bState: r.data.getUint8(4) }));
    `]).toString();
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ vid: 0x1209, pid: 0x7a01, status: 'ok', bState: 0 });
  });

  it('the bundle has no node: imports, so it also runs in a page or a Worker', () => {
    const files = ['dist-node/emulator.js', ...readdirSync('dist-node/assets').map((f) => `dist-node/assets/${f}`)];
    const emulator = readFileSync('dist-node/emulator.js', 'utf8');
    const reached = new Set<string>(['dist-node/emulator.js']);
    const queue = [emulator];
    while (queue.length) {
      const src = queue.pop()!;
      for (const m of src.matchAll(/from\s+["']\.\/(?:assets\/)?([^"']+)["']/g)) {
        const f = files.find((x) => x.endsWith(`/${m[1]}`));
        if (f && !reached.has(f)) {
          reached.add(f);
          queue.push(readFileSync(f, 'utf8'));
        }
      }
    }
    for (const f of reached) expect(readFileSync(f, 'utf8'), f).not.toMatch(/from\s+["']node:/);
  });
});
