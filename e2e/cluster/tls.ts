// Throwaway TLS material for tests, made with openssl in a directory of the caller's:
// a CA (ca.crt/ca.key) and a serving certificate it signed (<name>.crt/<name>.key).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServingCert {
  /** Common name of the CA. */
  readonly caName: string;
  /** File stem of the serving certificate and key. */
  readonly name: string;
  readonly cn: string;
  /** subjectAltName entries, e.g. ['IP:127.0.0.1', 'DNS:localhost']. */
  readonly san: readonly string[];
  readonly days: number;
}

export async function issueServingCert(dir: string, c: ServingCert): Promise<void> {
  const o = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  const days = String(c.days);
  await o(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    days,
    '-subj',
    `/CN=${c.caName}`,
  );
  writeFileSync(join(dir, `${c.name}-san.cnf`), `subjectAltName=${c.san.join(',')}\n`);
  await o(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${c.name}.key`,
    '-out',
    `${c.name}.csr`,
    '-subj',
    `/CN=${c.cn}`,
  );
  await o(
    'x509',
    '-req',
    '-in',
    `${c.name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${c.name}.crt`,
    '-days',
    days,
    '-extfile',
    `${c.name}-san.cnf`,
  );
}
