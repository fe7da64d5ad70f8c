/** One timer for a device's deadlines: each operation gets its own full deadline, whatever ran before it. */
import { describe, expect, it } from 'vitest';
import { Deadlines, UpdateError } from '../../../src/core/dfu/errors.ts';

const after = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));
const never = () => new Promise<never>(() => {});

describe('Deadlines', () => {
  it('answers within the deadline pass through, values and errors alike', async () => {
    const d = new Deadlines();
    expect(await d.run(200, 'a', () => after(5, 'one'))).toBe('one');
    await expect(d.run(200, 'b', () => Promise.reject(new Error('stall')))).rejects.toThrow('stall');
    await expect(d.run(200, 'c', () => { throw new Error('sync'); })).rejects.toThrow('sync');
  });

  it('an operation started late in the timer period still gets its whole deadline', async () => {
    const d = new Deadlines();
    for (let i = 0; i < 4; i++) await d.run(120, `quick ${i}`, () => after(20, i));
    const t0 = performance.now();
    const err = (await d.run(120, 'reading the status', never).catch((e: unknown) => e)) as UpdateError;
    const waited = performance.now() - t0;
    expect(err).toBeInstanceOf(UpdateError);
    expect(err.code).toBe('TimedOut');
    expect(err.message).toBe('reading the status: no answer within 120 ms (the device may be wedged; reconnect it)');
    expect(waited).toBeGreaterThanOrEqual(115);
  });

  it('of operations pending together, only the overdue ones fail', async () => {
    const d = new Deadlines();
    const slow = d.run(400, 'slow', () => after(150, 'done'));
    const stuck = d.run(60, 'stuck', never).catch((e: UpdateError) => e.code);
    const stuckLater = d.run(100, 'stuck later', never).catch((e: UpdateError) => e.message);
    expect(await stuck).toBe('TimedOut');
    expect(await stuckLater).toMatch(/^stuck later: no answer within 100 ms/);
    expect(await slow).toBe('done');
  });

  it('holds a Node process open while an operation is pending, and not after', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const d = new Deadlines();
    let during = 0;
    await d.run(30000, 'x', async () => {
      during = timers();
    });
    expect(during).toBe(before + 1);
    expect(timers()).toBe(before);
    // armed again for the next operation, then let go again
    await d.run(30000, 'y', async () => {
      during = timers();
    });
    expect(during).toBe(before + 1);
    expect(timers()).toBe(before);
  });
});
