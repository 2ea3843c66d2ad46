// The corpus-driven tests read OPA's cases through the loader the conformance script uses.
export { type ConformanceCase, corpusDir, loadCases } from '../../scripts/conformance/corpus.js';
