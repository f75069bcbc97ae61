/**
 * `checkProvider()`: the start-up self-check on its own, for a health check or a deploy step. The check
 * itself is protocol/provider-report.ts's; this is its public entry, run as parAuth() runs it on first use.
 */
import type { ParAuthConfig } from '../core/types.js';
import { resolveConfig } from '../config/resolve.js';
import type { ProviderReport } from '../protocol/provider-report.js';
import { createContext, ready } from './context.js';

/**
 * Fetches the server's metadata and checks it against the configuration. Resolves with the report
 * (including warnings) when the login can work; rejects with one `ParError` (`par_not_supported`,
 * `provider_unsupported`, `issuer_mismatch`, `discovery_failed`, `upstream_timeout`, …) listing every
 * problem otherwise.
 */
export async function checkProvider(options: ParAuthConfig): Promise<ProviderReport> {
  const { report } = await ready(createContext(resolveConfig(options)));
  return report;
}
