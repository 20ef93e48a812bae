/**
 * An admin sign-in from a chosen local (source) address — 127.x.y.z on
 * loopback — so tests can be many different clients to the login throttle.
 */
import { request } from 'node:http';

/** POST `<managementUrl>/admin/api/session`; returns status and Retry-After. */
export function loginFrom(
  managementUrl: string,
  localAddress: string,
  password: string,
): Promise<{ status: number; retryAfter: string | undefined }> {
  const u = new URL(`${managementUrl}/admin/api/session`);
  const body = JSON.stringify({ password });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
