export { parAuth } from './express/middleware.js';
export { auth } from './eoc/auth.js';
export type { Auth } from './eoc/auth.js';
export { SessionExpiredError, MtlsError, MtlsErrorCode } from './eoc/errors.js';
export type {
  ConfigParams, Session, SessionConfigParams, CookieConfigParams, SessionStore, SessionStorePayload, OpenidRequest,
  OpenidResponse,
} from './eoc/types.js';
export { requiresAuth } from './express/requires-auth.js';
export type { RequiresAuthOptions, RequiresLoginCheck } from './express/requires-auth.js';
export { attemptSilentLogin } from './express/silent-login.js';
export { claimEquals, claimIncludes, claimCheck } from './express/claim-checks.js';
export type { ClaimValue, ClaimCheckFunction } from './express/claim-checks.js';
export { checkProvider } from './engine/check-provider.js';
export {
  ParError, RequestError, CallbackError, SetupError, UpstreamError, UpstreamTimeoutError, IdTokenError,
  StepUpRequiredError,
} from './core/errors.js';
export type { ParErrorCode } from './core/errors.js';
export type {
  ParAuthConfig, ClientAuthMethod, RoutesConfig, LoginSession, TokenSet, ParEvent, PrivateKeyInput,
  AuthorizationParamValue, BackchannelLogoutOptions, TlsOptions, PemInput, AuthorizationDetail,
  AuthorizationParameters, IdTokenClaims, UserInfoResponse, TokenParameters, RefreshParams, AccessToken,
  AccessTokenValue, CallbackOptions,
} from './core/types.js';
export type { RequestContext, ApiTokenOptions, GetAccessTokenOptions } from './express/request-context.js';
export type { ResponseContext, LoginOptions, LogoutOptions } from './express/response-context.js';
export type { ProviderFinding, ProviderReport } from './protocol/provider-report.js';
import './express/augment.js';
