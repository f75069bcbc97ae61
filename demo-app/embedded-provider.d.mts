/** Types for `startEmbeddedProvider()` (embedded-provider.mjs). */
import type { EmbeddedProvider } from './app.mjs';

export interface RunningEmbeddedProvider extends EmbeddedProvider {
  clientSecret: string;
  pushed(requestUri: string): { params: Record<string, unknown>; response: { request_uri: string; expires_in: number }; receivedAt: string } | undefined;
  tokenResponse(code: string): { response: Record<string, unknown> } | undefined;
  close(): Promise<void>;
}

export function startEmbeddedProvider(options: { port?: number; redirectUri: string; postLogoutRedirectUri: string }): Promise<RunningEmbeddedProvider>;
