// The console's cookies: parsed from the Cookie header, written with the flags the console needs.
// The session cookie is HttpOnly, SameSite=Lax (sent on the redirect back from the identity provider,
// never on cross-site subresource requests or form posts), Path=/ (the approver API lives at
// /v1/approvals), and Secure with the __Host- prefix unless the console is served over plain HTTP on
// a loopback address.

export interface CookieFlags {
  secure: boolean;
}

const MAX_COOKIE_HEADER = 8192;

/** The value of cookie `name` in a Cookie header (the first one when repeated). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookieName(flags: CookieFlags): string {
  return flags.secure ? '__Host-airlock_console' : 'airlock_console';
}

export function loginCookieName(flags: CookieFlags): string {
  return flags.secure ? '__Host-airlock_console_login' : 'airlock_console_login';
}

/** A Set-Cookie value; `maxAgeSeconds` 0 deletes the cookie. */
export function cookie(name: string, value: string, maxAgeSeconds: number, flags: CookieFlags): string {
  return [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(flags.secure ? ['Secure'] : []),
  ].join('; ');
}
