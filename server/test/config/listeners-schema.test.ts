/** `[listeners.*]` and `management_allowed_hosts`: defaults and validation naming the field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { MINIMAL_CONFIG, rejectsConfig } from '../support/config-text.js';

const VALID = MINIMAL_CONFIG;

const withTop = (top: string) => `${top}\n${VALID}`;
const withTable = (table: string) => VALID.replace('[security]', `[security]\n${table}`);

const rejects = rejectsConfig;

describe('listener limits and management hosts in the config', () => {
  it('has safe defaults when the tables are absent', () => {
    const c = parseConfigText(VALID);
    assert.deepEqual(c.listeners.public, {
      headers_timeout_seconds: 10,
      request_timeout_seconds: 30,
      keep_alive_timeout_seconds: 65,
      max_connections: 1024,
    });
    assert.deepEqual(c.listeners.management, {
      headers_timeout_seconds: 10,
      request_timeout_seconds: 30,
      keep_alive_timeout_seconds: 5,
      max_connections: 64,
    });
    assert.deepEqual(c.management_allowed_hosts, []);
  });

  it('fills defaults of a partial table and takes fractions of a second', () => {
    const c = parseConfigText(
      withTable('[listeners.public]\nheaders_timeout_seconds = 0.5\n[listeners.management]\nmax_connections = 8'),
    );
    assert.equal(c.listeners.public.headers_timeout_seconds, 0.5);
    assert.equal(c.listeners.public.max_connections, 1024);
    assert.equal(c.listeners.management.max_connections, 8);
    assert.equal(c.listeners.management.headers_timeout_seconds, 10);
  });

  it('rejects bad values, naming the field', () => {
    rejects(
      withTable('[listeners.public]\nheaders_timeout_seconds = 0'),
      /^listeners\.public\.headers_timeout_seconds: must be > 0/,
    );
    rejects(withTable('[listeners.management]\nmax_connections = 1.5'), /^listeners\.management\.max_connections: /);
    rejects(withTable('[listeners.public]\nmax_connections = 0'), /^listeners\.public\.max_connections: must be > 0/);
    rejects(
      withTable('[listeners.public]\nheaders_timeout_seconds = 20\nrequest_timeout_seconds = 15'),
      /^listeners\.public\.headers_timeout_seconds: must not exceed request_timeout_seconds/,
    );
    rejects(
      withTable('[listeners.public]\nheader_timeout_seconds = 5'),
      /unknown key "header_timeout_seconds" in listeners\.public/,
    );
    rejects(withTable('[listeners.admin]\nmax_connections = 5'), /unknown key "admin" in listeners/);
  });

  it('management_allowed_hosts takes host names and IPs (normalized), not ports or URLs', () => {
    const c = parseConfigText(withTop('management_allowed_hosts = ["Gateway-Admin.Internal.", "10.0.0.5", "::1"]'));
    assert.deepEqual(c.management_allowed_hosts, ['gateway-admin.internal', '10.0.0.5', '::1']);
    rejects(
      withTop('management_allowed_hosts = ["admin.example:9090"]'),
      /^management_allowed_hosts\[0\]: must be a host name or IP address/,
    );
    rejects(withTop('management_allowed_hosts = ["http://admin.example"]'), /^management_allowed_hosts\[0\]: /);
    rejects(withTop('management_allowed_hosts = ["[::1]"]'), /^management_allowed_hosts\[0\]: /);
    rejects(withTop('management_allowed_hosts = [""]'), /^management_allowed_hosts\[0\]: /);
  });
});
