export { parAuth, requiresAuth } from './adapters/middleware.js';
export { attemptSilentLogin } from './adapters/silent-login.js';
export { claimEquals, claimIncludes, claimCheck } from './adapters/claim-checks.js';
export type { ClaimValue, ClaimCheckFunction } from './adapters/claim-checks.js';
export { checkProvider } from './engine/check-provider.js';
export { ParError, CallbackError, SetupError, UpstreamError, UpstreamTimeoutError, IdTokenError } from './core/errors.js';
export type { ParErrorCode } from './core/errors.js';
export type {
  ParAuthConfig, ClientAuthMethod, RoutesConfig, LoginSession, TokenSet, ParEvent, PrivateKeyInput, AuthorizationParamValue,
  BackchannelLogoutOptions, TlsOptions, PemInput,
} from './core/types.js';
export type { RequestContext } from './adapters/request-context.js';
export type { ResponseContext, LoginOptions, LogoutOptions } from './adapters/response-context.js';
export type { ProviderReport } from './protocol/provider-report.js';
import './plumbing/augment.js';
