import { BasaltError } from '../errors/index.ts';

/** A `filter_invalid` error with a message that names the problem (never SQL). */
export function invalid(message: string): BasaltError {
  return new BasaltError('filter_invalid', { message });
}

/** A `filter_too_expensive` error: a client filter over its join or cost budget. */
export function tooExpensive(message: string): BasaltError {
  return new BasaltError('filter_too_expensive', { message });
}
