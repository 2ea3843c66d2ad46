// Talking to Airlock from the console: same origin, the session cookie, the CSRF header on writes.

export interface Me {
  user: { sub: string; groups: string[]; email?: string; name?: string };
  actions: string[];
  csrf_token: string;
  expires_at: string;
}

export interface Problem {
  status: number;
  title: string;
  detail?: string;
  reasons?: string[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

let csrf = '';
export const setCsrf = (token: string) => {
  csrf = token;
};

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  const body = text ? JSON.parse(text) : {};
  if (!res.ok) throw new ApiError({ status: res.status, title: body.title ?? res.statusText, ...body });
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(
    await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-airlock-csrf': csrf },
      body: JSON.stringify(body),
    }),
  );
}

/** A binary upload (the what-if candidate bundle). */
export async function upload<T>(path: string, body: Blob): Promise<T> {
  return parse<T>(
    await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/gzip', accept: 'application/json', 'x-airlock-csrf': csrf },
      body,
    }),
  );
}

/** A refusal as one line for the page: the problem's title and detail. */
export const problemText = (err: unknown) =>
  err instanceof ApiError ? `${err.problem.title}: ${err.problem.detail ?? ''}` : String(err);
