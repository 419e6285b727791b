import { randomBytes } from 'node:crypto';
import { startupSnapshot } from 'node:v8';
import { readStdin } from '@nicpool/cni';
import { systemKernel } from './exec.ts';
import { randomMAC, run } from './run.ts';

// CommonJS in the single executable: no top-level await.
function main(): void {
  const input = {
    env: process.env,
    stdin: readStdin(),
    kernel: { ...systemKernel, pid: process.pid },
    mac: () => randomMAC(randomBytes(6)),
  };
  void run(input).then((o) => process.stdout.write(o.stdout, () => process.exit(o.exitCode)));
}

// Like the IPAM shim: the executable starts from a V8 startup snapshot taken once this
// module has loaded; everything that depends on the exec is read inside main().
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(main);
else main();
