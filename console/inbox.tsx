// The approvals inbox: pending calls this person may see, a countdown to each one's expiry, approve
// or deny with a reason, the policy's refusal shown as it came, live updates over server-sent events.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post } from './api.js';

interface Approval {
  id: string;
  status: string;
  virtual: string;
  upstream: string;
  tool: string;
  arguments: unknown;
  arguments_kept: boolean;
  requester: { sub: string; agent: string };
  model: { provider?: string; name?: string } | null;
  approvers: string[];
  reasons: string[];
  created_at: string;
  expires_at: string;
  mine: boolean;
}

function remaining(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec} s` : `${sec} s`;
}

function Countdown({ until, offset }: { until: string; offset: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const left = Date.parse(until) - (now + offset);
  return (
    <time dateTime={until} class={left < 60_000 ? 'urgent' : ''} title={until}>
      {left <= 0 ? 'expired' : `expires in ${remaining(left)}`}
    </time>
  );
}

function Card({
  a,
  offset,
  canAnswer,
  onAnswered,
}: {
  a: Approval;
  offset: number;
  canAnswer: boolean;
  onAnswered: (message: string) => void;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<string | undefined>();
  const answer = async (verb: 'approve' | 'deny') => {
    setBusy(true);
    setRefusal(undefined);
    try {
      await post(`/v1/approvals/${a.id}/${verb}`, reason ? { reason } : {});
      onAnswered(`${verb === 'approve' ? 'Approved' : 'Denied'} ${a.tool} for ${a.requester.sub}.`);
    } catch (err) {
      const p = err instanceof ApiError ? err.problem : undefined;
      setRefusal(p ? `${p.title}: ${p.detail ?? ''}` : String(err));
    } finally {
      setBusy(false);
    }
  };
  const head = `approval-${a.id}`;
  return (
    <article class="card" aria-labelledby={head}>
      <header>
        <h3 id={head}>
          <code>{a.tool}</code> on <code>{a.upstream}</code>
        </h3>
        <Countdown until={a.expires_at} offset={offset} />
      </header>
      <dl class="facts">
        <dt>Requester</dt>
        <dd>
          {a.requester.sub}
          {a.mine ? ' (you)' : ''}
        </dd>
        <dt>Agent</dt>
        <dd>{a.requester.agent}</dd>
        <dt>Model</dt>
        <dd>{a.model ? `${a.model.provider ?? '?'}/${a.model.name ?? '?'}` : 'not stated'}</dd>
        <dt>Virtual server</dt>
        <dd>{a.virtual}</dd>
        <dt>Approvers</dt>
        <dd>{a.approvers.join(', ')}</dd>
      </dl>
      <h4>Why it needs approval</h4>
      <ul class="reasons">
        {a.reasons.map((r) => (
          <li key={r}>{r}</li>
        ))}
      </ul>
      <h4>Arguments{a.arguments_kept ? ' (as the trail keeps them)' : ''}</h4>
      {a.arguments_kept ? (
        <pre class="args">{JSON.stringify(a.arguments, null, 2)}</pre>
      ) : (
        <p class="warn">The audit trail holds no record of these arguments.</p>
      )}
      {canAnswer ? (
        <form
          class="answer"
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <label for={`reason-${a.id}`}>Reason (optional)</label>
          <textarea
            id={`reason-${a.id}`}
            maxLength={1000}
            rows={2}
            value={reason}
            onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
          />
          <div class="buttons">
            <button type="button" class="approve" disabled={busy} onClick={() => answer('approve')}>
              Approve
            </button>
            <button type="button" class="deny" disabled={busy} onClick={() => answer('deny')}>
              Deny
            </button>
          </div>
          {refusal ? (
            <p class="refusal" role="alert">
              {refusal}
            </p>
          ) : null}
        </form>
      ) : (
        <p class="note">Waiting for {a.approvers.join(' or ')}.</p>
      )}
    </article>
  );
}

export function Inbox({ canAnswer }: { canAnswer: boolean }) {
  const [list, setList] = useState<Approval[] | undefined>();
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [message, setMessage] = useState('');
  const [live, setLive] = useState(false);
  const loading = useRef(false);

  const load = useCallback(async () => {
    if (loading.current) return;
    loading.current = true;
    try {
      const r = await get<{ approvals: Approval[]; now: string }>('/console/api/approvals');
      setOffset(Date.parse(r.now) - Date.now());
      setList(r.approvals);
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.problem.title}: ${err.problem.detail ?? ''}` : String(err));
    } finally {
      loading.current = false;
    }
  }, []);

  useEffect(() => {
    void load();
    const events = new EventSource('/console/api/events');
    events.addEventListener('open', () => setLive(true));
    events.addEventListener('error', () => setLive(false));
    events.addEventListener('approvals', () => void load());
    // Expired calls leave the list even if no event arrives.
    const t = setInterval(() => void load(), 60_000);
    return () => {
      events.close();
      clearInterval(t);
    };
  }, [load]);

  return (
    <section aria-labelledby="inbox-title">
      <h2 id="inbox-title">Approvals</h2>
      <p class="live" aria-live="polite">
        {live ? 'Live: updates appear as they happen.' : 'Connecting to live updates…'}
      </p>
      <p role="status" class="status">
        {message}
      </p>
      {error ? (
        <p role="alert" class="refusal">
          {error}
        </p>
      ) : null}
      {list === undefined ? (
        <p>Loading…</p>
      ) : list.length === 0 ? (
        <p class="empty">No call is waiting for approval.</p>
      ) : (
        <div class="cards">
          {list.map((a) => (
            <Card
              key={a.id}
              a={a}
              offset={offset}
              canAnswer={canAnswer}
              onAnswered={(m) => {
                setMessage(m);
                void load();
              }}
            />
          ))}
        </div>
      )}
    </section>
  );
}
