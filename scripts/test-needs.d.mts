/** Types for test-needs.mjs (what `npm test` needs besides node_modules), for its unit test. */
export interface Need {
  name: string;
  /** The variable that points at an existing binary instead. */
  env?: string;
  /** Where it is looked for when `env` is unset (else on PATH as `command`). */
  path?: string;
  command?: string;
  /** The Debian package. */
  apt: string;
  example?: string;
}

export interface Missing {
  need: Need;
  reason: string;
  /** The need's variable is set, to something that is not an executable. */
  fromEnv?: boolean;
}

export type Env = Record<string, string | undefined>;
export type Family = 'debian' | 'ubuntu' | 'other';

export const NEEDS: readonly Need[];
export function parseOsRelease(text: string): Record<string, string>;
export function osFamily(osRelease: Record<string, string>): Family;
export function onPath(command: string, env: Env): string | undefined;
export function findMissing(env: Env, defaults?: { Chromium?: string }): Missing[];
export function plan(
  missing: Missing[],
  where: { family: Family; root: boolean; aptGet: boolean },
): { install: string[]; manual: Missing[] };
export function instructions(missing: Missing[], where: { family: Family; root: boolean }): string;

export interface TestNeedsDeps {
  env: Env;
  /** undefined off POSIX. */
  uid: number | undefined;
  /** The text of /etc/os-release; '' when there is none. */
  osRelease: string;
  /** Runs a command; resolves to its exit status. */
  run(command: string, args: string[]): number;
  sleep(ms: number): Promise<void>;
  print(line: string): void;
  fail(line: string): void;
  defaults?: { Chromium?: string };
}

/** Checks, installs what it can, checks again; the exit code (0: everything is there). */
export function ensureTestNeeds(deps: TestNeedsDeps): Promise<number>;
