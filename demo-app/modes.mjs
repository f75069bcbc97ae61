/**
 * The two ways to wire express-par into the demo: the `parAuth()` middleware (mode `express`) or the
 * `ParStrategy` Passport strategy (mode `passport`). Each returns the same small interface, so the pages
 * do not care which one signed the user in.
 */
import { redact, redactTokenResponse } from './redact.mjs';

/**
 * @typedef {object} DemoAuth
 * @property {(app: import('express').Express, capture: { login: Function, callback: Function }) => void} mount
 * @property {import('express').RequestHandler} guard  lets signed-in requests through, else starts a sign-in
 * @property {(req: any) => Record<string, unknown> | undefined} user  the ID token claims
 * @property {(req: any) => boolean} isSignedIn
 * @property {(req: any) => Record<string, unknown>} tokenView  the stored tokens, redacted
 * @property {import('express').RequestHandler} signup  starts a sign-in with screen_hint=signup
 * @property {import('express').RequestHandler} staffOnly  lets users whose `groups` claim holds "staff" through
 * @property {import('express').RequestHandler | undefined} silentLogin  attemptSilentLogin(), where the mode has it
 * @property {((req: any) => Promise<Record<string, unknown>>) | undefined} userinfo  req.oidc.fetchUserInfo(), where the mode has it
 * @property {((req: any, apiUrl: string) => Promise<Record<string, unknown>>) | undefined} callApi  getAccessToken() + req.oidc.fetch(), where the mode has it
 * @property {import('express').RequestHandler} pay  starts a sign-in that asks for the payment (RFC 9396 authorization_details)
 * @property {(req: any) => unknown[] | undefined} authorizationDetails  what the provider granted (RFC 9396 §7)
 */

/**
 * What the "Pay" page asks the provider to authorize (RFC 9396 §2; the payment_initiation example of its
 * §2.1). A real app builds it from the checkout, per request.
 */
export const PAYMENT = {
  type: 'payment_initiation',
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Demo Merchant',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Order 4711',
};

/** The claim the "Staff only" page is gated on. */
export const STAFF_CLAIM = { claim: 'groups', value: 'staff' };

/** Mode `express`: `parAuth()` answers /login, /callback and /logout; `requiresAuth()` guards. */
export function expressMode({ lib, config }) {
  return {
    mount(app, capture) {
      app.get('/login', capture.login);
      app.get('/callback', capture.callback);
      app.use(lib.parAuth(config));
    },
    guard: lib.requiresAuth(),
    // Per-request parameters, pushed with PAR: the provider shows its sign-up page.
    signup: (req, res, next) => res.oidc.login({ returnTo: '/', authorizationParams: { screen_hint: 'signup' } }).catch(next),
    staffOnly: lib.claimIncludes(STAFF_CLAIM.claim, STAFF_CLAIM.value),
    // The payment goes with this sign-in only, pushed as JSON; the provider asks the user to consent to it.
    pay: (req, res, next) => res.oidc.login({ returnTo: '/pay', authorizationParams: { authorization_details: [PAYMENT] } }).catch(next),
    authorizationDetails: (req) => req.oidc?.authorizationDetails,
    silentLogin: lib.attemptSilentLogin(),
    // The userinfo endpoint with the access token (its sub checked against the ID token's).
    userinfo: (req) => req.oidc.fetchUserInfo(),
    // "Call the API": a token valid for two more hours, which the provider's one-hour tokens never are, so
    // it is renewed with the refresh token; then the call as the user (here: the provider's userinfo).
    async callApi(req, apiUrl) {
      const old = req.oidc.accessToken;
      const before = { token: redact(old), expiresAt: req.oidc.expiresAt };
      const token = await req.oidc.getAccessToken({ minTtl: 2 * 60 * 60 });
      const after = { token: redact(token), expiresAt: req.oidc.expiresAt };
      const res = await req.oidc.fetch(apiUrl);
      return { before, after, renewed: token !== old, status: res.status };
    },
    user: (req) => req.oidc?.user,
    isSignedIn: (req) => req.oidc?.isAuthenticated() === true,
    tokenView(req) {
      const { oidc } = req;
      return {
        access_token: redact(oidc.accessToken),
        token_type: oidc.tokenType,
        expires_in: oidc.expiresAt ? Math.max(0, oidc.expiresAt - Math.floor(Date.now() / 1000)) : undefined,
        id_token: redact(oidc.idToken),
        refresh_token: redact(oidc.refreshToken),
        scope: Object.values(req.session?.par ?? {})[0]?.login?.scope,
      };
    },
  };
}

/** Mode `passport`: `ParStrategy` (strategy name `par`) through passport.authenticate(). */
export async function passportMode({ passportLib, config }) {
  if (!passportLib?.ParStrategy) throw new TypeError('DEMO_MODE=passport needs ParStrategy from express-par/passport');
  const { default: passportDefault } = await import('passport');
  const passport = new passportDefault.Passport(); // an instance of its own: no global state
  const strategy = new passportLib.ParStrategy({ ...config, callbackPath: '/callback' }, (tokens, claims, done) => {
    const { dpopJwk: _key, ...response } = tokens;
    // The ID token is kept for RP-initiated logout (id_token_hint); the page only sees the redacted view.
    const granted = tokens.authorization_details ? { authorizationDetails: tokens.authorization_details } : {};
    done(null, { id: claims.sub, claims, idToken: tokens.id_token, tokenView: redactTokenResponse(response), ...granted });
  });
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));

  return {
    mount(app, capture) {
      app.use(passport.initialize());
      app.use(passport.session());
      app.get('/login', capture.login, passport.authenticate('par'));
      // A custom callback: a failure goes to the error page with its code and status, and writes nothing
      // into the session (failureMessage: true would create a session for every link to /callback).
      app.get('/callback', capture.callback, (req, res, next) => {
        passport.authenticate('par', (err, user, info, status) => {
          if (err) return next(err);
          if (!user) {
            const failure = { status: typeof status === 'number' ? status : 401, code: info?.code ?? 'sign_in_refused' };
            return next(Object.assign(new Error('The sign-in failed.'), failure));
          }
          req.logIn(user, (loginErr) => (loginErr ? next(loginErr) : res.redirect(typeof info?.returnTo === 'string' ? info.returnTo : '/')));
        })(req, res, next);
      });
      app.get('/logout', async (req, res, next) => {
        try {
          const remote = req.user?.idToken ? await strategy.logoutUrl(req.user.idToken) : undefined;
          req.logout((err) => (err ? next(err) : res.redirect(remote ?? '/')));
        } catch (err) {
          next(err);
        }
      });
    },
    guard: (req, res, next) => (req.isAuthenticated() ? next() : res.redirect(`/login?returnTo=${encodeURIComponent(req.originalUrl)}`)),
    signup: passport.authenticate('par', { authorizationParams: { screen_hint: 'signup' }, returnTo: '/' }),
    pay: passport.authenticate('par', { authorizationParams: { authorization_details: [PAYMENT] }, returnTo: '/pay' }),
    authorizationDetails: (req) => (req.isAuthenticated?.() ? req.user.authorizationDetails : undefined),
    staffOnly(req, res, next) {
      if (!req.isAuthenticated()) return res.redirect(`/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
      const groups = req.user.claims?.[STAFF_CLAIM.claim];
      if (Array.isArray(groups) && groups.includes(STAFF_CLAIM.value)) return next();
      next(Object.assign(new Error('The signed-in user does not have the claims this route requires.'), { status: 403, code: 'insufficient_claims' }));
    },
    silentLogin: undefined, // attemptSilentLogin() belongs to parAuth(); the strategy has no equivalent
    user: (req) => (req.isAuthenticated?.() ? req.user.claims : undefined),
    isSignedIn: (req) => req.isAuthenticated?.() === true,
    tokenView: (req) => req.user?.tokenView ?? {},
  };
}
