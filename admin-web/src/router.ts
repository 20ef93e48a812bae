/** Minimal path router under the admin base path (the server falls back to index.html). */
import { useEffect, useState } from 'react';
import { BASE_PATH } from './api/client';

export const VIEWS = [
  { id: 'overview', path: '', label: 'Overview' },
  { id: 'traffic', path: 'traffic', label: 'Traffic' },
  { id: 'security', path: 'security', label: 'Security' },
  { id: 'targets', path: 'targets', label: 'Targets' },
  { id: 'routes', path: 'routes', label: 'Routes' },
  { id: 'replicas', path: 'replicas', label: 'Replicas' },
] as const;
export type ViewId = (typeof VIEWS)[number]['id'];

export const hrefOf = (id: ViewId): string => `${BASE_PATH}/${VIEWS.find((v) => v.id === id)!.path}`;

function current(): ViewId {
  const rest = window.location.pathname.slice(BASE_PATH.length).replace(/^\/+|\/+$/g, '');
  return VIEWS.find((v) => v.path === rest)?.id ?? 'overview';
}

export function useView(): [ViewId, (id: ViewId) => void] {
  const [view, setView] = useState<ViewId>(current);
  useEffect(() => {
    const onPop = () => setView(current());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (id: ViewId) => {
    if (id !== view) window.history.pushState(null, '', hrefOf(id));
    setView(id);
  };
  return [view, go];
}
