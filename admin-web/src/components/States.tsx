import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** What failed, in words: the gateway's message and the call that failed ("GET targets?window=5m · HTTP 500"). */
export function failure(error: unknown): { message: string; detail: string | null } {
  if (!(error instanceof ApiError))
    return { message: error instanceof Error ? error.message : 'Something went wrong.', detail: null };
  const status = error.status > 0 ? `HTTP ${error.status} ${error.code}` : error.code;
  return { message: error.message, detail: [error.request, status].filter(Boolean).join(' · ') };
}

export function ErrorState({ error, retry, what = 'this view' }: { error: unknown; retry?: () => void; what?: string }) {
  const { message, detail } = failure(error);
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <strong>Could not load {what}.</strong>
      <span>{message}</span>
      {detail && <span className="mono small muted">{detail}</span>}
      {retry && (
        <button type="button" className="btn btn-ghost" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/**
 * Renders loading / error / content for one query. A failed first load says
 * what failed and offers Retry; a failed refresh keeps the last data on
 * screen, dimmed (`data-stale`), under a banner with the error and Retry.
 */
export function QueryView<T>({
  query,
  children,
  what,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; isFetching?: boolean; refetch: () => unknown };
  children: (data: T) => ReactNode;
  /** Names the data in the error state ("the audit log"). */
  what?: string;
}) {
  const retry = () => void query.refetch();
  if (query.isPending && !query.error) return <Loading />;
  if (query.data === undefined) return <ErrorState error={query.error} retry={retry} what={what} />;
  const stale = !!query.error;
  return (
    <>
      {stale ? (
        <div className="stale-banner" role="status" data-testid="stale-banner">
          <span>
            Live updates paused: {failure(query.error).message} — showing the last data
            {what ? ` of ${what}` : ''}.
          </span>{' '}
          <button type="button" className="btn btn-small btn-ghost" onClick={retry} disabled={query.isFetching}>
            {query.isFetching ? 'Retrying…' : 'Retry now'}
          </button>
        </div>
      ) : null}
      <div className={stale ? 'query-data is-stale' : 'query-data'} data-stale={stale ? 'true' : 'false'}>
        {children(query.data)}
      </div>
    </>
  );
}
