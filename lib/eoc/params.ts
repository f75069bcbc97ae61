/**
 * express-openid-connect's `authorizationParams` (configured, or per login in `res.oidc.login()`) read the
 * way express-par signs in: `response_type` with `id_token` and `response_mode=form_post` are served by the
 * code flow with a query response (the ID token comes from the token endpoint, checked as always), and
 * `redirect_uri` becomes the login's own redirect_uri. Everything else goes on to the pushed request.
 */
import { fail, isRecord } from '../core/assert.js';
import { redirectUriOption } from '../config/routes.js';

const RESPONSE_TYPES = ['id_token', 'code id_token', 'code'];

/** The parameters as express-par takes them, the login's redirect_uri, and what was served differently. */
export interface EocLoginParams {
  params: Record<string, unknown>;
  redirectUri?: string;
  /** Warnings to say (once): what the app asked for that is served differently. */
  notes: string[];
}

/**
 * Maps EOC's authorization parameters; a `response_type` or `response_mode` EOC itself refuses, or a
 * `redirect_uri` that is not an absolute http(s) URL, throws a TypeError naming `label`.
 */
export function eocLoginParams(value: unknown, label: string): EocLoginParams {
  if (value === undefined) return { params: {}, notes: [] };
  if (!isRecord(value)) fail(`"${label}" must be an object`);
  const { response_type: type, response_mode: mode, redirect_uri: redirectUri, ...params } = value;
  const notes: string[] = [];
  if (type !== undefined && (typeof type !== 'string' || !RESPONSE_TYPES.includes(type))) {
    fail(`"${label}.response_type" must be one of [id_token, code id_token, code]`);
  }
  if (typeof type === 'string' && type !== 'code') {
    notes.push(
      `${label}.response_type "${type}" is served by the code flow: the ID token comes from the token endpoint, ` +
        'where the client authenticates (register the authorization_code grant, and a secret or key, for it)',
    );
  }
  if (mode !== undefined && mode !== 'query' && mode !== 'form_post') {
    fail(`"${label}.response_mode" must be "query" or "form_post"`);
  }
  if (mode === 'form_post') {
    notes.push(`${label}.response_mode "form_post" is answered with "query": the callback is a GET`);
  }
  const uri = redirectUriOption(redirectUri, `${label}.redirect_uri`);
  return { params, ...(uri ? { redirectUri: uri } : {}), notes };
}
