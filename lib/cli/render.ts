/**
 * The doctor's answer, for people (a list of what passed, each problem and warning with its fix, and a
 * verdict) or for a deploy gate (`--json`: `{ ok, issuer, problems, warnings }` and a little context).
 * Pure: the diagnosis never holds a secret, and nothing else is printed.
 */
import type { ResolvedConfig } from '../core/model.js';
import type { ProviderFinding } from '../protocol/provider-report.js';
import type { Diagnosis } from '../engine/doctor.js';

/** What the check was run for, printed beside the diagnosis. */
export interface Subject {
  config: ResolvedConfig;
  /** False when no client was given (only the metadata was checked). */
  client: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function findingLines(findings: ProviderFinding[], mark: (i: number) => string): string[] {
  return findings.flatMap((f, i) => [`  ${mark(i)} ${f.message}`, `     fix: ${f.fix}`]);
}

/** The human output, one line per item. */
export function renderText(diagnosis: Diagnosis, subject: Subject): string {
  const { config, client } = subject;
  const lines = [`express-par check: ${diagnosis.issuer}${diagnosis.provider === 'auth0' ? ' (Auth0)' : ''}`];
  if (client) {
    lines.push(`  client ${config.clientID}, ${config.clientAuthMethod}; redirect_uri ${config.redirectUri}`);
  }
  if (diagnosis.passed.length > 0) lines.push('', ...diagnosis.passed.map((p) => `  ok  ${p}`));
  if (diagnosis.problems.length > 0) {
    lines.push('', `Problems (${diagnosis.problems.length}):`, ...findingLines(diagnosis.problems, (i) => `${i + 1}.`));
  }
  if (diagnosis.warnings.length > 0) {
    lines.push('', `Warnings (${diagnosis.warnings.length}):`, ...findingLines(diagnosis.warnings, () => ' -'));
  }
  const warned = diagnosis.warnings.length > 0 ? ` (${plural(diagnosis.warnings.length, 'warning')})` : '';
  const verdict = diagnosis.ok
    ? `Ready${warned}.`
    : `Not ready: ${plural(diagnosis.problems.length, 'problem')}${warned}.`;
  lines.push('', verdict);
  return `${lines.join('\n')}\n`;
}

/** The `--json` output. */
export function renderJson(diagnosis: Diagnosis, subject: Subject): string {
  const { config, client } = subject;
  const { clientID: id, clientAuthMethod: authMethod, redirectUri } = config;
  const out = {
    ok: diagnosis.ok,
    issuer: diagnosis.issuer,
    ...(diagnosis.provider ? { provider: diagnosis.provider } : {}),
    ...(client ? { client: { id, authMethod, redirectUri } } : {}),
    ...(diagnosis.pushed ? { pushed: { status: 201, expires_in: diagnosis.pushed.expires_in } } : {}),
    problems: diagnosis.problems,
    warnings: diagnosis.warnings,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}
