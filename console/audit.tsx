// A minimal audit explorer: filter by user, agent, model, tool, effect and time range, pages by sequence number, one event's
// detail as the trail holds it, and every event of that event's decision, oldest first; the chain's
// status on demand, and the current filter exported as CSV or NDJSON (streamed by the server).
import { useEffect, useState } from 'preact/hooks';
import { get, problemText } from './api.js';

interface ChainStatus {
  ok: boolean;
  checked: number;
  head: { seq: number; hash: string } | null;
  break?: { kind: string; seq: number; message: string };
  verified_at: string;
  checkpoints: string;
  last_checkpoint: { seq: number; hash: string; time: string; key_id: string } | null;
}

function Chain() {
  const [status, setStatus] = useState<ChainStatus | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setStatus(await get<ChainStatus>('/console/api/audit/chain'));
    } catch (err) {
      setStatus(undefined);
      setError(problemText(err));
    } finally {
      setBusy(false);
    }
  };
  const cp = status?.last_checkpoint;
  return (
    <section class="chain" aria-labelledby="chain-title">
      <h3 id="chain-title">Chain status</h3>
      <button type="button" onClick={verify} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify chain'}
      </button>
      <div role="status">
        {status ? (
          <p class={status.ok ? 'status' : 'refusal'}>
            {status.ok
              ? `Chain intact: ${status.checked} event(s) verified${status.head ? ` up to seq ${status.head.seq}` : ''}.`
              : `Chain broken (${status.break?.kind}) at seq ${status.break?.seq}: ${status.break?.message}`}{' '}
            {cp
              ? `Last checkpoint: seq ${cp.seq} at ${cp.time} (key ${cp.key_id}).`
              : status.checkpoints === 'configured'
                ? 'No checkpoint written yet by this process.'
                : 'Signed checkpoints are not configured.'}
          </p>
        ) : null}
      </div>
      {error ? (
        <p role="alert" class="refusal">
          {error}
        </p>
      ) : null}
    </section>
  );
}

interface Event {
  seq: number;
  time: string;
  kind: string;
  user_sub: string | null;
  agent_id: string | null;
  target_name: string | null;
  effect: string | null;
  [k: string]: unknown;
}

const EFFECTS = ['', 'allow', 'deny', 'require_approval', 'redact'];

export function Audit() {
  const [filter, setFilter] = useState({
    user: '',
    agent: '',
    model: '',
    tool: '',
    effect: '',
    since: '',
    until: '',
  });
  const [applied, setApplied] = useState<Record<string, string>>(filter);
  const [cursor, setCursor] = useState<number[]>([]);
  // A page is shown only under the query it answers: the render right after a new query (before
  // its effect runs) and a late answer to an earlier query both find a different key.
  const query = JSON.stringify([applied, cursor]);
  const [answer, setAnswer] = useState<{ query: string; events: Event[]; next: number | null } | undefined>();
  const page = answer?.query === query ? answer : undefined;
  const [error, setError] = useState<string | undefined>();
  const [open, setOpen] = useState<Event | undefined>();

  useEffect(() => {
    let current = true;
    const q = new URLSearchParams({ order: applied.decision_id ? 'asc' : 'desc', limit: '25' });
    for (const [k, v] of Object.entries(applied)) if (v) q.set(k, v);
    const after = cursor.at(-1);
    if (after !== undefined) q.set('after', String(after));
    get<{ events: Event[]; next: number | null }>(`/console/api/audit?${q}`).then(
      (p) => {
        if (!current) return;
        setAnswer({ query, ...p });
        setError(undefined);
      },
      (err) => current && setError(problemText(err)),
    );
    return () => {
      current = false;
    };
  }, [query]);

  const exportUrl = (format: 'csv' | 'ndjson') => {
    const q = new URLSearchParams({ format });
    for (const [k, v] of Object.entries(applied)) if (v) q.set(k, v);
    return `/console/api/audit/export?${q}`;
  };

  const field = (
    name: 'user' | 'agent' | 'model' | 'tool' | 'since' | 'until',
    label: string,
    hint?: string,
  ) => (
    <div class="field">
      <label for={`f-${name}`}>{label}</label>
      <input
        id={`f-${name}`}
        placeholder={hint}
        value={filter[name]}
        onInput={(e) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value })}
      />
    </div>
  );

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setCursor([]);
          setApplied(filter);
        }}
      >
        {field('user', 'User')}
        {field('agent', 'Agent')}
        {field('model', 'Model')}
        {field('tool', 'Tool')}
        <div class="field">
          <label for="f-effect">Effect</label>
          <select
            id="f-effect"
            value={filter.effect}
            onChange={(e) => setFilter({ ...filter, effect: (e.target as HTMLSelectElement).value })}
          >
            {EFFECTS.map((x) => (
              <option key={x} value={x}>
                {x || 'any'}
              </option>
            ))}
          </select>
        </div>
        {field('since', 'Since', '2026-01-06T16:00:00Z')}
        {field('until', 'Until', '2026-01-06T17:00:00Z')}
        <button type="submit">Search</button>
      </form>
      <p class="export">
        Export this filter (oldest first, at most 100 000 events):{' '}
        <a href={exportUrl('csv')} download>
          CSV
        </a>{' '}
        <a href={exportUrl('ndjson')} download>
          NDJSON
        </a>
      </p>
      {error ? (
        <p role="alert" class="refusal">
          {error}
        </p>
      ) : null}
      {page ? (
        <div class="table-wrap">
          <table>
            <caption>
              {applied.decision_id ? `Decision ${applied.decision_id}, oldest first` : 'Newest first'}
              {cursor.length ? `, page ${cursor.length + 1}` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Kind</th>
                <th scope="col">User</th>
                <th scope="col">Tool</th>
                <th scope="col">Effect</th>
                <th scope="col">
                  <span class="sr">Detail</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.events.map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>
                    <time dateTime={e.time}>{e.time.replace('T', ' ').slice(0, 19)}</time>
                  </td>
                  <td>{e.kind}</td>
                  <td>{e.user_sub ?? ''}</td>
                  <td>{e.target_name ?? ''}</td>
                  <td>{e.effect ?? ''}</td>
                  <td>
                    <button type="button" class="link" onClick={() => setOpen(e)}>
                      Event {e.seq}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.events.length === 0 ? <p class="empty">No event matches.</p> : null}
          <div class="buttons">
            <button
              type="button"
              disabled={cursor.length === 0}
              onClick={() => setCursor(cursor.slice(0, -1))}
            >
              Newer
            </button>
            <button
              type="button"
              disabled={page.next === null}
              onClick={() => page.next !== null && setCursor([...cursor, page.next])}
            >
              Older
            </button>
          </div>
        </div>
      ) : null}
      {open ? (
        <section class="detail" aria-labelledby="detail-title">
          <h3 id="detail-title">Event {open.seq}</h3>
          <pre>{JSON.stringify(open, null, 2)}</pre>
          <div class="buttons">
            {typeof open.decision_id === 'string' ? (
              <button
                type="button"
                onClick={() => {
                  setCursor([]);
                  setApplied({ decision_id: open.decision_id as string });
                  setOpen(undefined);
                }}
              >
                Every event of this decision
              </button>
            ) : null}
            <button type="button" onClick={() => setOpen(undefined)}>
              Close detail
            </button>
          </div>
        </section>
      ) : null}
      <Chain />
    </section>
  );
}
