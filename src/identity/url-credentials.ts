// Credentials never travel in URLs (RFC 6750 §5.3; the MCP authorization specification forbids
// access tokens in the query string). One list of the query parameters that carry them, read from a
// raw URL the same way by every listener that refuses them.

/** Query parameters that carry credentials (compared lower-cased). */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'access_token',
  'token',
  'id_token',
  'refresh_token',
  'bearer',
  'api_key',
  'apikey',
]);

/** Decoded parameter names of a raw URL's query string (lenient: undecodable names are kept as sent). */
export function queryNames(url: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const names: string[] = [];
  for (const part of url.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const raw = (eq < 0 ? part : part.slice(0, eq)).replaceAll('+', ' ');
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      name = raw;
    }
    names.push(name);
  }
  return names;
}

/** The credential-carrying parameter a raw URL names, lower-cased; undefined when there is none. */
export function credentialInQuery(url: string): string | undefined {
  for (const name of queryNames(url)) {
    const lower = name.toLowerCase();
    if (CREDENTIAL_QUERY_PARAMS.has(lower)) return lower;
  }
  return undefined;
}
