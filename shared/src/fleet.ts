/** `GET <admin>/api/fleet`: the replicas sharing this gateway's state store. */

export interface ReplicaView {
  id: string;
  host: string;
  version: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms of the last heartbeat (the replica's own clock). */
  heartbeatAt: number;
  /** False once no heartbeat came for `replicaTimeoutMs`. */
  up: boolean;
  uptimeSeconds: number;
  inFlight: number;
  requestsTotal: number;
  /** Public requests per second over the last heartbeat interval. */
  requestsPerSecond: number;
  /** True for the replica that answered this request. */
  self: boolean;
}

export interface FleetResponse {
  backend: 'memory' | 'redis';
  /** Whether the shared state store answered (always true for memory). */
  storeReachable: boolean;
  heartbeatMs: number;
  replicaTimeoutMs: number;
  replicas: ReplicaView[];
  /** Sums over the replicas that are up. */
  totals: { replicas: number; up: number; inFlight: number; requestsTotal: number; requestsPerSecond: number };
}
