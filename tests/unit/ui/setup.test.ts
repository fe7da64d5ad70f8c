/** SetupState: nothing is verified against a half-loaded trust store (a race the browser tests found). */
import { describe, expect, it } from 'vitest';
import { SetupState } from '../../../src/ui/state/setup.svelte.ts';

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
