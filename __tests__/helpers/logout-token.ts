/** Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4) as the faulty server would send them. */
import { randomBytes } from 'node:crypto';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../lib/protocol/logout-token.js';
import type { FaultyServer } from './faulty-server.js';

/** The claims of a valid logout token from `server` for `user-123`, `extra` over them; an undefined value drops a claim. */
export function logoutTokenClaims(server: FaultyServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: server.issuer,
    aud: server.clientId,
    iat: now,
    exp: now + 120,
    jti: randomBytes(16).toString('base64url'),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sub: 'user-123',
    ...extra,
  };
  for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
  return claims;
}
