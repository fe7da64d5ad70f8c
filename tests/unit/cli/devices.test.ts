/** `trustflash devices`: real DFU devices through the usb package, or one plain sentence where there is no USB. */
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/main.ts';
import { nodeIo } from '../../../src/cli/io.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io = { ...nodeIo(), out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
  return { io, out, err };
}

describe('trustflash devices', () => {
  it('lists DFU devices, or says plainly that there is no USB subsystem', async () => {
    const c = capture();
    const code = await run(['devices'], c.io);
    const text = [...c.out, ...c.err].join('\n');
    expect(text).not.toMatch(/\n\s+at /);
    if (code === 0) expect(text.length).toBeGreaterThan(0);
    else {
      expect(code).toBe(2);
      expect(text).toMatch(/no USB subsystem|USB is not available/);
    }
  });
  it('refuses stray arguments', async () => {
    const c = capture();
    expect(await run(['devices', 'extra'], c.io)).toBe(2);
  });
});
