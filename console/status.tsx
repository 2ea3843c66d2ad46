// Policy status: the active bundle (revision, when it was loaded, load errors, entrypoints) and live
// data; revocations edited through airlock/admin by those airlock/console lets write data.
import { useEffect, useState } from 'preact/hooks';
import { get, post, problemText } from './api.js';

interface Status {
  ready: boolean;
  bundle: {
    revision: string;
    origin: string;
    activated_at: string;
    entrypoints: string[];
    roots: string[];
    signed: boolean;
  } | null;
  last_failure: { origin: string; message: string; at: string } | null;
  activations: number;
  load_failures: number;
  admin_entrypoint: string;
  live_data: { enabled: boolean; version?: number; document?: Record<string, unknown> | null };
}

type Kind = 'users' | 'agents';
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Revoked names of one kind, with their reason when the entry has one (object or array form). */
function revoked(doc: Record<string, unknown> | null | undefined, kind: Kind): [string, string][] {
  const list = isObject(doc?.revocations) ? doc.revocations[kind] : undefined;
  if (Array.isArray(list)) return list.filter((x) => typeof x === 'string').map((x) => [x, '']);
  if (isObject(list))
    return Object.entries(list).map(([k, v]) => [
      k,
      isObject(v) && typeof v.reason === 'string' ? v.reason : '',
    ]);
  return [];
}

function Revocations({
  doc,
  canWrite,
  onChanged,
}: {
  doc: Record<string, unknown> | null | undefined;
  canWrite: boolean;
  onChanged: () => void;
}) {
  const [kind, setKind] = useState<Kind>('users');
  const [name, setName] = useState('');
  const [reason, setReason] = useState('');
  const [refusal, setRefusal] = useState<string | undefined>();
  const [done, setDone] = useState('');
  const write = async (body: Record<string, unknown>, message: string) => {
    setRefusal(undefined);
    setDone('');
    try {
      await post('/console/api/data', body);
      setDone(message);
      onChanged();
    } catch (err) {
      setRefusal(problemText(err));
    }
  };
  const path = (k: Kind, n: string) => `/revocations/${k}/${n}`;
  return (
    <section aria-labelledby="revocations-title">
      <h3 id="revocations-title">Revocations</h3>
      {(['users', 'agents'] as const).map((k) => {
        const rows = revoked(doc, k);
        return (
          <div class="table-wrap" key={k}>
            <table>
              <caption>Revoked {k}</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Reason</th>
                  {canWrite ? (
                    <th scope="col">
                      <span class="sr">Action</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {rows.map(([n, why]) => (
                  <tr key={n}>
                    <td>{n}</td>
                    <td class="wrap">{why}</td>
                    {canWrite ? (
                      <td>
                        <button
                          type="button"
                          aria-label={`Restore ${n}`}
                          onClick={() => write({ op: 'delete', path: path(k, n) }, `Restored ${n}.`)}
                        >
                          Restore
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
            {rows.length === 0 ? <p class="empty">No revoked {k}.</p> : null}
          </div>
        );
      })}
      {canWrite ? (
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            const n = name.trim();
            if (!n) return setRefusal('Name the user or agent to revoke.');
            write(
              {
                op: 'put',
                path: path(kind, n),
                value: { reason: reason.trim() || 'revoked in the console' },
              },
              `Revoked ${n}.`,
            );
          }}
        >
          <div class="field">
            <label for="r-kind">Kind</label>
            <select
              id="r-kind"
              value={kind}
              onChange={(e) => setKind((e.target as HTMLSelectElement).value as Kind)}
            >
              <option value="users">user</option>
              <option value="agents">agent</option>
            </select>
          </div>
          <div class="field">
            <label for="r-name">Name</label>
            <input id="r-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="r-reason">Reason</label>
            <input
              id="r-reason"
              value={reason}
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit">Revoke</button>
        </form>
      ) : (
        <p class="note">You may read live data; edits need data.write in the console policy.</p>
      )}
      {refusal ? (
        <p role="alert" class="refusal">
          {refusal}
        </p>
      ) : null}
      <p role="status" class="status">
        {done}
      </p>
    </section>
  );
}

export function PolicyStatus({ canWrite }: { canWrite: boolean }) {
  const [status, setStatus] = useState<Status | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    get<Status>('/console/api/policy').then(
      (s) => {
        setStatus(s);
        setError(undefined);
      },
      (err) => setError(problemText(err)),
    );
  }, [tick]);
  const b = status?.bundle;
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Policy status</h2>
      {error ? (
        <p role="alert" class="refusal">
          {error}
        </p>
      ) : null}
      {status ? (
        <>
          <section aria-labelledby="bundle-title">
            <h3 id="bundle-title">Active bundle</h3>
            {b ? (
              <dl class="facts">
                <dt>Revision</dt>
                <dd class="revision">{b.revision}</dd>
                <dt>Loaded</dt>
                <dd>
                  <time dateTime={b.activated_at}>{b.activated_at}</time>
                </dd>
                <dt>From</dt>
                <dd>{b.origin}</dd>
                <dt>Signed</dt>
                <dd>{b.signed ? 'yes' : 'no'}</dd>
                <dt>Entrypoints</dt>
                <dd>{b.entrypoints.join(', ')}</dd>
                <dt>Data roots</dt>
                <dd>{b.roots.join(', ')}</dd>
              </dl>
            ) : (
              <p class="refusal">No bundle is active: every decision fails closed.</p>
            )}
            <p>
              {status.activations} activation(s), {status.load_failures} load failure(s).
            </p>
            {status.last_failure ? (
              <p class="refusal">
                Last load failure at <time dateTime={status.last_failure.at}>{status.last_failure.at}</time> (
                {status.last_failure.origin}): {status.last_failure.message}
              </p>
            ) : (
              <p>No load errors.</p>
            )}
          </section>
          {status.live_data.enabled ? (
            <>
              <Revocations
                doc={status.live_data.document}
                canWrite={canWrite}
                onChanged={() => setTick(tick + 1)}
              />
              <section aria-labelledby="live-title">
                <h3 id="live-title">Live data (version {status.live_data.version})</h3>
                <pre>
                  {status.live_data.document
                    ? JSON.stringify(status.live_data.document, null, 2)
                    : 'too large to show here'}
                </pre>
              </section>
            </>
          ) : (
            <p>Live data is not enabled.</p>
          )}
        </>
      ) : null}
    </section>
  );
}
