/** The front-channel authorization request after a push (RFC 9126 §4): only `client_id` and `request_uri`. */
export function authorizationUrl(authorizationEndpoint: string, clientID: string, requestUri: string): string {
  const url = new URL(authorizationEndpoint); // any query the endpoint already has is kept
  url.searchParams.set('client_id', clientID);
  url.searchParams.set('request_uri', requestUri);
  return url.href;
}
