// The console for security teams (docs/console.md): sign-in with the OpenID issuer, sessions, CSRF,
// the approvals inbox, the audit explorer, policy status and what-if, served at /console/ on the
// agents' listener.
export { consoleApprover, installConsoleApprovals } from './approver-guard.js';
export type { ConsoleConfig } from './config.js';
export { ConsoleConfigError, createConsoleService } from './config.js';
export type { ConsolePluginOptions } from './plugin.js';
export { consolePlugin } from './plugin.js';
export { ConsoleService, DEFAULT_CONSOLE_ENTRYPOINT } from './service.js';
export { SessionStore } from './sessions.js';
export { SignIn, SignInError } from './signin.js';
