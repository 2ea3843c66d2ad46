// The candidate bundle of a replay: an OPA bundle tarball (what `airlock build` writes, or an upload
// to the console), or policy sources built in memory with Airlock's own compiler. Anything that is
// not a loadable bundle is a CandidateError, raised before a single decision is replayed.
import {
  type BundleFiles,
  buildBundle,
  bundleFromFiles,
  filesFromTarball,
  type PolicyBundle,
  type SourceTree,
} from '../engine/index.js';
import type { VerificationConfig } from '../engine/signature.js';

/** The candidate cannot be used: it does not unpack, validate or compile. `message` says where. */
export class CandidateError extends Error {
  override name = 'CandidateError';
}

export interface Candidate {
  bundle: PolicyBundle;
  /** Where it came from, for the report (`candidate.tar.gz`, `policies/`, `upload`). */
  origin: string;
}

/** A candidate from bundle tarball bytes; a signature is checked when `verification` is given. */
export async function candidateFromTarball(
  bytes: Uint8Array,
  origin: string,
  verification?: VerificationConfig,
): Promise<Candidate> {
  let files: BundleFiles;
  try {
    files = await filesFromTarball(bytes);
  } catch (err) {
    throw new CandidateError(`${origin}: not a bundle tarball: ${(err as Error).message}`);
  }
  try {
    return { bundle: await bundleFromFiles(files, verification), origin };
  } catch (err) {
    throw new CandidateError(`${origin}: ${(err as Error).message}`);
  }
}

/**
 * A candidate compiled from policy sources (as `airlock build` does, in memory). Compile errors are
 * listed one per line as `file:line:col: code: message`, with the files' paths as found on disk.
 */
export function candidateFromSources(
  tree: SourceTree,
  origin: string,
  options: { entrypoints?: string[]; revision?: string } = {},
): Candidate {
  try {
    return { bundle: buildBundle(tree, options).bundle, origin };
  } catch (err) {
    throw new CandidateError(`${origin}: ${(err as Error).message}`);
  }
}
