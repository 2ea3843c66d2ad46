// An API under test: the fixture bundle, a fresh database (audit + live data), a static admin token
// for subject "root" (group admins, allowed by the fixture's admin policy) and one for "intern"
// (no group: the admin policy refuses it).
import {
  type ApiOptions,
  auditDecisionLog,
  buildApi,
  staticTokenAuthenticator,
} from '../../src/api/index.js';
import { Engine, filesFromTarball, LiveData } from '../../src/engine/index.js';
import { fixtureBundle, openStore } from '../engine/fixture.js';

export const ADMIN_TOKEN = 'admin-token-for-tests';
export const INTERN_TOKEN = 'intern-token-for-tests';

export async function harness(backend: 'pglite' | 'postgres' = 'pglite', options: Partial<ApiOptions> = {}) {
  const engine = new Engine();
  await engine.loadFiles(await filesFromTarball(await fixtureBundle('api-1')), 'test');
  const { store, drop } = await openStore(backend);
  const liveData = await LiveData.open(store.db, engine, { pollIntervalMs: 0 });
  const api = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine,
    liveData,
    log: auditDecisionLog(store),
    admin: staticTokenAuthenticator([
      { token: ADMIN_TOKEN, sub: 'root', groups: ['admins'] },
      { token: INTERN_TOKEN, sub: 'intern', groups: [] },
    ]),
    ...options,
  });
  return {
    ...api,
    engine,
    store,
    liveData,
    async close() {
      await api.app.close();
      liveData.stop();
      await drop();
    },
  };
}

export const call = (sub: string, tool = 'get_file') => ({
  user: { sub },
  agent: { id: 'devops-agent' },
  tool: { name: tool },
});
