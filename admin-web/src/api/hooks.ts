/** TanStack Query hooks for every admin endpoint; reads auto-refresh. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  ClientsResponse,
  ConcurrencyUpdate,
  OverviewResponse,
  RateLimitUpdate,
  RoutesResponse,
  SecurityResponse,
  SessionInfo,
  TargetsResponse,
  TimeseriesResponse,
} from '@sipp/shared';
import { ApiError, api, clearCsrf, setCsrf } from './client';

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

const useLive = <T,>(key: string, interval = REFRESH_MS) =>
  useQuery({ queryKey: [key], queryFn: () => api<T>('GET', key), refetchInterval: interval, refetchIntervalInBackground: false });

export const useOverview = () => useLive<OverviewResponse>('overview');
export const useTimeseries = () => useLive<TimeseriesResponse>('timeseries', 5000);
export const useClients = () => useLive<ClientsResponse>('clients');
export const useTargets = () => useLive<TargetsResponse>('targets', 5000);
export const useSecurity = () => useLive<SecurityResponse>('security');
export const useRoutes = () => useLive<RoutesResponse>('routes', 30_000);

function useSecurityMutation<V>(fn: (v: V) => Promise<SecurityResponse>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (data) => {
      qc.setQueryData(['security'], data);
      void qc.invalidateQueries({ queryKey: ['overview'] });
      void qc.invalidateQueries({ queryKey: ['clients'] });
    },
  });
}

export const useSetRateLimit = () => useSecurityMutation((v: RateLimitUpdate) => api<SecurityResponse>('PUT', 'security/rate-limit', v));
export const useSetConcurrency = () => useSecurityMutation((v: ConcurrencyUpdate) => api<SecurityResponse>('PUT', 'controls/concurrency', v));
export const useBlock = () => useSecurityMutation((ip: string) => api<SecurityResponse>('POST', `security/blocklist/${encodeURIComponent(ip)}`));
export const useUnblock = () => useSecurityMutation((ip: string) => api<SecurityResponse>('DELETE', `security/blocklist/${encodeURIComponent(ip)}`));

function useTargetsMutation(fn: (name: string) => Promise<TargetsResponse>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (data) => qc.setQueryData(['targets'], data),
  });
}

/** Drain: force a target's circuit open until released (routing). */
export const useDrain = () => useTargetsMutation((name) => api<TargetsResponse>('POST', `targets/${encodeURIComponent(name)}/drain`));
export const useRelease = () => useTargetsMutation((name) => api<TargetsResponse>('DELETE', `targets/${encodeURIComponent(name)}/drain`));
