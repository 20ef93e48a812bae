/**
 * Compute backend selection for local targets (docs/local-models.md): `auto` picks the best
 * available of CUDA, Metal, Vulkan, then CPU; `cpu` disables GPU offload; an
 * explicit GPU backend that is not available is a startup error naming it.
 *
 * `selectBackend` is pure (unit-tested against simulated availability); the
 * real availability comes from node-llama-cpp's prebuilt binaries.
 */
import { getLlamaGpuTypes } from 'node-llama-cpp';
import { BackendUnavailableError } from '../../errors.js';

export type RequestedBackend = 'auto' | 'cpu' | 'cuda' | 'metal' | 'vulkan';
export type GpuBackend = 'cuda' | 'metal' | 'vulkan';
export type SelectedBackend = GpuBackend | 'cpu';

export type GpuAvailability = Record<GpuBackend, boolean>;

/** Preference order for `auto`. */
export const GPU_PREFERENCE: readonly GpuBackend[] = ['cuda', 'metal', 'vulkan'];

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { BackendUnavailableError };

export function selectBackend(requested: RequestedBackend, available: GpuAvailability): SelectedBackend {
  if (requested === 'cpu') return 'cpu';
  if (requested === 'auto') return GPU_PREFERENCE.find((gpu) => available[gpu]) ?? 'cpu';
  if (!available[requested]) throw new BackendUnavailableError(requested);
  return requested;
}

/** GPU types this machine can run with the installed prebuilt binaries (never compiles). */
export async function detectGpuAvailability(): Promise<GpuAvailability> {
  const supported = new Set<string>();
  for (const t of await getLlamaGpuTypes('supported')) if (t) supported.add(t);
  return { cuda: supported.has('cuda'), metal: supported.has('metal'), vulkan: supported.has('vulkan') };
}
