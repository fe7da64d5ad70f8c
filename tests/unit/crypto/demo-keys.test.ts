/** Every committed demo key is flagged as a demo key, by key id, and nothing else is. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_KEY_IDS, isDemoKeyId } from '../../../src/core/crypto/demo-keys.ts';
import { keyIdOf } from '../../../src/core/crypto/keys.ts';
import { parsePem } from '../../../src/core/crypto/pem.ts';
import { toHex } from '../../../src/core/bytes/hex.ts';
import { KEYS_DIR } from '../helpers/demo.ts';

describe('demo keys', () => {
  it('the list of demo key ids is exactly the committed key set', async () => {
    const dirs = readdirSync(KEYS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(dirs.length).toBeGreaterThanOrEqual(6);
    const ids = new Set<string>();
    for (const d of dirs) {
      const spki = parsePem(readFileSync(join(KEYS_DIR, d, 'pubkey.pem'), 'utf8')).blocks[0]!.der;
      const id = await keyIdOf(spki);
      expect(isDemoKeyId(id), `${d} is not flagged as a demo key`).toBe(true);
      ids.add(toHex(id));
    }
    expect([...DEMO_KEY_IDS].sort()).toEqual([...ids].sort());
    expect(isDemoKeyId(new Uint8Array(32))).toBe(false);
  });
});
