/**
 * Namespaced debug logging without a dependency: `DEBUG=express-par:*` (the `debug` package's syntax,
 * comma separated, `*` wildcards, `-` to exclude) turns it on. Never pass secrets, tokens, codes or
 * verifiers to a logger.
 */
import { format } from 'node:util';

export type Logger = ((message: string, ...args: unknown[]) => void) & { enabled: boolean };

function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*?');
  return new RegExp(`^${escaped}$`);
}

function isEnabled(namespace: string, spec: string | undefined): boolean {
  if (!spec) return false;
  let enabled = false;
  for (const raw of spec.split(/[\s,]+/)) {
    if (!raw) continue;
    if (raw.startsWith('-')) {
      if (patternToRegExp(raw.slice(1)).test(namespace)) return false;
    } else if (patternToRegExp(raw).test(namespace)) {
      enabled = true;
    }
  }
  return enabled;
}

/** Creates a logger for `express-par:<step>`; whether it prints is decided once, from `DEBUG`. */
export function createLogger(step: string): Logger {
  const namespace = `express-par:${step}`;
  const enabled = isEnabled(namespace, process.env.DEBUG);
  const log = ((message: string, ...args: unknown[]) => {
    if (!log.enabled) return;
    process.stderr.write(`${new Date().toISOString()} ${namespace} ${format(message, ...args)}\n`);
  }) as Logger;
  log.enabled = enabled;
  return log;
}
