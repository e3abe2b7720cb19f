import { describe, expect, it } from 'vitest';
import { pickTag, tagVersion } from '../../src/images/tag-pick.js';

const tags = ['latest', '1.4.1', '1.4.2', '1.4.10', '1.5.0', '1.6.0-rc.1', '2.0.0', 'v1.5.1', 'nightly', '1.5'];
const rule = (semver: string, tagPattern?: string) => ({ semver, tagPattern });

describe('pickTag', () => {
  it('takes the highest version inside the range, compared as versions, not text', () => {
    expect(pickTag('1.4.2', tags, rule('~1.4'))).toEqual({ kind: 'newer', tag: '1.4.10', from: '1.4.2', to: '1.4.10' });
    expect(pickTag('1.4.2', tags, rule('^1.4'))).toEqual({ kind: 'newer', tag: 'v1.5.1', from: '1.4.2', to: 'v1.5.1' });
  });

  it('never leaves the range and never goes down', () => {
    expect(pickTag('1.4.2', tags, rule('>=1.4 <1.5'))).toMatchObject({ to: '1.4.10' });
    expect(pickTag('2.0.0', tags, rule('^1.4'))).toEqual({ kind: 'current' });
    expect(pickTag('1.4.10', ['1.4.2', '1.4.10'], rule('~1.4'))).toEqual({ kind: 'current' });
  });

  it('takes pre-releases only when the range asks for them', () => {
    expect(pickTag('1.5.0', tags, rule('>=1.5.0 <1.7.0'))).toMatchObject({ to: 'v1.5.1' });
    expect(pickTag('1.5.0', tags, rule('>=1.6.0-rc.0 <1.7.0'))).toMatchObject({ to: '1.6.0-rc.1' });
  });

  it('with tag_pattern, only matching tags count and its version group is compared', () => {
    const alpine = ['7.4.0', '7.4.1', '7.4.0-alpine', '7.4.1-alpine', '7.4.2-bookworm', '7.2.5-alpine', '8.0.0-alpine'];
    const r = rule('~7.4', '^(?<version>\\d+\\.\\d+\\.\\d+)-alpine$');
    expect(pickTag('7.4.0-alpine', alpine, r)).toEqual({ kind: 'newer', tag: '7.4.1-alpine', from: '7.4.0-alpine', to: '7.4.1-alpine' });
    expect(tagVersion('7.4.2-bookworm', r)).toBeUndefined();
  });

  it('says so when the running tag is no version', () => {
    expect(pickTag('latest', tags, rule('^1'))).toMatchObject({ kind: 'unversioned' });
    expect(pickTag('7.4.0', ['7.4.1-alpine'], rule('~7.4', '-alpine$'))).toMatchObject({ kind: 'unversioned' });
  });
});
