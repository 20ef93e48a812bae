import { useEffect, useState } from 'react';
import { ApiError } from '../api/client';
import { useLogin } from '../api/hooks';
import { useSessionExpired } from '../api/liveness';

export function Login() {
  const expired = useSessionExpired();
  const [password, setPassword] = useState('');
  useEffect(() => {
    document.title = 'Sign in · Sipp Gateway';
  }, []);
  const login = useLogin();
  const err = login.error;
  const message =
    err instanceof ApiError
      ? err.status === 401
        ? 'Wrong password.'
        : err.status === 429
          ? `Too many failed attempts. Try again in ${err.retryAfter ? `${Math.ceil(err.retryAfter / 60)} min` : 'a few minutes'}.`
          : err.message
      : err
        ? 'Sign-in failed.'
        : null;
  return (
    <main className="login" id="main">
      <h1 className="sr-only">Sign in</h1>
      <form
        className="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (password) login.mutate(password, { onSettled: () => setPassword('') });
        }}
      >
        <div className="brand brand-lg">
          <span className="logo" aria-hidden="true">
            S
          </span>
          <div>
            <div className="brand-name">Sipp Gateway</div>
            <div className="muted small">Admin Dashboard</div>
          </div>
        </div>
        {expired && !message && (
          <p className="notice" role="status">
            Your session expired. Sign in again.
          </p>
        )}
        <label>
          Admin password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            autoFocus
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={!!message}
            aria-describedby={message ? 'login-error' : undefined}
          />
        </label>
        {message && (
          <p id="login-error" className="field-error" role="alert">
            {message}
          </p>
        )}
        <button type="submit" className="btn btn-block" disabled={!password || login.isPending}>
          {login.isPending ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">Reach this page through an SSH tunnel to the management listener. Sessions last 8 hours.</p>
      </form>
    </main>
  );
}
