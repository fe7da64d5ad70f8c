/** SetupState: nothing is verified against a half-loaded trust store (a race the browser tests found). */
import { describe, expect, it } from 'vitest';
import { SetupState, TRUST_KEY } from '../../../src/ui/state/setup.svelte.ts';

describe('SetupState', () => {
  it('whenReady resolves only once the trust root and device identity are in; the samples appear with them', async () => {
    const files: Record<string, string> = {
      'samples/index.json': JSON.stringify({ trust: 'root.pem', device: 'device.json', samples: [{ file: 'good.tfw', title: 'Good', description: '', expect: { verdict: 'accept' }, kind: 'image' }] }),
      'samples/root.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      'samples/device.json': JSON.stringify({ psid: 'TF_0000000001' }),
    };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const setup = new SetupState(async (url) => {
      if (url.endsWith('root.pem')) await gate; // the trust root arrives late
      return files[url]!;
    });
    void setup.load();
    let ready = false;
    const waiting = setup.whenReady().then(() => (ready = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(ready).toBe(false);
    expect(setup.samples).toEqual([]); // no sample button to click yet
    expect(setup.trust).toEqual([]);
    release();
    await waiting;
    expect(setup.trust.map((t) => t.name)).toEqual(['root.pem (demo root)']);
    expect(setup.device?.psid).toBe('TF_0000000001');
    expect(setup.samples.length).toBe(1);
  });
});

describe('SetupState: the trust store is remembered', () => {
  const memory = () => {
    const m = new Map<string, string>();
    return { m, store: { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) } };
  };
  const noFetch = async () => '';

  it('vendor roots and the demo-root choice survive a new page (a reload), in a versioned record', () => {
    const { m, store } = memory();
    const a = new SetupState(noFetch, store);
    a.addTrust({ name: 'vendor.pem', text: 'PEM A' });
    a.addTrust({ name: 'other.pem', text: 'PEM B' });
    a.removeTrust('other.pem');
    a.setUseDemoRoot(false);
    expect(JSON.parse(m.get(TRUST_KEY)!)).toEqual({ version: 1, useDemoRoot: false, roots: [{ name: 'vendor.pem', text: 'PEM A' }] });
    const b = new SetupState(noFetch, store);
    expect(b.extraTrust).toEqual([{ name: 'vendor.pem', text: 'PEM A' }]);
    expect(b.useDemoRoot).toBe(false);
    expect(b.trustNote).toBe('Remembered on this computer: vendor.pem.');
  });

  it('an unreadable or unknown record is set aside with a message, never half-read', () => {
    for (const bad of ['not json', JSON.stringify({ version: 2, useDemoRoot: true, roots: [] }), JSON.stringify({ version: 1, useDemoRoot: 'yes', roots: [] }), JSON.stringify({ version: 1, useDemoRoot: true, roots: [{ name: 1 }] })]) {
      const { m, store } = memory();
      m.set(TRUST_KEY, bad);
      const s = new SetupState(noFetch, store);
      expect(s.extraTrust).toEqual([]);
      expect(s.useDemoRoot).toBe(true);
      expect(s.trustNote).toMatch(/could not be read .* set aside/);
      expect(m.get(`${TRUST_KEY}.unreadable`)).toBe(bad);
    }
  });

  it('storage that throws (private mode, quota) leaves the page working and says the store is not remembered', () => {
    const s = new SetupState(noFetch, { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('quota'); } });
    s.addTrust({ name: 'x.pem', text: 'X' });
    expect(s.extraTrust.length).toBe(1);
    expect(s.trustNote).toMatch(/could not be remembered \(quota\)/);
  });
});
