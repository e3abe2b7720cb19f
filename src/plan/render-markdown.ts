// Plans as Markdown for a pull-request comment: a summary line a reviewer reads
// first, a table of what changes and why, and the full text plan folded away.
// Pure and deterministic like the other renderers, so it is golden-tested.

import type { ManifestsInvalidError } from '../errors.js';
import type { Plan } from './operations.js';
import { VERBS, changeCounts, operationTarget, releaseLines, renderText, revisionOf } from './render.js';

export function renderMarkdown(plan: Plan): string {
  const head = `**Capstan plan** for \`${plan.revision.slice(0, 7)}\` on instance \`${plan.instance}\``;
  if (plan.operations.length === 0) return `${head}: no changes.\n`;
  const rows = [...plan.operations]
    .sort((a, b) => a.stack.localeCompare(b.stack))
    .map((op) => `| ${cell(op.stack)} | ${cell(operationTarget(op))} | ${VERBS[op.kind]} | ${cell(op.cause)} |`);
  return [
    `${head}: ${changeCounts(plan)}.`,
    '',
    '| stack | target | action | cause |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    ...releaseLines(plan).flatMap((line) => [`Released as a ${inline(line)}`, '']),
    '<details><summary>Full plan</summary>',
    '',
    '```text',
    renderText(plan).trimEnd(),
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
}

/** An invalid ref: no plan, every problem as a list item with its `file:line:col`. */
export function renderMarkdownInvalid(err: ManifestsInvalidError, instance: string): string {
  const rev = revisionOf(err);
  const head = `**Capstan plan**${rev === null ? '' : ` for \`${rev.slice(0, 7)}\``} on instance \`${instance}\``;
  const items = err.errors.map((e) => {
    const key = e.path === '' ? '' : ` \`${e.path}\`:`;
    const hint = e.hint === undefined ? '' : ` (${e.hint})`;
    return `- \`${e.file}:${e.line}:${e.col}\`${key} ${inline(e.message)}${inline(hint)}`;
  });
  return [`${head}: the manifests are invalid, nothing can be applied (${err.message}).`, '', ...items, ''].join('\n');
}

/** Table cells: a pipe or a line break would end the cell. */
function cell(text: string): string {
  return inline(text).replace(/\|/g, '\\|');
}

function inline(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}
