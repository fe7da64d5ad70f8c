/**
 * Encrypted private keys, as openssl writes them (`openssl genpkey -aes-256-cbc`, `openssl pkcs8
 * -topk8 -v2 aes-256-cbc`, or traditional `-----BEGIN RSA PRIVATE KEY-----` with `Proc-Type:
 * 4,ENCRYPTED`). Node's crypto decrypts every form openssl writes; the decrypted key goes on as
 * PKCS#8 to the same import as a plain key and is never written anywhere. The passphrase comes
 * from `--passin` in openssl's spelling (`pass:`, `env:`, `file:`, `fd:`, `stdin`), or is asked for
 * on the terminal without echo.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './args.ts';
import { IoError, type Io } from './io.ts';

/** Is this PEM text an encrypted private key? */
export function isEncryptedPem(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

/** The passphrase named by an openssl-style `-passin` argument (openssl-passphrase-options(1)). */
export function passphraseFrom(arg: string, io: Pick<Io, 'cwd'>, env: NodeJS.ProcessEnv = process.env): string {
  const colon = arg.indexOf(':');
  const [kind, rest] = colon < 0 ? [arg, ''] : [arg.slice(0, colon), arg.slice(colon + 1)];
  const firstLine = (text: string) => text.split(/\r?\n/)[0] ?? '';
  switch (kind) {
    case 'pass':
      return rest;
    case 'env': {
      const v = env[rest];
      if (v === undefined) throw new UsageError(`--passin env:${rest}: the environment variable ${rest} is not set`);
      return v;
    }
    case 'file':
      try {
        return firstLine(readFileSync(resolve(io.cwd, rest), 'utf8'));
      } catch (e) {
        throw new IoError(`--passin file:${rest}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      }
    case 'fd': {
      const fd = Number(rest);
      if (!Number.isInteger(fd) || fd < 0) throw new UsageError(`--passin fd:N expects a file descriptor number, got ${JSON.stringify(rest)}`);
      try {
        return firstLine(readFileSync(fd, 'utf8'));
      } catch (e) {
        throw new IoError(`--passin fd:${fd}: ${(e as Error).message}`);
      }
    }
    case 'stdin':
      try {
        return firstLine(readFileSync(0, 'utf8'));
      } catch (e) {
        throw new IoError(`--passin stdin: ${(e as Error).message}`);
      }
    default:
      throw new UsageError(`--passin expects pass:TEXT, env:VAR, file:PATH, fd:N or stdin (as openssl), got ${JSON.stringify(arg)}`);
  }
}

/**
 * PEM text of a key: an encrypted one is decrypted with the passphrase from `passin`, or asked for
 * on the terminal. Returns unencrypted PKCS#8 PEM, or the text unchanged when it was not encrypted.
 */
export async function decryptKeyPem(pem: string, path: string, passin: string | undefined, io: Io): Promise<string> {
  if (!isEncryptedPem(pem)) {
    if (passin !== undefined) io.err(`note: ${path} is not encrypted; --passin is not needed`);
    return pem;
  }
  let pass: string;
  if (passin !== undefined) pass = passphraseFrom(passin, io);
  else if (io.askSecret) pass = await io.askSecret(`Enter pass phrase for ${path}: `);
  else throw new UsageError(`${path} is encrypted: give its passphrase with --passin (pass:TEXT, env:VAR, file:PATH, fd:N or stdin), or run on a terminal to be asked`);
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase: pass }).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (e) {
    // decided by OpenSSL's error code, not its text: a wrong passphrase fails the padding check
    const wrong = (e as { code?: string }).code === 'ERR_OSSL_BAD_DECRYPT';
    throw new IoError(`${path}: cannot decrypt the key: ${wrong ? 'wrong passphrase' : (e as Error).message}`);
  }
}
