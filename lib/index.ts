export { parAuth, requiresAuth } from './middleware.js';
export { checkProvider } from './check-provider.js';
export { ParError, CallbackError, SetupError, UpstreamError, UpstreamTimeoutError, IdTokenError } from './errors.js';
export type { ParErrorCode } from './errors.js';
export type { ParAuthConfig, ClientAuthMethod, RoutesConfig, LoginSession, TokenSet, ParEvent, PrivateKeyInput, AuthorizationParamValue } from './types.js';
export type { RequestContext } from './request-context.js';
export type { ProviderReport } from './provider-check.js';
export type { TlsOptions, PemInput } from './tls.js';
import './augment.js';
