/**
 * express-par in a CommonJS app: parAuth() mounts /login, /callback and /logout; requiresAuth() guards
 * /profile. Settings come from the environment (see ../README.md). `npm start`.
 */
'use strict';
const express = require('express');
const session = require('express-session');
const { parAuth, requiresAuth } = require('express-par');

function setting(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) throw new TypeError(`${name} must be set in the environment`);
  return value;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const port = Number(setting('PORT', '3000'));
const app = express();

// express-session first: the pending login and then the login itself live in the session. In production
// use a shared store and secure cookies (README, "Production").
app.use(session({ secret: setting('SESSION_SECRET'), resave: false, saveUninitialized: false }));
app.use(parAuth({
  issuerBaseURL: setting('ISSUER_BASE_URL'),
  baseURL: setting('BASE_URL', `http://localhost:${port}`),
  clientID: setting('CLIENT_ID'),
  clientSecret: setting('CLIENT_SECRET'),
}));

app.get('/', (req, res) => {
  const user = req.oidc.user;
  res.type('html').send(user
    ? `<h1>Hello, ${escapeHtml(String(user.name ?? user.sub))}</h1>
       <p><a href="/profile">Profile</a> <a href="/logout">Sign out</a></p>`
    : '<h1>Signed out</h1><p><a href="/login">Sign in</a> <a href="/profile">Profile</a></p>');
});

// Not signed in: a browser is sent through /login and comes back here.
app.get('/profile', requiresAuth(), (req, res) => {
  res.json(req.oidc.user);
});

app.listen(port, (error) => {
  if (error) throw error;
  console.log(`listening on http://localhost:${port}`);
});
