/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): the end_session URL with the
 * application's extra parameters. Pure. The logout options are checked by config/logout.ts.
 */
import type { ResolvedLogout } from '../core/model.js';

/** What the end_session URL carries: the login's ID token (`id_token_hint`), the client, and the checked options. */
export interface EndSession extends ResolvedLogout {
  idToken: string | undefined;
  clientID: string;
}

/** The end_session URL: the endpoint's own query kept, the protocol parameters, then the extra ones. */
export function endSessionUrl(endpoint: string, input: EndSession): string {
  const url = new URL(endpoint);
  if (input.idToken && input.idTokenHint !== false) url.searchParams.set('id_token_hint', input.idToken);
  url.searchParams.set('client_id', input.clientID);
  url.searchParams.set('post_logout_redirect_uri', input.postLogoutRedirectUri);
  for (const [key, value] of input.logoutParams) url.searchParams.set(key, value);
  return url.href;
}
