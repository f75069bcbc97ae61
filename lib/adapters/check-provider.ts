/** `checkProvider()`: the start-up self-check on its own, for a health check or a deploy step. */
import { resolveConfig } from '../config/resolve.js';
import { createEngine } from '../engine.js';
import type { ProviderReport } from '../protocol/provider-report.js';
import type { ParAuthConfig } from '../core/types.js';

/**
 * Fetches the server's metadata and checks it against the configuration. Resolves with the report
 * (including warnings) when the login can work; rejects with one `ParError` (`par_not_supported`,
 * `provider_unsupported`, `issuer_mismatch`, `discovery_failed`, `upstream_timeout`, …) listing every
 * problem otherwise.
 */
export async function checkProvider(options: ParAuthConfig): Promise<ProviderReport> {
  const { report } = await createEngine(resolveConfig(options)).ready();
  return report;
}
