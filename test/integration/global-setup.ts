// Integration tests run the built CLI against a real engine: make sure both
// are there and current (quiet and well under a second when they are).

import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('bash', ['scripts/setup.sh'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
