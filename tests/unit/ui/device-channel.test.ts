/** One error vocabulary across the Worker boundary: a failure arrives in the page with the code it was born with. */
import { describe, expect, it } from 'vitest';
import { DeviceChannel } from '../../../src/ui/state/device-channel.ts';
import { UpdateError, type UpdateErrorCode } from '../../../src/core/dfu/errors.ts';
import { FakeBackend } from './fake-backend.ts';

describe('DeviceChannel', () => {
  it('rejects with an UpdateError carrying the device side’s code, for every code', async () => {
    const codes: UpdateErrorCode[] = ['InvalidFile', 'InvalidData', 'SignatureInvalid', 'NotSupported', 'Rejected', 'Stalled', 'Read', 'Write', 'TimedOut', 'Busy', 'NotFound', 'PermissionDenied', 'Cancelled', 'DeviceRejected', 'Internal'];
    for (const code of codes) {
      const fake = new FakeBackend();
      const channel = new DeviceChannel(fake);
      fake.reply = (req, f) => f.done(req.id, `it failed (${code})`, code);
      const err = await channel.request({ kind: 'refresh-all' } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpdateError);
      expect((err as UpdateError).code).toBe(code);
      expect((err as UpdateError).message).toBe(`it failed (${code})`);
    }
  });

  it('a failed device side rejects everything in flight as Internal, keeping its sentence', async () => {
    const fake = new FakeBackend();
    const channel = new DeviceChannel(fake);
    const a = channel.request({ kind: 'refresh-all' } as never).catch((e: unknown) => e);
    fake.emit({ kind: 'done', id: -1, error: { code: 'Internal', message: 'the device worker failed: boom' } });
    expect(await a).toMatchObject({ code: 'Internal', message: 'the device worker failed: boom' });
  });

  it('a device rejection keeps its MCC error code across the boundary', async () => {
    const fake = new FakeBackend();
    const channel = new DeviceChannel(fake);
    const a = channel.request({ kind: 'refresh-all' } as never).catch((e: unknown) => e);
    const wire = new UpdateError('DeviceRejected', 'BAD_SIGNATURE (MCC error 0x04)', { mccError: 0x04 }).toWire();
    fake.emit({ kind: 'done', id: -1, error: JSON.parse(JSON.stringify(wire)) });
    const err = (await a) as UpdateError;
    expect(err).toBeInstanceOf(UpdateError);
    expect([err.code, err.mccError, err.message]).toEqual(['DeviceRejected', 0x04, 'BAD_SIGNATURE (MCC error 0x04)']);
    expect(UpdateError.from(new DOMException('x', 'AbortError')).code).toBe('Cancelled');
    expect(UpdateError.from(new Error('boom')).toWire()).toEqual({ code: 'Internal', message: 'boom' });
  });
});
