/** TanStack Query hooks for every admin endpoint; reads auto-refresh. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  AuditResponse,
  BlocklistAdd,
  CallersResponse,
  ClientsResponse,
  ConcurrencyUpdate,
  ConfigResponse,
  OverviewResponse,
  RateLimitUpdate,
  RequestsResponse,
  RoutesResponse,
  SecurityResponse,
  SessionInfo,
  SpendResponse,
  StatsWindow,
  TargetControl,
  TargetsResponse,
  TimeseriesRange,
  TimeseriesResponse,
} from '@sipp/shared';
import { ApiError, api, clearCsrf, setCsrf } from './client';
import { markSessionExpired } from './liveness';

export const REFRESH_MS = 3000;

export function useSession() {
  return useQuery({
    queryKey: ['session'],
    queryFn: async (): Promise<SessionInfo | null> => {
      try {
        const s = await api<SessionInfo>('GET', 'session');
        setCsrf(s.csrfHeader, s.csrfToken);
        return s;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          clearCsrf();
          return null;
        }
        throw err;
      }
    },
    retry: false,
    staleTime: Infinity,
  });
}

export function useLogin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (password: string) => api<SessionInfo>('POST', 'session', { password }),
    onSuccess: (s) => {
      setCsrf(s.csrfHeader, s.csrfToken);
      markSessionExpired(false);
      qc.setQueryData(['session'], s);
    },
  });
}

export function useLogout() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ authenticated: false }>('DELETE', 'session'),
    onSettled: () => {
      clearCsrf();
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'session' });
      qc.setQueryData(['session'], null);
    },
  });
}

function useLive<T>(path: string, interval = REFRESH_MS, enabled = true) {
  return useQuery({
    queryKey: [path.split('?')[0]!, path],
    queryFn: () => api<T>('GET', path),
    refetchInterval: enabled ? interval : false,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });
}

export const useOverview = (w: StatsWindow) => useLive<OverviewResponse>(`overview?window=${w}`);
export const useTimeseries = (r: TimeseriesRange) => useLive<TimeseriesResponse>(`timeseries?range=${r}`, 5000);
export const useCallers = (w: StatsWindow) => useLive<CallersResponse>(`callers?window=${w}`);
export const useTargets = (w: StatsWindow) => useLive<TargetsResponse>(`targets?window=${w}`, 5000);
export const useRequests = (query: string, live: boolean) =>
  useLive<RequestsResponse>(`requests${query ? `?${query}` : ''}`, REFRESH_MS, live);
export const useClients = () => useLive<ClientsResponse>('clients');
export const useSecurity = () => useLive<SecurityResponse>('security');
export const useAudit = (query: string) => useLive<AuditResponse>(`audit${query ? `?${query}` : ''}`, 5000);
export const useRoutes = () => useLive<RoutesResponse>('routes', 30_000);
export const useConfig = () => useLive<ConfigResponse>('config', 60_000);
/** `query`: the spend API's query string (docs/usage.md#spend); rollups change at most per flush. */
export const useSpend = (query: string) => useLive<SpendResponse>(`spend?${query}`, 30_000);

function useSecurityMutation<V>(fn: (v: V) => Promise<SecurityResponse>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (data) => {
      qc.setQueryData(['security', 'security'], data);
      for (const key of ['overview', 'clients', 'audit']) void qc.invalidateQueries({ queryKey: [key] });
    },
  });
}

export const useSetRateLimit = () =>
  useSecurityMutation((v: RateLimitUpdate) => api<SecurityResponse>('PUT', 'security/rate-limit', v));
export const useSetConcurrency = () =>
  useSecurityMutation((v: ConcurrencyUpdate) => api<SecurityResponse>('PUT', 'controls/concurrency', v));
export const useBlock = () => useSecurityMutation((v: BlocklistAdd) => api<SecurityResponse>('POST', 'security/blocklist', v));
export const useUnblock = () =>
  useSecurityMutation((entry: string) => api<SecurityResponse>('DELETE', `security/blocklist/${encodeURIComponent(entry)}`));

function useTargetsMutation(fn: (v: { name: string; reason: string }) => Promise<TargetsResponse>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    // The answer is for the default window; refetch the one on screen (and the audit log).
    onSuccess: () => {
      for (const key of ['targets', 'audit']) void qc.invalidateQueries({ queryKey: [key] });
    },
  });
}

/** Drain: force a target's circuit open until released (routing); the reason goes to the audit log. */
export const useDrain = () =>
  useTargetsMutation(({ name, reason }) =>
    api<TargetsResponse>('POST', `targets/${encodeURIComponent(name)}/drain`, { reason } satisfies TargetControl),
  );
export const useRelease = () =>
  useTargetsMutation(({ name, reason }) =>
    api<TargetsResponse>('DELETE', `targets/${encodeURIComponent(name)}/drain`, { reason } satisfies TargetControl),
  );
