/**
 * Building X.509 certificates, which Node's crypto cannot: node-forge encodes the structure,
 * Node's crypto makes the keys and the signatures. Policy (names, lifetimes) is the caller's.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A new private key, PEM (PKCS#8). */
export interface NewKey {
  readonly pem: string;
}

/** RSA 2048 from Node's crypto. */
export function rsaKey(): NewKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Positive 128-bit serial number in hex, as RFC 5280 asks (at most 20 bytes, unique). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function forgePublicKey(keyPem: string): forge.pki.PublicKey {
  const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }) as string;
  return forge.pki.publicKeyFromPem(spki);
}

// Present in node-forge's x509.js, missing from its type definitions.
const forgePki = forge.pki as unknown as {
  getTBSCertificate(this: void, c: forge.pki.Certificate): forge.asn1.Asn1;
};

/**
 * Signs with Node's crypto instead of forge's `cert.sign` (pure-JS RSA, about 1 s per
 * signature under Jest's VM): the same steps, sha256WithRSAEncryption over the DER TBSCertificate.
 */
function signCert(c: forge.pki.Certificate, signerKeyPem: string): string {
  c.signatureOid = c.siginfo.algorithmOid = forge.pki.oids['sha256WithRSAEncryption']!;
  c.tbsCertificate = forgePki.getTBSCertificate(c);
  const tbs = Buffer.from(forge.asn1.toDer(c.tbsCertificate).getBytes(), 'binary');
  c.signature = sign('sha256', tbs, createPrivateKey(signerKeyPem)).toString('binary');
  return forge.pki.certificateToPem(c);
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * A self-signed CA certificate (PEM) for `key`. forge writes names as PrintableString,
 * which Go's parser (the API server's) holds to its alphabet: no '@', '_' or '*' in `commonName`.
 */
export function selfSignedCa(commonName: string, key: NewKey, v: Validity): string {
  const c = forge.pki.createCertificate();
  c.publicKey = forgePublicKey(key.pem);
  c.serialNumber = serial();
  c.validity.notBefore = v.notBefore;
  c.validity.notAfter = v.notAfter;
  const name = [{ name: 'commonName', value: commonName }];
  c.setSubject(name);
  c.setIssuer(name);
  c.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return signCert(c, key.pem);
}

/** A TLS server certificate (PEM) for `key` and `sans` (DNS names or IPs), signed by `ca`. */
export function serverCert(
  ca: { readonly cert: string; readonly key: string },
  commonName: string,
  sans: readonly string[],
  key: NewKey,
  v: Validity,
): string {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const c = forge.pki.createCertificate();
  c.publicKey = forgePublicKey(key.pem);
  c.serialNumber = serial();
  c.validity.notBefore = v.notBefore;
  c.validity.notAfter = v.notAfter;
  c.setSubject([{ name: 'commonName', value: commonName }]);
  c.setIssuer(caCert.subject.attributes);
  c.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: sans.map((s) => (isIP(s) === 0 ? { type: 2, value: s } : { type: 7, ip: s })),
    },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  return signCert(c, ca.key);
}
