// A child Node process that runs Airlock's TypeScript through tsx (no build needed). Under tap, a test
// process loads src/ through tap's own TypeScript loader, whose output differs from tsx's; tap merges
// every process's V8 coverage by file URL, so ranges recorded against tsx's output would be read
// against the other's source map. That garbles the merged report (src/ files lowered or dropped from
// it). Such children therefore record no coverage; what they run is asserted on by the tests. The
// same holds for children running the compiled CLI (dist/, whose source maps point into src/):
// test/security/airlock-process.ts starts those with this environment too.

/** The Node arguments that make a child process run TypeScript through tsx. */
export const TSX_ARGS = ['--import', 'tsx'];

/** The environment for such a child: the parent's, without coverage recording, plus `extra`. */
export function uncoveredChildEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', ...extra };
}
