/** The executable: `trustflash …` (built to dist-node/trustflash.js). */
import { run } from './main.ts';
import { nodeIo } from './io.ts';
import { escapeControls } from '../core/bytes/safe-text.ts';

run(process.argv.slice(2), nodeIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`trustflash: internal error: ${escapeControls((e as Error).message)}\n`);
    process.exitCode = 2;
  },
);
