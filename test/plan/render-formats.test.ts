// Golden renders of the PR-review formats: Markdown for a comment and the
// documented JSON, for a plan with changes, an empty plan and an invalid ref.

import { describe, expect, it } from 'vitest';
import { ManifestsInvalidError, ValidationError } from '../../src/errors.js';
import type { ObservedContainer, ObservedState } from '../../src/observed/model.js';
import { planChanges } from '../../src/plan/planner.js';
import { renderMarkdown, renderMarkdownInvalid } from '../../src/plan/render-markdown.js';
import { renderJson, renderJsonInvalid } from '../../src/plan/render.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica } from '../helpers/specs.js';

function observed(containers: ObservedContainer[], withNetwork: boolean): ObservedState {
  return { instance: 'test', containers, networks: withNetwork ? [observedNetwork('web')] : [], volumes: [] };
}

const api = desiredService('web', 'api', { image: 'example/api:1.4.1' });
const worker = desiredService('web', 'worker', { image: 'example/worker:2' });
const bumped = desiredService('web', 'api', { image: 'example/api:1.4.2' });
const cache = desiredService('web', 'cache', { image: 'example/cache:7' });
const running = [observedReplica(api, 1), observedReplica(worker, 1)];
const changed = planChanges(desiredState(REV_B, [desiredStack('web', [bumped, worker, cache])]), observed(running, true));

const invalid = new ManifestsInvalidError([
  new ValidationError({ file: 'stacks/web.yaml', line: 4, col: 5 }, 'services.api.imagee', 'unknown key', 'did you mean "image"?'),
  new ValidationError({ file: 'stacks/db.yaml', line: 1, col: 1 }, '', 'not a mapping | list'),
], REV_A);

describe('markdown plan', () => {
  it('summarizes, tabulates and folds the full plan', () => {
    expect(renderMarkdown(changed)).toBe(`**Capstan plan** for \`bbbbbbb\` on instance \`test\`: 1 to create, 1 to recreate.

| stack | target | action | cause |
| --- | --- | --- | --- |
| web | web-api-1 | recreate | image example/api:1.4.1 → 1.4.2 |
| web | web-cache-1 | create | new service, 1 replica |

<details><summary>Full plan</summary>

\`\`\`text
Plan for bbbbbbb on instance test:
  web
    recreate web-api-1: image example/api:1.4.1 → 1.4.2
    create web-cache-1: new service, 1 replica
Summary: 1 to create, 1 to recreate.
\`\`\`

</details>
`);
  });

  it('says so in one line when nothing changes', () => {
    const same = planChanges(desiredState(REV_A, [desiredStack('web', [api, worker])]), observed(running, true));
    expect(renderMarkdown(same)).toBe('**Capstan plan** for `aaaaaaa` on instance `test`: no changes.\n');
  });

  it('lists every problem of an invalid ref with file:line:col', () => {
    expect(renderMarkdownInvalid(invalid, 'test')).toBe(`**Capstan plan** for \`aaaaaaa\` on instance \`test\`: the manifests are invalid, nothing can be applied (2 problems in manifests at aaaaaaa).

- \`stacks/web.yaml:4:5\` \`services.api.imagee\`: unknown key (did you mean "image"?)
- \`stacks/db.yaml:1:1\` not a mapping | list
`);
  });
});

describe('json plan', () => {
  it('has the documented shape for a plan with changes', () => {
    expect(JSON.parse(renderJson(changed))).toEqual({
      releases: [],
      revision: REV_B,
      instance: 'test',
      valid: true,
      changes: 2,
      operations: [
        { action: 'recreate-container', stack: 'web', service: 'api', target: 'web-api-1', cause: 'image example/api:1.4.1 → 1.4.2', phase: 2 },
        { action: 'create-container', stack: 'web', service: 'cache', target: 'web-cache-1', cause: 'new service, 1 replica', phase: 2 },
      ],
      services: changed.services,
      errors: [],
      held: [],
    });
  });

  it('has the same shape for an invalid ref, with positioned errors and nothing planned', () => {
    expect(renderJsonInvalid(invalid, 'test')).toBe(`{
  "revision": "${REV_A}",
  "instance": "test",
  "valid": false,
  "changes": 0,
  "operations": [],
  "services": [],
  "errors": [
    {
      "file": "stacks/web.yaml",
      "line": 4,
      "col": 5,
      "path": "services.api.imagee",
      "code": "E_VALIDATION",
      "message": "unknown key",
      "hint": "did you mean \\"image\\"?"
    },
    {
      "file": "stacks/db.yaml",
      "line": 1,
      "col": 1,
      "path": "",
      "code": "E_VALIDATION",
      "message": "not a mapping | list",
      "hint": null
    }
  ],
  "held": []
}
`);
  });
});
