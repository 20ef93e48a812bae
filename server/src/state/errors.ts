/** The shared state store could not take a change (Redis unreachable, file unwritable). */
export class StateUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateUnavailableError';
  }
}
