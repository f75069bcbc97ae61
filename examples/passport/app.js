/**
 * express-par through Passport: ParStrategy (express-par/passport) signs users in with PAR; the app mounts
 * /login, /callback and /logout itself and guards /profile. Settings come from the environment (see
 * ../README.md). `npm start`.
 */
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { ParStrategy } from 'express-par/passport';

function setting(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) throw new TypeError(`${name} must be set in the environment`);
  return value;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const port = Number(setting('PORT', '3000'));

// redirect_uri = BASE_URL + callbackPath. The user keeps the ID token: logout sends it as id_token_hint.
const strategy = new ParStrategy(
  {
    issuerBaseURL: setting('ISSUER_BASE_URL'),
    baseURL: setting('BASE_URL', `http://localhost:${port}`),
    clientID: setting('CLIENT_ID'),
    clientSecret: setting('CLIENT_SECRET'),
    callbackPath: '/callback',
  },
  (tokens, claims, done) => done(null, { id: claims.sub, name: claims.name, idToken: tokens.id_token }),
);
passport.use(strategy);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const app = express();
// express-session before passport.session(). In production use a shared store and secure cookies.
app.use(session({ secret: setting('SESSION_SECRET'), resave: false, saveUninitialized: false }));
app.use(passport.initialize());
app.use(passport.session());

app.get('/login', passport.authenticate('par')); // ?returnTo=/path comes back as req.authInfo.returnTo
app.get('/callback', passport.authenticate('par', { failureRedirect: '/' }), (req, res) => {
  res.redirect(req.authInfo?.returnTo ?? '/');
});
app.get('/logout', (req, res, next) => {
  const idToken = req.user?.idToken;
  req.logout((err) => {
    if (err) return next(err);
    // The provider's end_session_endpoint when it has one (it sends the browser back to BASE_URL/), else '/'.
    strategy.logoutUrl(idToken, { returnTo: '/' }).then((url) => res.redirect(url ?? '/'), next);
  });
});

app.get('/', (req, res) => {
  res.type('html').send(req.user
    ? `<h1>Hello, ${escapeHtml(String(req.user.name ?? req.user.id))}</h1>
       <p><a href="/profile">Profile</a> <a href="/logout">Sign out</a></p>`
    : '<h1>Signed out</h1><p><a href="/login">Sign in</a> <a href="/profile">Profile</a></p>');
});

app.get('/profile', (req, res) => {
  if (!req.isAuthenticated()) return res.redirect(`/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
  res.json({ sub: req.user.id, name: req.user.name });
});

app.listen(port, (error) => {
  if (error) throw error;
  console.log(`listening on http://localhost:${port}`);
});
