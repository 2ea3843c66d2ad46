// The Airlock console: sign in, then the views airlock/console grants (approvals inbox, audit trail).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, type Me, post, setCsrf } from './api.js';
import { Audit } from './audit.js';
import { Inbox } from './inbox.js';
import { PolicyStatus } from './status.js';
import { WhatIf } from './whatif.js';

const VIEWS = ['approvals', 'audit', 'policy', 'whatif'] as const;
type View = (typeof VIEWS)[number];
const viewOf = (hash: string): View => VIEWS.find((v) => `#${v}` === hash) ?? 'approvals';

function SignIn({ problem }: { problem?: string | undefined }) {
  return (
    <main id="main" class="signin">
      <h1>Airlock console</h1>
      <p>Approve parked agent calls and read the audit trail.</p>
      {problem ? (
        <p role="alert" class="refusal">
          {problem}
        </p>
      ) : null}
      <a class="button" href="/console/login">
        Sign in
      </a>
    </main>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [view, setView] = useState<View>(viewOf(location.hash));

  useEffect(() => {
    const follow = () => {
      setView(viewOf(location.hash));
      // Keyboard users land on the new view's content.
      document.getElementById('main')?.focus();
    };
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);

  useEffect(() => {
    get<Me>('/console/api/me').then(
      (m) => {
        setCsrf(m.csrf_token);
        setMe(m);
      },
      (err) => {
        if (!(err instanceof ApiError) || err.problem.status !== 401)
          setProblem(
            err instanceof ApiError ? `${err.problem.title}: ${err.problem.detail ?? ''}` : String(err),
          );
        setMe(null);
      },
    );
  }, []);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn problem={problem} />;

  const canAnswer = me.actions.includes('approvals.answer');
  const canSeeApprovals = canAnswer || me.actions.includes('approvals.own');
  const canAudit = me.actions.includes('audit.read');
  const canPolicy = me.actions.includes('policy.read');
  const canWhatIf = me.actions.includes('policy.replay');
  const link = (v: View, label: string) => (
    <li>
      <a href={`#${v}`} aria-current={view === v ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
  const signOut = async () => {
    try {
      const r = await post<{ end_session_url?: string }>('/console/logout', {});
      location.assign(r.end_session_url ?? '/console/');
    } catch {
      location.assign('/console/');
    }
  };

  return (
    <>
      <header class="top">
        <h1>Airlock console</h1>
        <nav aria-label="Console">
          <ul>
            {canSeeApprovals ? link('approvals', 'Approvals') : null}
            {canAudit ? link('audit', 'Audit trail') : null}
            {canPolicy ? link('policy', 'Policy') : null}
            {canWhatIf ? link('whatif', 'What if') : null}
          </ul>
        </nav>
        <p class="who">
          Signed in as <strong>{me.user.name ?? me.user.sub}</strong>
          {me.user.groups.length ? ` (${me.user.groups.join(', ')})` : ''}
        </p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {view === 'audit' && canAudit ? (
          <Audit />
        ) : view === 'policy' && canPolicy ? (
          <PolicyStatus canWrite={me.actions.includes('data.write')} />
        ) : view === 'whatif' && canWhatIf ? (
          <WhatIf />
        ) : canSeeApprovals ? (
          <Inbox canAnswer={canAnswer} />
        ) : (
          <p>Your account has no console views.</p>
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
