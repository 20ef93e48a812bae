/**
 * Minimal path router under the admin base path (the server falls back to
 * index.html). View state that should survive a reload or be shared as a
 * link (window, range, explorer filters) lives in the query string.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { BASE_PATH } from './api/client';

export const VIEWS = [
  { id: 'overview', path: '', label: 'Overview' },
  { id: 'requests', path: 'requests', label: 'Requests' },
  { id: 'callers', path: 'callers', label: 'Callers' },
  { id: 'targets', path: 'targets', label: 'Targets' },
  { id: 'spend', path: 'spend', label: 'Spend' },
  { id: 'clients', path: 'clients', label: 'Clients' },
  { id: 'keys', path: 'keys', label: 'Keys' },
  { id: 'security', path: 'security', label: 'Security' },
  { id: 'config', path: 'config', label: 'Configuration' },
  { id: 'replicas', path: 'replicas', label: 'Replicas' },
] as const;
export type ViewId = (typeof VIEWS)[number]['id'];

export type Params = Record<string, string | null | undefined>;

function search(params?: Params): string {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const hrefOf = (id: ViewId, params?: Params): string =>
  `${BASE_PATH}/${VIEWS.find((v) => v.id === id)!.path}${search(params)}`;

function current(): ViewId {
  const rest = window.location.pathname.slice(BASE_PATH.length).replace(/^\/+|\/+$/g, '');
  return VIEWS.find((v) => v.path === rest)?.id ?? 'overview';
}

// One tiny store for location changes made by this app (pushState/replaceState fire no event).
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
window.addEventListener('popstate', notify);
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => {
    listeners.delete(l);
  };
};

/** Opens a view (optionally with query parameters), as a new history entry. */
export function navigate(id: ViewId, params?: Params): void {
  window.history.pushState(null, '', hrefOf(id, params));
  window.scrollTo(0, 0);
  notify();
}

export function useView(): ViewId {
  const [view, setView] = useState<ViewId>(current);
  useEffect(() => subscribe(() => setView(current())), []);
  return view;
}

/** The current query string. */
export function useSearch(): URLSearchParams {
  const s = useSyncExternalStore(subscribe, () => window.location.search);
  return new URLSearchParams(s);
}

/** Replaces query parameters in place (no new history entry). */
export function setSearch(params: Params): void {
  const q = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${s ? `?${s}` : ''}`);
  notify();
}

/** One query parameter restricted to `allowed`, with a fallback. */
export function useChoice<T extends string>(name: string, allowed: readonly T[], fallback: T): [T, (v: T) => void] {
  const raw = useSearch().get(name);
  const value = raw !== null && (allowed as readonly string[]).includes(raw) ? (raw as T) : fallback;
  return [value, (v: T) => setSearch({ [name]: v === fallback ? null : v })];
}
