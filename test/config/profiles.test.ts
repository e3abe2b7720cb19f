// Active Compose profiles come from --profile, else COMPOSE_PROFILES, as with docker compose.
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';

describe('profiles setting', () => {
  it('reads COMPOSE_PROFILES as a comma-separated list; the flag wins; none by default', () => {
    expect(resolveSettings({}, {}).profiles).toEqual([]);
    expect(resolveSettings({}, { COMPOSE_PROFILES: 'debug, tools,' }).profiles).toEqual(['debug', 'tools']);
    expect(resolveSettings({ profiles: 'web' }, { COMPOSE_PROFILES: 'debug' }).profiles).toEqual(['web']);
  });
});
