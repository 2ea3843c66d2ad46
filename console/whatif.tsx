// What-if: evaluate a decision input against the active bundle, and replay a time range of the trail
// against a candidate bundle uploaded from this browser, showing what would change per tool and user.
// A report is shown only once it arrived whole; a failed run clears the previous one.
import { useState } from 'preact/hooks';
import { post, problemText, upload } from './api.js';
import { findJsonProblem } from './json-check.js';

const SAMPLE = JSON.stringify(
  {
    phase: 'request',
    action: 'tools/call',
    user: { sub: 'alice', groups: ['eng'] },
    agent: { id: 'devops-agent' },
    model: { provider: 'anthropic', name: 'claude-sonnet-4' },
    server: { name: 'github', virtual: 'devops' },
    tool: { name: 'list_repos' },
    arguments: {},
  },
  null,
  2,
);

/** A precise message for text that is not JSON: line, column and what was expected. */
function jsonProblem(text: string): string | undefined {
  const p = findJsonProblem(text);
  return p ? `The input is not valid JSON at line ${p.line}, column ${p.column}: ${p.message}` : undefined;
}

interface Counts {
  name: string;
  replayed: number;
  changed: number;
  transitions: Record<string, number>;
}
interface Outcome {
  effect: string;
  reasons: string[];
  maskedArguments: string[];
  error?: string;
}
interface Report {
  candidate: { origin: string; revision: string };
  baseline: { origin: string; revision: string } | null;
  since: string;
  until: string;
  total: number;
  replayed: number;
  unchanged: number;
  changed: number;
  truncated: boolean;
  skipped: Record<string, number>;
  transitions: Record<string, number>;
  byTool: Counts[];
  byUser: Counts[];
  changes: {
    seq: number;
    time: string;
    user: string | null;
    agent: string | null;
    tool: string | null;
    kind: string;
    recorded: Outcome;
    baseline?: Outcome;
    candidate: Outcome;
  }[];
  changesNotListed: number;
}

const transitions = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

function Evaluate() {
  const [entrypoint, setEntrypoint] = useState('airlock/decision');
  const [text, setText] = useState(SAMPLE);
  const [problem, setProblem] = useState<string | undefined>();
  const [answer, setAnswer] = useState<
    { revision: string; defined: boolean; result?: unknown } | undefined
  >();
  const [busy, setBusy] = useState(false);
  const run = async (e: Event) => {
    e.preventDefault();
    setAnswer(undefined);
    const bad = jsonProblem(text);
    setProblem(bad);
    if (bad) return;
    setBusy(true);
    try {
      setAnswer(await post('/console/api/evaluate', { entrypoint, input: JSON.parse(text) }));
    } catch (err) {
      setProblem(problemText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="evaluate-title">
      <h3 id="evaluate-title">Evaluate an input against the active bundle</h3>
      <form onSubmit={run}>
        <div class="field">
          <label for="w-entrypoint">Entrypoint</label>
          <input
            id="w-entrypoint"
            value={entrypoint}
            onInput={(e) => setEntrypoint((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="w-input">Decision input (JSON)</label>
          <textarea
            id="w-input"
            class="code"
            rows={14}
            spellcheck={false}
            aria-describedby={problem ? 'w-input-problem' : undefined}
            aria-invalid={problem ? 'true' : undefined}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </div>
        <div class="buttons">
          <button type="submit" disabled={busy}>
            Evaluate
          </button>
        </div>
      </form>
      {problem ? (
        <p role="alert" class="refusal" id="w-input-problem">
          {problem}
        </p>
      ) : null}
      {answer ? (
        <section class="detail" aria-labelledby="evaluate-result">
          <h4 id="evaluate-result">Result (revision {answer.revision})</h4>
          <pre>{answer.defined ? JSON.stringify(answer.result, null, 2) : 'undefined (no result)'}</pre>
        </section>
      ) : null}
    </section>
  );
}

function CountsTable({ caption, label, rows }: { caption: string; label: string; rows: Counts[] }) {
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col">Replayed</th>
            <th scope="col">Changed</th>
            <th scope="col">Transitions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <td>{r.name}</td>
              <td>{r.replayed}</td>
              <td>{r.changed}</td>
              <td>{transitions(r.transitions)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ReportView({ r }: { r: Report }) {
  return (
    <section class="detail" aria-labelledby="replay-result">
      <h4 id="replay-result">
        Candidate {r.candidate.revision}: {r.changed} of {r.replayed} decision(s) would change
      </h4>
      <p>
        {r.since} – {r.until}, compared with {r.baseline ? r.baseline.origin : 'the outcomes recorded'}.{' '}
        {Object.keys(r.skipped).length ? `Skipped: ${transitions(r.skipped)}.` : ''}
        {r.truncated ? ' The limit stopped the replay before the end of the range.' : ''}
      </p>
      {r.changed > 0 ? (
        <>
          <p>Transitions: {transitions(r.transitions)}</p>
          <CountsTable caption="Per tool" label="Tool" rows={r.byTool} />
          <CountsTable caption="Per user" label="User" rows={r.byUser} />
          <div class="table-wrap">
            <table>
              <caption>
                Changed decisions
                {r.changesNotListed ? ` (${r.changesNotListed} more not listed)` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Tool</th>
                  <th scope="col">Change</th>
                  <th scope="col">Candidate reasons</th>
                </tr>
              </thead>
              <tbody>
                {r.changes.map((c) => (
                  <tr key={c.seq}>
                    <td>{c.seq}</td>
                    <td>
                      <time dateTime={c.time}>{c.time.replace('T', ' ').slice(0, 19)}</time>
                    </td>
                    <td>{c.user ?? ''}</td>
                    <td>{c.agent ?? ''}</td>
                    <td>{c.tool ?? ''}</td>
                    <td>
                      {(c.baseline ?? c.recorded).effect}→{c.candidate.effect}
                      {c.kind === 'redaction' ? ' (redaction)' : ''}
                    </td>
                    <td class="wrap">{c.candidate.error ?? c.candidate.reasons.join('; ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : (
        <p>No recorded decision would come out differently.</p>
      )}
    </section>
  );
}

function Replay() {
  const hourAgo = new Date(Date.now() - 3600_000).toISOString().slice(0, 19);
  const [since, setSince] = useState(`${hourAgo}Z`);
  const [until, setUntil] = useState('');
  const [file, setFile] = useState<File | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [report, setReport] = useState<Report | undefined>();
  const [busy, setBusy] = useState(false);
  const run = async (e: Event) => {
    e.preventDefault();
    setReport(undefined);
    setProblem(undefined);
    if (!file) {
      setProblem('Choose a candidate bundle (.tar.gz) first.');
      return;
    }
    setBusy(true);
    try {
      const q = new URLSearchParams({ since });
      if (until) q.set('until', until);
      setReport(await upload<Report>(`/console/api/replay?${q}`, file));
    } catch (err) {
      setProblem(problemText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="replay-title">
      <h3 id="replay-title">Replay the trail against a candidate bundle</h3>
      <form class="filters" onSubmit={run}>
        <div class="field">
          <label for="w-bundle">Candidate bundle (.tar.gz)</label>
          <input
            id="w-bundle"
            type="file"
            accept=".tar.gz,.tgz,application/gzip"
            onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])}
          />
        </div>
        <div class="field">
          <label for="w-since">Since (ISO 8601)</label>
          <input id="w-since" value={since} onInput={(e) => setSince((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="w-until">Until (optional)</label>
          <input id="w-until" value={until} onInput={(e) => setUntil((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Replaying…' : 'Run replay'}
        </button>
      </form>
      {problem ? (
        <p role="alert" class="refusal">
          {problem}
        </p>
      ) : null}
      {report ? <ReportView r={report} /> : null}
    </section>
  );
}

export function WhatIf() {
  return (
    <section aria-labelledby="whatif-title">
      <h2 id="whatif-title">What if</h2>
      <Evaluate />
      <Replay />
    </section>
  );
}
