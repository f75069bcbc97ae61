/**
 * `req.oidc` under auth(): parAuth()'s, with express-openid-connect's shapes where EOC apps read them —
 * `accessToken` as EOC's object, `user` as the ID token's claims less `identityClaimFilter`, and the claim
 * checks testing the ID token's claims.
 */
import type { NextFunction, Request, Response } from 'express';
import type { AccessToken, AccessTokenValue, IdTokenClaims, RefreshParams } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import { refreshNow } from '../express/access-token.js';
import { OidcContext } from '../express/request-context.js';
import { CHECKED_CLAIMS } from '../express/request-keys.js';
import type { EocConfig } from './config.js';
import { EocResponse } from './response-context.js';
import { readStoredLogin } from '../state/login.js';

/** EOC normalises `bearer` (any case) to `Bearer`. */
function tokenTypeOf(value: string | undefined): string {
  return value === undefined || /^bearer$/i.test(value) ? 'Bearer' : value;
}

const now = (): number => Math.floor(Date.now() / 1000);

function checkRefreshParams(params: RefreshParams | undefined): void {
  const extra = params?.tokenEndpointParams;
  if (extra !== undefined && Object.keys(extra).length > 0) {
    throw new TypeError('"tokenEndpointParams" is not supported: the refresh request carries what the specs name');
  }
}

/**
 * EOC's access token object, new at each read, its methods bound (apps destructure them); undefined
 * without an access token or without its expiry, as in EOC.
 */
export function eocAccessToken(req: Request, engine: Engine): AccessToken | undefined {
  const login = readStoredLogin(req, engine.signInKey);
  const expiresAt = login?.expiresAt;
  if (!login?.accessToken || typeof expiresAt !== 'number') return undefined;
  return {
    access_token: login.accessToken,
    token_type: tokenTypeOf(login.tokenType),
    expires_in: Math.max(0, expiresAt - now()),
    isExpired: () => expiresAt <= now(),
    refresh: async (params?: RefreshParams) => {
      checkRefreshParams(params);
      await refreshNow(req, engine); // single flight, rotation stored, the session saved
      return eocAccessToken(req, engine) as AccessTokenValue;
    },
  };
}

export class EocRequestContext extends OidcContext {
  readonly #req: Request;
  readonly #engine: Engine;
  readonly #claimFilter: readonly string[];
  readonly #eoc: EocConfig;
  readonly #next: NextFunction;
  readonly #warn: (message: string) => void;

  constructor(
    req: Request,
    engine: Engine,
    loaded: string | undefined | null,
    eoc: EocConfig,
    next: NextFunction,
    warn: (message: string) => void,
  ) {
    super(req, engine, loaded);
    this.#req = req;
    this.#engine = engine;
    this.#claimFilter = eoc.identityClaimFilter;
    this.#eoc = eoc;
    this.#next = next;
    this.#warn = warn;
  }

  /** `res.oidc` of auth() (made once, when first read: express/oidc-property.ts); its errors go to `next`. */
  protected override makeResponseContext(res: Response): EocResponse {
    return new EocResponse(this.#req, res, this.#engine, this.#eoc, this.#next, this.#warn);
  }

  /** The ID token's claims less identityClaimFilter's (EOC's `req.oidc.user`). */
  override get user(): Record<string, unknown> | undefined {
    const claims: Record<string, unknown> | undefined = this.idTokenClaims;
    if (claims) for (const claim of this.#claimFilter) delete claims[claim];
    return claims;
  }

  override get accessToken(): AccessTokenValue | undefined {
    return eocAccessToken(this.#req, this.#engine) as AccessTokenValue | undefined;
  }

  /** EOC's claimEquals/claimIncludes/claimCheck test the ID token's claims, the filtered ones too. */
  override get [CHECKED_CLAIMS](): IdTokenClaims | undefined {
    return this.idTokenClaims;
  }
}
