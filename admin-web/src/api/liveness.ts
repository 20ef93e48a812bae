/**
 * Honest liveness: when did a refresh last succeed, and how many in a row
 * failed since? Fed by the QueryCache (main.tsx); read by the top bar.
 * Also remembers why the session ended so the sign-in screen can say so.
 */
import { useSyncExternalStore } from 'react';

export interface Liveness {
  lastOk: number | null;
  failures: number;
  lastError: string | null;
}

let state: Liveness = { lastOk: null, failures: 0, lastError: null };
let expired = false;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

export function refreshSucceeded(now = Date.now()): void {
  state = { lastOk: now, failures: 0, lastError: null };
  emit();
}

export function refreshFailed(message: string): void {
  state = { ...state, failures: state.failures + 1, lastError: message };
  emit();
}

export const useLiveness = (): Liveness => useSyncExternalStore(subscribe, () => state);

/** amber after one failed refresh or 15 s without news, red after three or 30 s. */
export function livenessTone(l: Liveness, now: number): 'ok' | 'warn' | 'bad' {
  const age = l.lastOk === null ? Infinity : now - l.lastOk;
  if (l.failures >= 3 || age > 30_000) return 'bad';
  if (l.failures >= 1 || age > 15_000) return 'warn';
  return 'ok';
}

export function markSessionExpired(value: boolean): void {
  expired = value;
  emit();
}
export const useSessionExpired = (): boolean => useSyncExternalStore(subscribe, () => expired);
