/**
 * Real gateway processes (`sipp-gateway serve`) for the fleet tests: each on
 * ephemeral loopback ports, learned from its "listening" log line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServe, type ServeProcess } from '../support/cli.js';
import { until } from '../support/wait.js';

export interface Replica {
  publicUrl: string;
  managementUrl: string;
  adminUrl: string;
  proc: ServeProcess;
  /** Log lines and stderr so far. */
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

let configs = 0;

export async function startReplica(dir: string, toml: string, env: Record<string, string>): Promise<Replica> {
  const path = join(dir, `replica-${++configs}.toml`);
  writeFileSync(path, `public_bind = "127.0.0.1:0"\nmanagement_bind = "127.0.0.1:0"\n${toml}`);
  const proc = startServe(path, { LOG_LEVEL: 'info', SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '2', ...env });
  let listening: { public: string; management: string } | undefined;
  let exitCode: number | null | undefined;
  void proc.exited.then((c) => (exitCode = c));
  await until(
    () => {
      if (exitCode !== undefined)
        throw new Error(`replica exited (${exitCode}) before listening:\n${proc.stderr()}\n${proc.stdout()}`);
      for (const line of proc.stdout().split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        listening = JSON.parse(line) as { public: string; management: string };
        return true;
      }
      return false;
    },
    'replica to listen',
    60_000,
  );
  const { public: publicUrl, management: managementUrl } = listening!;
  const stopWith = async (signal: NodeJS.Signals) => {
    if (exitCode === undefined) proc.child.kill(signal);
    await proc.exited;
  };
  return {
    publicUrl,
    managementUrl,
    adminUrl: `${managementUrl}/admin`,
    proc,
    output: () => `${proc.stdout()}\n${proc.stderr()}`,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

/** The value of a label-free Prometheus counter or gauge. */
export async function metricValue(managementUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${managementUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found`);
  return Number(m[1]);
}
