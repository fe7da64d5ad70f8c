/** What names an image in the session's audit log: a v2 image its release digest (from bytes or a file alike), any other its SHA-256. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadImage } from '../../../src/core/update/image-stream.ts';
import { parseImageHead } from '../../../src/core/image/parse.ts';
import { HEAD_MAX } from '../../../src/core/image/layout.ts';
import { sample } from '../emulator/host.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('image names in the audit log', () => {
  for (const file of ['good.tfw', 'tampered-payload.tfw', 'expired.tfw']) {
    it(`${file} (format v2): its release digest, the same from bytes and from a file`, async () => {
      const bytes = await sample(file);
      const head = parseImageHead(bytes.subarray(0, HEAD_MAX), bytes.length);
      if (!head.ok) throw new Error(head.reason);
      const release = sha(bytes.subarray(0, head.value.signedLength));
      expect((await loadImage({ kind: 'image', bytes })).names).toEqual({ releaseDigest: release });
      expect((await loadImage({ kind: 'file', file: new Blob([bytes]) })).names).toEqual({ releaseDigest: release });
    });
  }

  it('factory.tfw (format v1) and bytes that are no image: the SHA-256 of the whole', async () => {
    const v1 = await sample('factory.tfw');
    expect((await loadImage({ kind: 'image', bytes: v1 })).names).toEqual({ sha256: sha(v1) });
    expect((await loadImage({ kind: 'file', file: new Blob([v1]) })).names).toEqual({ sha256: sha(v1) });
    const junk = new TextEncoder().encode('not an image at all');
    expect((await loadImage({ kind: 'image', bytes: junk })).names).toEqual({ sha256: sha(junk) });
  });
});
