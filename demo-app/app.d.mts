/** Types for `startDemo()` (app.mjs), for TypeScript callers such as the end-to-end test. */
export interface EmbeddedProvider {
  issuer: string;
  clientID: string;
  /** Raw token values issued so far: for tests that check no page shows them. */
  issuedTokens(): string[];
}

export interface StartDemoOptions {
  /** express-par: `parAuth` and `requiresAuth` (the built package or the sources). */
  lib: {
    parAuth: (...args: never[]) => unknown;
    requiresAuth: (...args: never[]) => unknown;
    attemptSilentLogin: (...args: never[]) => unknown;
    claimIncludes: (...args: never[]) => unknown;
  };
  /** express-par/passport, for mode `passport`. */
  passportLib?: { ParStrategy: new (...args: never[]) => unknown };
  mode?: 'express' | 'passport';
  /** Default 3000; 0 picks a free port. */
  port?: number;
  host?: string;
  /** Public origin; default `http://localhost:<port>`. */
  baseURL?: string;
  /** An external provider; without it the embedded provider is started. */
  provider?: { issuerBaseURL: string; clientID: string; clientSecret?: string; audience?: string; clientAuthMethod?: string };
  providerPort?: number;
  sessionSecret?: string;
  log?: (line: string) => void;
  /** attemptSilentLogin() on the landing page (express mode only). Default false. */
  silentLogin?: boolean;
}

export interface Demo {
  url: string;
  port: number;
  mode: 'express' | 'passport';
  issuer: string;
  /** Present when the embedded provider runs. */
  embedded: EmbeddedProvider | undefined;
  close(): Promise<void>;
}

export function startDemo(options: StartDemoOptions): Promise<Demo>;
