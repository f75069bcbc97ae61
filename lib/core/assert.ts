/**
 * Checks of options and arguments (STYLE.md §5): each throws a `TypeError` whose message names the
 * option, once, at start-up (or when a per-request option is given). Messages never quote key material.
 */

/** Throws a `TypeError` with `message`. */
export function fail(message: string): never {
  throw new TypeError(message);
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `value` as a string that is not blank, or a TypeError naming `option`. */
export function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail(`"${option}" must be a non-empty string`);
  return value;
}

/** `value` as a finite number from `min` to `max`, `fallback` when undefined, or a TypeError naming `option`. */
export function numberInRange(value: unknown, option: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(`"${option}" must be a number from ${min} to ${max}`);
  }
  return value;
}

/** `value` when it is undefined or a function, or a TypeError naming `option`. */
export function optionalFunction<T>(value: T, option: string): T {
  if (value !== undefined && typeof value !== 'function') fail(`"${option}" must be a function`);
  return value;
}
