// Prometheus metrics of the decision service, on a registry of its own (one per app).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/index.js';
import { type StageHistogram, stageHistogram } from '../telemetry/index.js';

export interface ApiMetrics {
  registry: Registry;
  decisions: Counter<'api' | 'effect'>;
  latency: Histogram<'api'>;
  /** API requests refused for a missing or bad credential, or an unreachable identity provider. */
  authFailures: Counter<'reason'>;
  /** Authenticated API requests the authorization policy refused. */
  authzDenials: Counter;
  /** Time per stage (authenticate, authorize, evaluate, audit, …) of the API and, under serve, the gateway. */
  stages: StageHistogram;
  /** Detaches the engine listeners. */
  close(): void;
}

export function createMetrics(engine: Engine, options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const decisions = new Counter({
    name: 'airlock_decisions_total',
    help: 'Decisions answered, by API surface and effect (allow, deny, redact, require_approval, defined, undefined, error)',
    labelNames: ['api', 'effect'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'airlock_decision_duration_seconds',
    help: 'Time to answer a decision request, from parsed body to response (policy evaluation and audit logging)',
    labelNames: ['api'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'airlock_api_authentication_failures_total',
    help: 'API requests refused before authorization, by reason (missing, invalid, idp_unavailable)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const authzDenials = new Counter({
    name: 'airlock_api_authorization_denials_total',
    help: 'Authenticated API requests refused by the authorization entrypoint (or for want of a decision)',
    registers: [registry],
  });
  const bundleInfo = new Gauge({
    name: 'airlock_bundle_info',
    help: 'The active bundle (value 1), labelled with its revision',
    labelNames: ['revision'] as const,
    registers: [registry],
  });
  const activations = new Counter({
    name: 'airlock_bundle_activations_total',
    help: 'Bundles activated since start',
    registers: [registry],
  });
  const failures = new Counter({
    name: 'airlock_bundle_load_failures_total',
    help: 'Bundles that failed to download, verify or load (the active bundle kept serving)',
    registers: [registry],
  });
  new Gauge({
    name: 'airlock_evaluation_timeouts_total',
    help: 'Evaluations discarded for running past the time limit',
    registers: [registry],
    collect() {
      this.set(engine.status().evaluationTimeouts);
    },
  });
  const onActivated = (info: { revision: string }) => {
    bundleInfo.reset();
    bundleInfo.set({ revision: info.revision }, 1);
    activations.inc();
  };
  const onFailed = () => failures.inc();
  const current = engine.bundle;
  if (current) bundleInfo.set({ revision: current.revision }, 1);
  engine.on('activated', onActivated);
  engine.on('loadFailed', onFailed);
  return {
    registry,
    decisions,
    latency,
    authFailures,
    authzDenials,
    stages: stageHistogram(registry),
    close() {
      engine.off('activated', onActivated);
      engine.off('loadFailed', onFailed);
    },
  };
}
