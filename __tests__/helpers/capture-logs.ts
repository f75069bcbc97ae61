/**
 * Turns express-par's debug logging on and keeps its lines, so tests can scan them for secrets.
 *
 * The library's loggers read `DEBUG` once, when their module loads: import this module FIRST in a test
 * file (before anything that imports `lib/`), e.g. `import './helpers/capture-logs.js';`. Lines of other
 * namespaces still reach stderr. `logLines()` would stay empty if the import came too late, so callers
 * assert it is not empty before trusting a scan.
 */
process.env.DEBUG = 'express-par:*';

const lines: string[] = [];
const originalWrite = process.stderr.write.bind(process.stderr);

process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (/ express-par:[a-z-]+ /.test(text)) {
    lines.push(...text.split('\n').filter((line) => line !== ''));
    return true;
  }
  return (originalWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

/** Every express-par log line written since this module loaded, oldest first. */
export function logLines(): readonly string[] {
  return lines;
}
