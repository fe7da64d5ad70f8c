// The device's own cryptography (wasm/crypto/), re-exported under the names the firmware uses.
export { SHA256_CTX_SIZE, sha256Init, sha256Update, sha256Final } from '../crypto/sha256';
export { rsa2048VerifySha256, rsa2048SignSha256 } from '../crypto/rsa';
export { spkiRsa2048Modulus } from '../crypto/spki';
