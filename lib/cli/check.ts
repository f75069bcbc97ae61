/**
 * `express-par check`, run: the arguments to the options (the same resolveConfig() as parAuth()), the
 * engine's diagnosis (engine/doctor.ts), the answer on stdout, and the exit status: 0 ready, 1 not ready,
 * 2 usage error. Usage errors go to stderr. No secret is ever written: the diagnosis holds none, and the
 * messages of a usage error never quote a value.
 */
import { resolveConfig } from '../config/resolve.js';
import { diagnoseProvider } from '../engine/doctor.js';
import { parseCheckArgs, USAGE, UsageError } from './args.js';
import { configOf, usageFromTypeError } from './options.js';
import { renderJson, renderText } from './render.js';

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT = { ready: 0, notReady: 1, usage: 2 } as const;

async function check(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const parsed = parseCheckArgs(argv, env);
  if (parsed.help) {
    io.stdout(USAGE);
    return EXIT.ready;
  }
  const { options, client } = await configOf(parsed.args);
  let config;
  try {
    config = resolveConfig(options);
  } catch (err) {
    throw err instanceof TypeError ? usageFromTypeError(err) : err;
  }
  const diagnosis = await diagnoseProvider(config, { push: client });
  const render = parsed.args.json ? renderJson : renderText;
  io.stdout(render(diagnosis, { config, client }));
  return diagnosis.ok ? EXIT.ready : EXIT.notReady;
}

/** Runs the command; resolves with the exit status (never rejects). */
export async function runCli(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  try {
    return await check(argv, env, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`express-par: ${err.message}\nRun "express-par --help" for the options.\n`);
      return EXIT.usage;
    }
    // A fault of this program, not of the provider: its name only (a message is not known to be secret-free).
    io.stderr(`express-par: the check failed unexpectedly (${err instanceof Error ? err.name : 'error'})\n`);
    return EXIT.notReady;
  }
}
