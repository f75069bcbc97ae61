/**
 * Rich Authorization Requests (RFC 9396): the shape of `authorization_details` (§2), checked where the app
 * gives it (a `TypeError`) and where the server answers with it (§7: 502 `authorization_details_invalid`),
 * and the rule that the server grants only types that were asked for.
 */
import { isRecord } from '../core/assert.js';
import { safeText, UpstreamError } from '../core/errors.js';
import type { AuthorizationDetail } from '../core/types.js';

/**
 * The most JSON a token response's `authorization_details` may take: what was granted is kept in the session,
 * which comes back on every request; a grant of a few entries takes well under 1 KiB (Auth0 caps a request's
 * at 5 KB).
 */
export const MAX_AUTHORIZATION_DETAILS_BYTES = 16 * 1024;

/** RFC 9396 §2.2: the common data fields that are arrays of strings. */
const STRING_ARRAYS = ['locations', 'actions', 'datatypes', 'privileges'];

/** Why `entry` is not an authorization details object (§2), or undefined when it is one. */
function entryProblem(entry: unknown): string | undefined {
  if (!isRecord(entry)) return 'is not a JSON object';
  if (typeof entry.type !== 'string' || entry.type === '') return 'has no string "type"';
  for (const field of STRING_ARRAYS) {
    const value = entry[field];
    if (value !== undefined && (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))) {
      return `has a "${field}" that is not an array of strings`;
    }
  }
  if (entry.identifier !== undefined && typeof entry.identifier !== 'string') return 'has a non-string "identifier"';
  return undefined;
}

/**
 * The configured or per-login `authorization_details` (RFC 9396 §2): a non-empty array of objects, each with
 * a string `type`, that JSON can encode. Throws a `TypeError` naming `option`.
 */
export function assertAuthorizationDetails(value: unknown, option: string): asserts value is AuthorizationDetail[] {
  const usage = `"${option}" must be a non-empty array of objects, each with a string "type" (RFC 9396 §2)`;
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(usage);
  value.forEach((entry, index) => {
    const problem = entryProblem(entry);
    if (problem) throw new TypeError(`${usage}: entry ${index} ${problem}`);
  });
  try {
    JSON.stringify(value);
  } catch {
    throw new TypeError(`${usage}: it cannot be encoded as JSON`);
  }
}

/** The distinct `type`s of pushed `authorization_details` (JSON, checked by assertAuthorizationDetails). */
export function authorizationDetailsTypes(json: string | null): string[] | undefined {
  if (json === null) return undefined;
  const details = JSON.parse(json) as AuthorizationDetail[];
  return [...new Set(details.map((entry) => entry.type))];
}

function invalid(message: string): UpstreamError {
  return new UpstreamError('authorization_details_invalid', message);
}

/**
 * Pure: a token response's `authorization_details` (RFC 9396 §7), absent or an array of authorization
 * details objects; an empty array counts as absent. 502 `authorization_details_invalid` otherwise.
 */
export function processAuthorizationDetails(value: unknown, endpoint: string): AuthorizationDetail[] | undefined {
  if (value === undefined || value === null) return undefined;
  const answered = `The token endpoint ${endpoint} answered "authorization_details"`;
  if (!Array.isArray(value)) throw invalid(`${answered} that is not an array.`);
  for (const [index, entry] of value.entries()) {
    const problem = entryProblem(entry);
    if (problem) throw invalid(`${answered} whose entry ${index} ${problem}.`);
  }
  if (JSON.stringify(value).length > MAX_AUTHORIZATION_DETAILS_BYTES) {
    throw invalid(`${answered} larger than ${MAX_AUTHORIZATION_DETAILS_BYTES} bytes of JSON (the session keeps them).`);
  }
  return value.length > 0 ? (value as AuthorizationDetail[]) : undefined;
}

/**
 * RFC 9396 §7: the server grants what was asked for, possibly less or refined; an entry of a type this login
 * did not ask for (or any entry when it asked for none) is refused: the app would act on an authorization
 * the user was never asked for. 502 `authorization_details_invalid`.
 */
export function checkGrantedTypes(granted: AuthorizationDetail[] | undefined, asked: unknown): void {
  if (!granted) return;
  const types = Array.isArray(asked) ? asked.filter((type) => typeof type === 'string') : [];
  const unasked = granted.find((entry) => !types.includes(entry.type));
  if (!unasked) return;
  const quoted = types.map((type) => `"${safeText(type, 60)}"`).join(', ');
  const what = types.length > 0 ? `only ${quoted} was asked for` : 'none was asked for';
  throw invalid(
    `The authorization server granted authorization_details of type "${safeText(unasked.type, 60)}", ` +
      `where ${what} (RFC 9396 §7): the tokens are not used.`,
  );
}
