/**
 * The certificate authority of HTTPS interception: loaded from `proxy.server.caCert/caKey` or generated at
 * start-up, and a leaf certificate per intercepted host, signed by it and cached.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import forge from "node-forge";
import { InvalidArgument, errorMessage } from "../../common/errors.ts";

/** How many hosts' certificates are kept. */
const MAX_CACHED_HOSTS = 1024;
/** Validity of a generated CA. */
const CA_VALIDITY_DAYS = 3650;
/** Validity of a host certificate. */
const LEAF_VALIDITY_DAYS = 365;
/** Certificates are back-dated by a day so that clients with skewed clocks accept them. */
const BACKDATE_MS = 86_400_000;

/** A CA that signs host certificates. */
export interface CertificateAuthority {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** A TLS context presenting a certificate for `host` (a name or an IP). */
  contextFor(host: string): SecureContext;
}

function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
  };
}

function serialNumber(): string {
  // Positive, 16 bytes: the top bit cleared so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
}

/** Generates a self-signed CA certificate and key (PEM). */
export function generateCa(commonName = "Libellula proxy CA"): { certPem: string; keyPem: string } {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  validity(cert, CA_VALIDITY_DAYS);
  const subject = [
    { name: "commonName", value: commonName },
    { name: "organizationName", value: "Libellula" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

/** Creates a CA from PEM text (certificate and private key). */
export function createCertificateAuthority(pem: { certPem: string; keyPem: string }): CertificateAuthority {
  let caCert: forge.pki.Certificate;
  let caKey: forge.pki.PrivateKey;
  try {
    caCert = forge.pki.certificateFromPem(pem.certPem);
    caKey = forge.pki.privateKeyFromPem(pem.keyPem);
  } catch (cause) {
    throw new InvalidArgument(`Invalid proxy CA: ${errorMessage(cause)}`, { cause });
  }
  const caKeyId = caCert.generateSubjectKeyIdentifier().getBytes();
  // One key for every host certificate: generating RSA keys per host would cost far more than signing.
  const leafKeys = rsaKeyPair();
  const leafPublicKey = forge.pki.publicKeyFromPem(leafKeys.publicKeyPem);
  const cache = new Map<string, SecureContext>();

  const issue = (host: string): string => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = leafPublicKey;
    cert.serialNumber = serialNumber();
    validity(cert, LEAF_VALIDITY_DAYS);
    cert.setSubject([{ name: "commonName", value: host.slice(0, 64) }]);
    cert.setIssuer(caCert.subject.attributes);
    const altName = isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
    cert.setExtensions([
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [altName] },
      { name: "authorityKeyIdentifier", keyIdentifier: caKeyId },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };

  return {
    certPem: pem.certPem,
    contextFor(host: string): SecureContext {
      const name = host.replace(/^\[|\]$/g, "").toLowerCase();
      let context = cache.get(name);
      if (context) {
        // Refresh its place so the least recently used host is evicted first.
        cache.delete(name);
        cache.set(name, context);
        return context;
      }
      context = createSecureContext({ key: leafKeys.privateKeyPem, cert: issue(name) + pem.certPem });
      cache.set(name, context);
      if (cache.size > MAX_CACHED_HOSTS) cache.delete(cache.keys().next().value!);
      return context;
    },
  };
}

/** Loads the configured CA, or generates one. */
export function loadCertificateAuthority(files: { caCert?: string; caKey?: string }): CertificateAuthority {
  if (files.caCert && files.caKey) {
    let certPem: string;
    let keyPem: string;
    try {
      certPem = readFileSync(files.caCert, "utf8");
      keyPem = readFileSync(files.caKey, "utf8");
    } catch (cause) {
      throw new InvalidArgument(`Cannot read proxy CA: ${errorMessage(cause)}`, { cause });
    }
    return createCertificateAuthority({ certPem, keyPem });
  }
  return createCertificateAuthority(generateCa());
}
