// RFC 9728 protected resource metadata at each virtual server's own location: a client that
// derives the metadata URL from the MCP URL it was given (`https://h/mcp/devops` →
// `https://h/.well-known/oauth-protected-resource/mcp/devops`, RFC 9728 §3.1) finds it there, and
// its `resource` is that MCP URL (RFC 9728 §3.3). Issuers and scopes are the listener's.
import type { FastifyInstance } from 'fastify';
import { type Identity, WELL_KNOWN_PROTECTED_RESOURCE } from '../identity/index.js';

/** The MCP URL of virtual server `virtual` on the listener whose resource is `resource`. */
export function virtualResource(resource: string, virtual: string): string {
  return `${new URL(resource).origin}/mcp/${virtual}`;
}

/** Serves the metadata of every virtual server in `virtuals`, except at a path already served. */
export function serveVirtualMetadata(app: FastifyInstance, identity: Identity, virtuals: string[]): void {
  const base = new URL(identity.settings.resource).pathname.replace(/\/$/, '');
  for (const virtual of virtuals) {
    const path = `${WELL_KNOWN_PROTECTED_RESOURCE}/mcp/${virtual}`;
    // The identity plugin serves the resource's own path; a resource naming this virtual server is that.
    if (path === `${WELL_KNOWN_PROTECTED_RESOURCE}${base}`) continue;
    const resource = virtualResource(identity.settings.resource, virtual);
    app.get(path, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send({ ...identity.metadata(), resource }),
    );
  }
}
