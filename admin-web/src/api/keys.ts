/** Managed API keys (docs/keys.md): queries and mutations of the Keys view. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { KeyCreate, KeyListResponse, KeyResponse, KeySecretResponse, KeyUpdate } from '@sipp/shared';
import { api } from './client';

export const useKeys = () =>
  useQuery({
    queryKey: ['keys'],
    queryFn: () => api<KeyListResponse>('GET', 'keys'),
    refetchInterval: 5000,
    refetchIntervalInBackground: false,
  });

function useKeyMutation<V, R>(fn: (v: V) => Promise<R>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      for (const key of ['keys', 'audit']) void qc.invalidateQueries({ queryKey: [key] });
    },
  });
}

export const useCreateKey = () => useKeyMutation((v: KeyCreate) => api<KeySecretResponse>('POST', 'keys', v));
export const useUpdateKey = () =>
  useKeyMutation((v: { id: string; patch: KeyUpdate }) => api<KeyResponse>('PATCH', `keys/${encodeURIComponent(v.id)}`, v.patch));
export const useRevokeKey = () => useKeyMutation((id: string) => api<KeyResponse>('DELETE', `keys/${encodeURIComponent(id)}`));
export const useRotateKey = () =>
  useKeyMutation((v: { id: string; grace_seconds: number }) =>
    api<KeySecretResponse>('POST', `keys/${encodeURIComponent(v.id)}/rotate`, { grace_seconds: v.grace_seconds }),
  );
