/** The page's production-mode setting: remembered in its own record, failing closed when unreadable, off only when asked. */
import { describe, expect, it } from 'vitest';
import { SetupState, TRUST_KEY } from '../../../src/ui/state/setup.svelte.ts';
import { PRODUCTION_KEY } from '../../../src/ui/state/trust-memory.ts';

const memory = () => {
  const m = new Map<string, string>();
  return { m, store: { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) } };
};
const noFetch = async () => '';

describe('SetupState: production mode', () => {
  it('is off by default, and on or off survives a new page (a reload) in a versioned record of its own', () => {
    const { m, store } = memory();
    const a = new SetupState(noFetch, store);
    expect(a.production).toBe(false);
    a.setProduction(true);
    expect(JSON.parse(m.get(PRODUCTION_KEY)!)).toEqual({ version: 1, production: true });
    expect(m.has(TRUST_KEY)).toBe(false); // the trust store's record is untouched
    expect(new SetupState(noFetch, store).production).toBe(true);
    a.setProduction(false);
    expect(new SetupState(noFetch, store).production).toBe(false);
  });

  it('an unreadable remembered value turns production mode on and says so (fail closed)', () => {
    for (const bad of ['{', '{"version":2,"production":false}', '{"version":1,"production":"no"}', 'null']) {
      const { m, store } = memory();
      m.set(PRODUCTION_KEY, bad);
      const s = new SetupState(noFetch, store);
      expect(s.production, bad).toBe(true);
      expect(s.productionNote).toMatch(/could not be read .*production mode is on until you turn it off/);
    }
  });

  it('storage that refuses writes keeps the setting for this page and says it is not remembered', () => {
    const s = new SetupState(noFetch, { getItem: () => null, setItem: () => { throw new Error('quota exceeded'); } });
    s.setProduction(true);
    expect(s.production).toBe(true);
    expect(s.productionNote).toMatch(/could not be remembered \(quota exceeded\)/);
  });
});
