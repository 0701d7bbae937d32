/**
 * A throwaway PKI made with openssl in a test's temp folder: a CA, a server certificate for
 * 127.0.0.1/localhost, a client certificate signed by the CA (CN=engine), and a client
 * certificate signed by an unrelated CA (must be refused).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';

export interface Pem {
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  dir: string;
  /** file paths for the daemon's --tls-* flags */
  files: { caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  ca: Buffer;
  server: Pem;
  client: Pem;
  /** signed by another CA */
  rogue: Pem;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await execa('openssl', args, { cwd: dir, reject: false });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

async function selfSigned(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

async function signed(dir: string, name: string, ca: string, cn: string, ext: string): Promise<void> {
  await openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=hostnetd-test/CN=${cn}`]);
  await execa('sh', ['-c', `printf '%s\\n' "$1" > ${name}.ext`, 'sh', ext], { cwd: dir });
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export async function makeTestPki(dir: string): Promise<TestPki> {
  await selfSigned(dir, 'ca', 'hostnetd test CA');
  await selfSigned(dir, 'rogue-ca', 'some other CA');
  await signed(dir, 'server', 'ca', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth');
  await signed(dir, 'client', 'ca', 'engine', 'extendedKeyUsage=clientAuth');
  await signed(dir, 'rogue', 'rogue-ca', 'engine', 'extendedKeyUsage=clientAuth');
  const f = (n: string) => path.join(dir, n);
  const read = (n: string) => readFileSync(f(n));
  return {
    dir,
    files: {
      caCert: f('ca.crt'),
      serverCert: f('server.crt'),
      serverKey: f('server.key'),
      clientCert: f('client.crt'),
      clientKey: f('client.key'),
    },
    ca: read('ca.crt'),
    server: { cert: read('server.crt'), key: read('server.key') },
    client: { cert: read('client.crt'), key: read('client.key') },
    rogue: { cert: read('rogue.crt'), key: read('rogue.key') },
  };
}
