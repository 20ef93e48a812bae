/**
 * npm runs `npm start`/`npm run` scripts and `npx` commands through `sh -c`, and
 * Debian's sh (dash) neither replaces itself with the command nor passes
 * signals on: when npm forwards SIGTERM/SIGINT, the shell dies and a gateway
 * below it would keep running, holding its ports. Started by npm, the gateway
 * therefore watches the process that started it and stops when it is gone.
 */
export function onParentGone(callback: () => void, intervalMs = 200): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (isAlive(parent)) return;
    clearInterval(timer);
    callback();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function isAlive(pid: number): boolean {
  if (pid <= 1) return true; // already adopted by init: nothing to follow
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether npm (run-script or npx) started this process. */
export function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return typeof env.npm_lifecycle_event === 'string' && env.npm_lifecycle_event !== '';
}
