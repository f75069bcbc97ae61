/** The front-channel authorization request after a push (RFC 9126 §4): only `client_id` and `request_uri`. */
export function authorizationUrl(authorizationEndpoint: string, clientID: string, requestUri: string): string {
  const base = plainEndpoint(authorizationEndpoint);
  // Same encoding as URL.searchParams (application/x-www-form-urlencoded), without parsing the URL each login.
  if (base !== undefined) {
    return `${base}?${new URLSearchParams({ client_id: clientID, request_uri: requestUri }).toString()}`;
  }
  const url = new URL(authorizationEndpoint); // any query the endpoint already has is kept
  url.searchParams.set('client_id', clientID);
  url.searchParams.set('request_uri', requestUri);
  return url.href;
}

let lastEndpoint: { endpoint: string; base: string | undefined } | undefined;

/** The endpoint as URL serialises it, when it has no query or fragment to merge with; else undefined. */
function plainEndpoint(endpoint: string): string | undefined {
  // A query or fragment (even an empty one) starts with its "?" or "#": such an endpoint goes through URL.
  if (lastEndpoint?.endpoint !== endpoint) {
    lastEndpoint = { endpoint, base: /[?#]/.test(endpoint) ? undefined : new URL(endpoint).href };
  }
  return lastEndpoint.base;
}
