// How a failure that ended a pass (or a fetch) is logged: an expected one is
// one line with its code, position and hint; a bug gets its stack trace.

import { CapstanError, ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export function logPassError(logger: Logger, error: Error): void {
  if (error instanceof ManifestsInvalidError) {
    for (const e of error.errors) logger.error({ file: e.file, line: e.line, col: e.col, code: e.code }, e.format());
    logger.error({ code: error.code, ...error.data }, `${error.message}; the last good revision keeps running`);
  } else if (error instanceof CapstanError) {
    logger.error({ code: error.code, ...error.data }, `${error.message}${error.hint ? ` (${error.hint})` : ''}`);
  } else {
    logger.error({ err: error }, `pass failed: ${error.message}`);
  }
}
