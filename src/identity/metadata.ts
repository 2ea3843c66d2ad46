// OAuth 2.0 Protected Resource Metadata (RFC 9728) for Airlock as an MCP
// resource server, and the `WWW-Authenticate` challenges that point to it.
import type { IdentitySettings } from './config.js';
import type { BearerErrorCode } from './errors.js';

export const WELL_KNOWN_PROTECTED_RESOURCE = '/.well-known/oauth-protected-resource';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
}

export function protectedResourceMetadata(settings: IdentitySettings): ProtectedResourceMetadata {
  return {
    resource: settings.resource,
    authorization_servers: settings.issuers.map((i) => i.issuer),
    bearer_methods_supported: ['header'],
    ...(settings.scopesSupported.length > 0 ? { scopes_supported: settings.scopesSupported } : {}),
    ...(settings.resourceName ? { resource_name: settings.resourceName } : {}),
    ...(settings.resourceDocumentation ? { resource_documentation: settings.resourceDocumentation } : {}),
  };
}

/**
 * The metadata URL of RFC 9728 §3.1: the well-known segment is inserted
 * between the host and the resource's path (`https://h/mcp` →
 * `https://h/.well-known/oauth-protected-resource/mcp`).
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${WELL_KNOWN_PROTECTED_RESOURCE}${path}`;
}

/** The path part of the metadata URL (what the HTTP server must serve). */
export function resourceMetadataPath(resource: string): string {
  return new URL(resourceMetadataUrl(resource)).pathname;
}

function quoted(value: string): string {
  // RFC 9110 quoted-string: escape backslash and quote; drop control characters.
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, ' ')}"`;
}

/** A `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3, RFC 9728 §5.1). */
export function bearerChallenge(
  metadataUrl: string,
  error?: { code: BearerErrorCode; description?: string; scope?: readonly string[] },
): string {
  const params = [`resource_metadata=${quoted(metadataUrl)}`];
  if (error) {
    params.push(`error=${quoted(error.code)}`);
    if (error.description) params.push(`error_description=${quoted(error.description)}`);
    if (error.scope && error.scope.length > 0) params.push(`scope=${quoted(error.scope.join(' '))}`);
  }
  return `Bearer ${params.join(', ')}`;
}
