/**
 * Every command's flags, declared once: the parser takes its spec from here (so `--help` can never
 * list a flag the command does not take, or miss one it does), and `trustflash CMD --help` prints
 * the synopsis, what the command does, each flag and the exit status, as dfu-util, openssl and
 * imgtool users expect.
 */
import type { FlagSpec } from './args.ts';

export interface FlagHelp {
  readonly kind: 'string' | 'boolean' | 'list';
  /** The value's placeholder in help ("FILE", "ISO-8601"). */
  readonly value?: string;
  readonly help: string;
}

export interface CommandHelp {
  /** "verify", or "emulator init" for a subcommand. */
  readonly name: string;
  readonly synopsis: readonly string[];
  readonly about: string;
  readonly flags: Readonly<Record<string, FlagHelp>>;
  readonly exit?: string;
  readonly examples?: readonly string[];
}

const json: FlagHelp = { kind: 'boolean', help: 'write only JSON to stdout (notes go to stderr); no progress bar' };
const quiet: FlagHelp = { kind: 'boolean', help: 'no progress bar and no step-by-step lines; the result is still printed' };
const trust: FlagHelp = { kind: 'list', value: 'ROOT.pem', help: 'a vendor root certificate or public key (PEM) to trust; repeatable' };
const crl: FlagHelp = { kind: 'list', value: 'CRL', help: 'a certificate revocation list (PEM or DER, from openssl ca -gencrl or trustflash crl) issued by a vendor root or intermediate: a revoked signer or intermediate fails the chain check, and an expired or unverifiable CRL of an issuer on the chain fails it too; repeatable' };
const now: FlagHelp = { kind: 'string', value: 'ISO-8601', help: 'check certificates and expiry at this time instead of the clock (an override: the report and the audit log say so)' };
const production: FlagHelp = { kind: 'boolean', help: 'production mode: DEMO keys, development images, final images and check overrides (--now) are refused, not noticed; the report says production mode is on' };
const passin: FlagHelp = { kind: 'string', value: 'SRC', help: 'passphrase of an encrypted --key, as openssl spells it: pass:TEXT, env:VAR, file:PATH, fd:N or stdin; without it an encrypted key is asked for on the terminal' };
const state: FlagHelp = { kind: 'string', value: 'S', help: 'the emulated NIC\'s state file (its flash and fuses)' };
const emulated: FlagHelp = { kind: 'boolean', help: 'talk to the emulated NIC in --state S' };
const usb: FlagHelp = { kind: 'string', value: 'VID:PID[:SERIAL]', help: 'talk to a real USB device (see trustflash devices)' };
const fault: FlagHelp = { kind: 'list', value: 'KIND', help: 'inject a fault into the emulated NIC: power-loss:STATE|block=N|flash-op=N, flash-error[:erase], disconnect:block=N, slow, locked-by-other, handle-timeout; repeatable' };
const catalog: FlagHelp = { kind: 'string', value: 'CATALOG', help: 'the vendor-signed release catalog (docs/catalog.md; DER or PEM CMS): adds the catalog check (listed with its release digest, not withdrawn, current or accepted, catalog not expired or rolled back); without it that check is skipped' };
const stateDir: FlagHelp = { kind: 'string', value: 'DIR', help: 'where the highest catalog sequence seen is kept, per vendor root and PSID, so a rolled-back catalog is refused (default $XDG_STATE_HOME/trustflash, else ~/.local/state/trustflash)' };
const bundle: FlagHelp = { kind: 'string', value: 'BUNDLE.json', help: 'a trust bundle from the administrator (docs/catalog.md): its roots and CRLs are trusted as --trust and --crl files are, and its catalog is used unless --catalog is given' };
const force: FlagHelp = { kind: 'boolean', help: 'replace files that already exist' };
const deviceCa: FlagHelp = { kind: 'list', value: 'CA.pem', help: 'a device CA certificate the device\'s receipt must chain to; repeatable (default: the device CAs of --bundle; with --emulated and neither, the DEMO device CA that certifies the NICs this program makes)' };
const keyFlags = {
  key: { kind: 'string', value: 'KEY.pem', help: 'the signing private key (PKCS#8 or traditional PEM, as openssl writes it; encrypted keys need --passin or a terminal)' },
  passin,
  cert: { kind: 'string', value: 'CERT.pem', help: 'the signer certificate, carried in the output so a verifier can chain it to a vendor root' },
  chain: { kind: 'list', value: 'CA.pem', help: 'intermediate certificates to carry; repeatable' },
  o: { kind: 'string', value: 'OUT', help: 'where to write the result' },
  out: { kind: 'string', value: 'OUT', help: 'same as -o' },
  cms: { kind: 'boolean', help: 'sign as CMS SignedData (openssl cms -sign compatible) instead of a raw signature' },
} as const satisfies Record<string, FlagHelp>;

export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'keygen',
    synopsis: ['trustflash keygen --out DIR [--cn NAME] [--org ORG] [--ca] [--ca-key K.pem --ca-cert C.pem [--passin SRC]] [--days N] [--not-before ISO] [--path-len N] [--force]'],
    about: 'Makes an RSA-2048 key (DIR/key.pem, PKCS#8), its certificate (DIR/cert.pem) and public key (DIR/pubkey.pem): a root with --ca, an intermediate with --ca and --ca-key/--ca-cert, a code-signing signer with --ca-key/--ca-cert, or a self-signed signer.',
    flags: {
      out: { kind: 'string', value: 'DIR', help: 'folder for key.pem, cert.pem and pubkey.pem' },
      cn: { kind: 'string', value: 'NAME', help: 'certificate common name' },
      org: { kind: 'string', value: 'ORG', help: 'certificate organisation' },
      ca: { kind: 'boolean', help: 'make a CA (root, or intermediate with --ca-key)' },
      'ca-key': { kind: 'string', value: 'K.pem', help: 'the issuing CA\'s private key' },
      'ca-cert': { kind: 'string', value: 'C.pem', help: 'the issuing CA\'s certificate' },
      days: { kind: 'string', value: 'N', help: 'validity in days (default 3650)' },
      'not-before': { kind: 'string', value: 'ISO-8601', help: 'start of validity (default: a minute ago)' },
      'path-len': { kind: 'string', value: 'N', help: 'basicConstraints pathLen of a CA, 0..8' },
      passin: { ...passin, help: 'passphrase of an encrypted --ca-key (pass:TEXT, env:VAR, file:PATH, fd:N or stdin)' },
      force,
    },
    examples: ['trustflash keygen --out vendor-root --ca --cn "Example Root CA"', 'trustflash keygen --out signer --ca-key vendor-root/key.pem --ca-cert vendor-root/cert.pem'],
  },
  {
    name: 'crl',
    synopsis: ['trustflash crl --ca-key K.pem --ca-cert C.pem [--passin SRC] --crl-number N [--revoke CERT.pem|SERIAL[:REASON[:DATE]] ...] [--this-update ISO] [--next-update ISO | --days N] --out FILE [--der] [--force]'],
    about: 'Issues a complete v2 certificate revocation list signed by a CA (openssl ca -gencrl compatible), to load next to the vendor root with --crl or in the page. The same inputs and dates give the same bytes.',
    flags: {
      'ca-key': { kind: 'string', value: 'K.pem', help: 'the issuing CA\'s private key' },
      'ca-cert': { kind: 'string', value: 'C.pem', help: 'the issuing CA\'s certificate (a root or an intermediate; its keyUsage must allow cRLSign)' },
      passin: { ...passin, help: 'passphrase of an encrypted --ca-key (pass:TEXT, env:VAR, file:PATH, fd:N or stdin)' },
      revoke: { kind: 'list', value: 'WHAT', help: 'a certificate to revoke: its PEM file, or its serial (0xHEX or decimal), optionally :REASON (keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise, unspecified) and :DATE of revocation (ISO-8601, default --this-update); repeatable' },
      'crl-number': { kind: 'string', value: 'N', help: 'the CRL number (RFC 5280 §5.2.3): each new CRL of a CA needs a higher one; the highest loaded wins' },
      'this-update': { kind: 'string', value: 'ISO-8601', help: 'issue time (default: now, to the second)' },
      'next-update': { kind: 'string', value: 'ISO-8601', help: 'when the next CRL is due; after it, verifiers fail chains through this CA until they get a newer CRL' },
      days: { kind: 'string', value: 'N', help: 'next update N days after --this-update (default 30)' },
      out: { kind: 'string', value: 'FILE', help: 'where to write the CRL' },
      pem: { kind: 'boolean', help: 'write PEM ("X509 CRL"; the default)' },
      der: { kind: 'boolean', help: 'write DER' },
      force,
    },
    examples: ['trustflash crl --ca-key vendor-root/key.pem --ca-cert vendor-root/cert.pem --crl-number 2 --revoke signer/cert.pem:keyCompromise --days 30 --out vendor-root.crl'],
  },
  {
    name: 'sign',
    synopsis: [
      'trustflash sign --key K.pem [--passin SRC] [--cert C.pem [--chain I.pem ...]] [--cms] [--final-image] [--other-target] [--production] [--format 1|2] [--block-size BYTES] --manifest M.json --payload FW.bin -o OUT',
      'trustflash sign --prepare HEAD.bin [--final-image] [--production] [--format 1|2] [--block-size BYTES] --manifest M.json --payload FW.bin',
      'trustflash sign --attach SIG (--cert C.pem [--chain I.pem ...] [--cms] | --pubkey PUB.pem) [--final-image] [--other-target] [--production] [--format 1|2] [--block-size BYTES] --manifest M.json --payload FW.bin -o OUT',
    ],
    about: 'Signs a payload into a TrustFlash image: the manifest (docs/image-format.md) and the payload\'s size and the SHA-256 of each hash block (format 2; format 1: of the whole payload), signed with --key, carrying --cert and --chain. With the key in an HSM or a KMS: --prepare writes the bytes to sign, and --attach, run with the same --manifest, --payload and format flags, builds the same image from the signature made there.',
    flags: {
      ...keyFlags,
      manifest: { kind: 'string', value: 'M.json', help: 'the manifest (JSON; field names in docs/image-format.md)' },
      payload: { kind: 'string', value: 'FW.bin', help: 'the firmware payload' },
      'final-image': { kind: 'boolean', help: 'allow an image after which the device can verify no further update (a deliberate last image): it is marked as such, signed' },
      'other-target': { kind: 'boolean', help: 'sign even when verify (certificate rules) or this NIC family (RSA-2048 keys only) would refuse the result, for a target with other rules; each problem is printed as a warning' },
      format: { kind: 'string', value: '1|2', help: 'the image format: 2 (default) signs a table of hash-block digests; 1 signs one SHA-256 of the whole payload, for devices that predate format 2' },
      'block-size': { kind: 'string', value: 'BYTES', help: 'format 2: the hash-block size, a power of two from 4096 to 16777216 (default 1048576); at most 2048 blocks per payload' },
      prepare: { kind: 'string', value: 'HEAD.bin', help: 'write exactly the bytes to be signed (header and manifest) to HEAD.bin and their SHA-256 (32 bytes) to HEAD.bin.sha256, without any key; the same inputs give the same bytes' },
      attach: { kind: 'string', value: 'SIG', help: 'build the image from a signature made elsewhere over the --prepare bytes: raw (openssl pkeyutl -sign -pkeyopt digest:sha256 over HEAD.bin.sha256, or openssl dgst -sha256 -sign over HEAD.bin), or with --cms a DER CMS SignedData (openssl cms -sign -binary -outform DER); it must verify with --cert or --pubkey before anything is written' },
      pubkey: { kind: 'string', value: 'PUB.pem', help: 'with --attach instead of --cert: the signer\'s public key (the image then carries no certificate)' },
      production,
    },
    examples: [
      'trustflash sign --key signer/key.pem --cert signer/cert.pem --manifest manifest.json --payload fw.bin -o fw.tfw',
      'trustflash sign --prepare fw.head --manifest manifest.json --payload fw.bin',
      'openssl pkeyutl -sign -inkey signer/key.pem -pkeyopt digest:sha256 -in fw.head.sha256 -out fw.sig',
      'trustflash sign --attach fw.sig --cert signer/cert.pem --manifest manifest.json --payload fw.bin -o fw.tfw',
    ],
  },
  {
    name: 'sign-detached',
    synopsis: ['trustflash sign-detached FW.bin --key K.pem [--passin SRC] [--cert C.pem [--chain I.pem ...]] [--cms] -o OUT.sig|OUT.p7s'],
    about: 'A detached signature over any file, for generic DFU devices: raw (openssl dgst -sha256 -sign compatible) or CMS (openssl cms -sign -binary compatible).',
    flags: keyFlags,
  },
  {
    name: 'inspect',
    synopsis: ['trustflash inspect FILE [--json]'],
    about: 'Shows an image\'s layout, manifest, signature block and certificates WITHOUT verifying anything (use verify for that).',
    flags: { json },
  },
  {
    name: 'verify',
    synopsis: ['trustflash verify FILE (--trust ROOT.pem [--trust ...] | --bundle BUNDLE.json) [--crl CRL ...] [--catalog CATALOG [--state-dir DIR]] [--device DEVICE.json] [--now ISO-8601 | --production] [--json] [--quiet]', 'trustflash verify FW.bin --sig FW.sig|FW.p7s --cert SIGNER.pem [--cert ...] --trust ROOT.pem [--crl CRL ...] [--now ISO-8601 | --production] [--json]'],
    about: 'Runs every pre-flight check on an image (or a file and its detached signature) and prints each check with pass, fail or skipped and why.',
    flags: {
      trust,
      crl,
      bundle,
      catalog,
      'state-dir': stateDir,
      device: { kind: 'string', value: 'DEVICE.json', help: 'the target device\'s identity (psid, deviceId, version, securityVersion, forbiddenVersions); without it device checks are skipped' },
      now,
      production,
      json,
      quiet,
      sig: { kind: 'string', value: 'FW.sig|FW.p7s', help: 'a detached signature to verify FILE with' },
      cert: { kind: 'list', value: 'SIGNER.pem', help: 'certificates for a detached signature; repeatable' },
    },
    exit: '0 accepted, 1 rejected (the failing check is named), 2 usage or I/O error',
  },
  {
    name: 'catalog sign',
    synopsis: ['trustflash catalog sign CATALOG.json --key K.pem [--passin SRC] --cert C.pem [--chain I.pem ...] -o OUT [--pem] [--force]'],
    about: 'Signs a release catalog (docs/catalog.md): the JSON exactly as written, after checking it against the schema, into a CMS SignedData with the content inside (openssl cms -sign -nodetach -binary compatible). DER unless --pem.',
    flags: {
      key: keyFlags.key,
      passin,
      cert: { kind: 'string', value: 'CERT.pem', help: 'the catalog signer\'s certificate (code-signing EKU, issued under the vendor root), carried in the catalog' },
      chain: keyFlags.chain,
      o: keyFlags.o,
      out: keyFlags.out,
      pem: { kind: 'boolean', help: 'write PEM ("CMS") instead of DER' },
      force,
    },
    examples: ['trustflash catalog sign catalog.json --key signer/key.pem --cert signer/cert.pem -o catalog.cms'],
  },
  {
    name: 'catalog inspect',
    synopsis: ['trustflash catalog inspect CATALOG [--json]'],
    about: 'Shows a release catalog\'s fields and signer WITHOUT verifying anything (use catalog verify for that).',
    flags: { json },
  },
  {
    name: 'catalog verify',
    synopsis: ['trustflash catalog verify CATALOG (--trust ROOT.pem | --bundle BUNDLE.json) [--crl CRL ...] [--state-dir DIR] [--now ISO-8601 | --production] [--json]'],
    about: 'Checks a release catalog: its signature and the signer\'s chain to a trusted root (with CRLs), its schema, that it is valid now, and that its sequence is not below the highest seen for its products (which it then records); in production mode a catalog signed under a DEMO key is refused.',
    flags: { trust, crl, bundle: { ...bundle, help: 'a trust bundle from the administrator (docs/catalog.md): its roots and CRLs are trusted as --trust and --crl files are (the catalog checked is CATALOG, not the bundle\'s)' }, 'state-dir': stateDir, now, production, json },
    exit: '0 valid, 1 refused (signature, chain, schema, expired, not yet valid or rolled back), 2 usage or I/O error (a corrupt state file included)',
  },
  {
    name: 'devices',
    synopsis: ['trustflash devices [--json]'],
    about: 'Lists the USB DFU devices this user can open.',
    flags: { json },
  },
  {
    name: 'emulator init',
    synopsis: ['trustflash emulator init --state S [--image FACTORY.tfw] [--trust-key PUB.pem]... [--serial X] [--psid P] [--bank-size MiB] [--production] [--force]'],
    about: 'Manufactures an emulated NIC into state file S, running FACTORY.tfw (by default the demo factory image). A factory image is trusted by definition: the NIC then accepts updates signed by the keys that image embeds (its nextKeys).',
    flags: {
      state,
      image: { kind: 'string', value: 'FACTORY.tfw', help: 'the image the NIC is manufactured with' },
      'trust-key': { kind: 'list', value: 'PUB.pem', help: 'make the NIC trust this key (a PUBLIC KEY or a CERTIFICATE PEM; RSA-2048) for its next update instead of the keys the factory image embeds; repeatable' },
      serial: { kind: 'string', value: 'X', help: 'serial number' },
      psid: { kind: 'string', value: 'P', help: 'PSID' },
      'bank-size': { kind: 'string', value: 'MiB', help: 'size of each flash bank, 1..256 (default 64)' },
      production: { kind: 'boolean', help: 'production mode: refuse to make a NIC that trusts a DEMO key (the demo factory image without --trust-key)' },
      force: { kind: 'boolean', help: 'replace an existing state file (a factory reset)' },
    },
  },
  {
    name: 'emulator reboot',
    synopsis: ['trustflash emulator reboot --state S'],
    about: 'Power-cycles the emulated NIC: a pending image becomes the running one if it is intact.',
    flags: { state },
  },
  {
    name: 'emulator gadget',
    synopsis: ['trustflash emulator gadget --state S [--udc UDC] [--name N] [--generic] [--landing-page URL] [--fault KIND]... [--verbose] [--ready FILE]'],
    about: 'Serves the emulated NIC as a real USB device on Linux (configfs + FunctionFS; root, a UDC such as dummy_hcd). The process is the NIC\'s power: kill -9 is a power cut.',
    flags: {
      state,
      udc: { kind: 'string', value: 'UDC', help: 'the USB device controller to bind (default: the first one)' },
      name: { kind: 'string', value: 'N', help: 'configfs gadget name' },
      generic: { kind: 'boolean', help: 'plain DFU only (no vendor requests)' },
      'landing-page': { kind: 'string', value: 'URL', help: 'the WebUSB landing page the device announces (default http://localhost:4173/; kernel 6.3+)' },
      fault,
      verbose: { kind: 'boolean', help: 'log every control transfer' },
      ready: { kind: 'string', value: 'FILE', help: 'write the process id here once the gadget is bound' },
    },
  },
  {
    name: 'query',
    synopsis: ['trustflash query (--emulated --state S | --usb VID:PID[:SERIAL]) [--json] [--full]'],
    about: 'Reads the device\'s identity and security state, printed as `flint q` does.',
    flags: { emulated, state, usb, json, full: { kind: 'boolean', help: 'every field, including bank digests and key ids' } },
  },
  {
    name: 'update',
    synopsis: ['trustflash update FILE (--trust ROOT.pem | --bundle BUNDLE.json) [--crl CRL ...] [--catalog CATALOG [--state-dir DIR]] (--emulated --state S [--fault KIND]... [--timing T] | --usb VID:PID[:SERIAL]) [--json] [--quiet] [--log AUDIT.jsonl] [--receipt FILE [--device-ca CA.pem ...]] [--now ISO | --production] [--block-size N]'],
    about: 'Checks FILE on the host against what the device reports, then drives the device\'s secure-update state machine step by step (lock, erase, download, device-side verify, activate, release), printing each step and device state. After an update it asks the device for a signed receipt over a fresh nonce and checks it against the device CA ("device-attested"); a device that signs none is noted, not failed.',
    flags: {
      trust,
      crl,
      bundle,
      catalog,
      'state-dir': stateDir,
      emulated,
      state,
      usb,
      fault,
      timing: { kind: 'string', value: 'T', help: 'the emulated bus: instant, full-speed or high-speed' },
      json,
      quiet,
      log: { kind: 'string', value: 'AUDIT.jsonl', help: 'write the hash-chained audit log here; its head is printed' },
      receipt: { kind: 'string', value: 'FILE', help: 'write the device-signed receipt asked for after the update here (armored; check it later with trustflash receipt verify)' },
      'device-ca': deviceCa,
      now,
      production,
      'block-size': { kind: 'string', value: 'N', help: 'bytes of image per transfer; refused before anything is sent if the device cannot take it' },
    },
    exit: '0 updated, 1 rejected by the host or the device (the check or the device\'s error code is named), 2 usage, I/O or transport error, or a fault of the device (flash error, power loss)',
  },
  {
    name: 'reset',
    synopsis: ['trustflash reset (--emulated --state S | --usb VID:PID[:SERIAL]) [--json]'],
    about: 'Resets the NIC (as mlxfwreset does) so a pending image starts running, then reads the running version.',
    flags: { emulated, state, usb, json },
  },
  {
    name: 'receipt get',
    synopsis: ['trustflash receipt get --out FILE (--emulated --state S | --usb VID:PID[:SERIAL]) [--nonce HEX] [--json] [--force]'],
    about: 'Asks the device for a fresh receipt signed with its own attestation key: its serial, PSID, running and pending versions and release digests, fused security version and last update result, over a nonce (random unless given). Writes it armored ("-----BEGIN TRUSTFLASH RECEIPT-----") and prints the nonce to check it with.',
    flags: {
      out: { kind: 'string', value: 'FILE', help: 'where to write the receipt' },
      emulated,
      state,
      usb,
      nonce: { kind: 'string', value: 'HEX', help: 'the 32-byte nonce the device signs, as 64 hex digits (default: random)' },
      json,
      force,
    },
    exit: '0 written, 1 the device signed none (it says why: e.g. a NIC made before receipts has no attestation key), 2 usage, I/O or transport error',
  },
  {
    name: 'receipt verify',
    synopsis: ['trustflash receipt verify FILE --trust DEVICE-CA.pem [--trust ...] [--nonce HEX] [--serial S] [--now ISO] [--json]'],
    about: 'Checks a receipt offline: its device certificate chains to a trusted device CA, it is signed by that certificate\'s key over the exact bytes, the certificate names the serial and PSID the receipt does, and (with --nonce) it answers that nonce. Prints the fields, escaped.',
    flags: {
      trust: { kind: 'list', value: 'DEVICE-CA.pem', help: 'a device CA certificate to trust; repeatable' },
      nonce: { kind: 'string', value: 'HEX', help: 'the nonce the receipt must answer (64 hex digits); without it an old receipt is not told from a fresh one' },
      serial: { kind: 'string', value: 'S', help: 'the device serial the receipt must come from' },
      now,
      json,
    },
    exit: '0 verified, 1 refused (the reason is named), 2 usage or I/O error',
  },
  {
    name: 'audit verify',
    synopsis: ['trustflash audit verify AUDIT.jsonl [--head HEX] [--json]'],
    about: 'Checks a hash-chained audit log byte for byte and prints its head. With --head (printed when the log was written) a log cut after a record is caught too.',
    flags: { json, head: { kind: 'string', value: 'HEX', help: 'the head hash the log must end with' } },
    exit: '0 intact, 1 broken (the first bad line is named), 2 usage or I/O error',
  },
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

/** Top-level command names, subcommand groups included once ("emulator", "audit"). */
export const COMMAND_NAMES = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))];

export function commandHelp(name: string): CommandHelp {
  const c = BY_NAME.get(name);
  if (!c) throw new TypeError(`"name" expected a command, got ${JSON.stringify(name)}`);
  return c;
}

/** The parser's spec for a command, from its help. */
export function flagSpec(name: string): FlagSpec {
  return Object.fromEntries(Object.entries(commandHelp(name).flags).map(([k, f]) => [k, f.kind]));
}

/** Subcommands of a group ("emulator" → init, reboot, gadget). */
export function subcommands(group: string): string[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}

/** `trustflash CMD --help`. */
export function formatCommandHelp(name: string): string {
  const c = commandHelp(name);
  const flag = (k: string, f: FlagHelp) => `${k.length === 1 ? '-' : '--'}${k}${f.value ? ` ${f.value}` : ''}`;
  const width = Math.min(34, Math.max(...Object.entries(c.flags).map(([k, f]) => flag(k, f).length)) + 2);
  const lines = ['Usage:', ...c.synopsis.map((s) => `  ${s}`), '', wrap(c.about, 96), ''];
  if (Object.keys(c.flags).length) {
    lines.push('Options:');
    for (const [k, f] of Object.entries(c.flags)) {
      const left = `  ${flag(k, f)}`.padEnd(width + 2);
      lines.push(...wrap(f.help, 96 - left.length).split('\n').map((l, i) => (i === 0 ? `${left}${l}` : `${' '.repeat(left.length)}${l}`)));
    }
    lines.push(`  ${'-h, --help'.padEnd(width)}this help`);
  }
  if (c.exit) lines.push('', `Exit status: ${c.exit}.`);
  if (c.examples?.length) lines.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function wrap(text: string, width: number): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join('\n');
}

/** `trustflash --help`: every synopsis. */
export function formatUsage(): string {
  return [
    'trustflash — sign, inspect, verify and install secure firmware images',
    '',
    'Usage:',
    ...COMMANDS.flatMap((c) => c.synopsis.map((s) => `  ${s}`)),
    '',
    'trustflash COMMAND --help describes a command and each of its options. trustflash --version prints the version.',
    '',
    'Exit status: 0 accepted / updated / done, 1 rejected (by the host or the device), 2 usage, I/O or transport error.',
  ].join('\n');
}

/** Edit distance with adjacent transpositions (optimal string alignment): "haed" is 1 from "head". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `candidates` to `word`, if it is close enough to be what was meant. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}
