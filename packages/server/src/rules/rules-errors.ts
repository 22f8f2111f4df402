import { BasaltError } from '../errors/index.ts';

/** A `filter_invalid` error with a message that names the problem (never SQL). */
export function invalid(message: string): BasaltError {
  return new BasaltError('filter_invalid', { message });
}
