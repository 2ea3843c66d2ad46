// The audit suite against embedded PGlite (a fresh data directory for this file).
import t from 'tap';
import { pgliteBackend } from './backends.js';
import { auditSuite } from './suite.js';

auditSuite(t, pgliteBackend());
