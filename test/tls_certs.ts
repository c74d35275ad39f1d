// Certificates for the TLS tests, made at test time with the openssl command
// line into a temp directory (no private key is checked in): a test CA, leaf
// certificates for localhost / 127.0.0.1 / ::1, one for another name (SNI),
// an expired one, a self-signed one, one from a CA nobody trusts, and a
// client certificate (mutual TLS). EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

export interface TestCerts {
  dir: string;
  ca: CertPair;
  /** localhost, 127.0.0.1, ::1, signed by ca. */
  server: CertPair;
  /** other.test, signed by ca (SNI). */
  other: CertPair;
  /** localhost, signed by ca, expired in 2020. */
  expired: CertPair;
  /** localhost, self-signed. */
  selfSigned: CertPair;
  /** localhost, signed by a CA that nobody trusts. */
  untrusted: CertPair;
  /** The same, with that CA sent along in the chain. */
  untrustedChain: CertPair;
  /** A client certificate (clientAuth), signed by ca. */
  client: CertPair;
  /** A client certificate signed by the untrusted CA. */
  badClient: CertPair;
  /** server's key encrypted with the passphrase 'secret'. */
  encryptedKey: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): CertPair {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

function newKey(dir: string, name: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
}

function selfSignedCa(dir: string, name: string, cn: string): void {
  newKey(dir, name);
  openssl(dir, [
    'req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function signed(dir: string, name: string, caName: string, cn: string, ext: string): void {
  newKey(dir, name);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '825', '-extfile', `${name}.ext`,
  ]);
}

const SERVER_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n';

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'coio-tls-'));
  selfSignedCa(dir, 'ca', 'coio test CA');
  selfSignedCa(dir, 'evil', 'untrusted test CA');
  signed(dir, 'server', 'ca', 'localhost', SERVER_EXT);
  signed(dir, 'other', 'ca', 'other.test', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:other.test\n');
  signed(dir, 'untrusted', 'evil', 'localhost', SERVER_EXT);
  signed(dir, 'client', 'ca', 'coio client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  signed(dir, 'badclient', 'evil', 'bad client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  // Self-signed leaf (not a CA).
  newKey(dir, 'self');
  openssl(dir, ['req', '-x509', '-new', '-key', 'self.key', '-out', 'self.pem', '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  // Expired: `openssl ca` takes explicit start and end dates (openssl 3.0's x509 cannot).
  newKey(dir, 'expired');
  openssl(dir, ['req', '-new', '-key', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]', 'default_ca=test', '[test]', `dir=${dir}`, 'database=$dir/index.txt', 'serial=$dir/serial', 'new_certs_dir=$dir',
      'certificate=$dir/ca.pem', 'private_key=$dir/ca.key', 'default_md=sha256', 'policy=any', 'unique_subject=no', 'copy_extensions=none',
      'x509_extensions=leaf', '[any]', 'commonName=supplied', '[leaf]', 'basicConstraints=CA:FALSE', 'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1', '',
    ].join('\n'),
  );
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-in', 'expired.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext']);
  writeFileSync(join(dir, 'untrusted-chain.pem'), readFileSync(join(dir, 'untrusted.pem'), 'utf8') + readFileSync(join(dir, 'evil.pem'), 'utf8'));
  writeFileSync(join(dir, 'untrusted-chain.key'), readFileSync(join(dir, 'untrusted.key')));
  openssl(dir, ['pkey', '-in', 'server.key', '-out', 'server-enc.key', '-aes256', '-passout', 'pass:secret']);
  return {
    dir,
    ca: pair(dir, 'ca'),
    server: pair(dir, 'server'),
    other: pair(dir, 'other'),
    expired: pair(dir, 'expired'),
    selfSigned: pair(dir, 'self'),
    untrusted: pair(dir, 'untrusted'),
    untrustedChain: pair(dir, 'untrusted-chain'),
    client: pair(dir, 'client'),
    badClient: pair(dir, 'badclient'),
    encryptedKey: join(dir, 'server-enc.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
