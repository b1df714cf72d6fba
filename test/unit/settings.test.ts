/** parseSettings: autotunnel's own AUTOTUNNEL_* variables. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { parseSettings } from '../../src/config/settings.js';

function settingsError(env: Record<string, string | undefined>): ConfigError {
  let caught: unknown;
  try {
    parseSettings(env);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.exitCode, 78);
  return caught;
}

describe('parseSettings defaults', () => {
  test('nothing set: text logs at info, no state dir, no ssh override', () => {
    assert.deepEqual(parseSettings({}), { logFormat: 'text', logLevel: 'info' });
  });

  test('empty or blank values mean unset', () => {
    const blank = { AUTOTUNNEL_LOG_FORMAT: '', AUTOTUNNEL_LOG_LEVEL: '  ', AUTOTUNNEL_STATE_DIR: '\t', AUTOTUNNEL_SSH: '' };
    assert.deepEqual(parseSettings(blank), { logFormat: 'text', logLevel: 'info' });
    const s = parseSettings(blank);
    assert.equal('stateDir' in s, false);
    assert.equal('ssh' in s, false);
  });

  test('SSH_* variables are not settings', () => {
    assert.deepEqual(parseSettings({ SSH_MODE: '-L', SSH_OPTIONS: '-f' }), { logFormat: 'text', logLevel: 'info' });
  });
});

describe('AUTOTUNNEL_LOG_FORMAT', () => {
  test('text or json', () => {
    assert.equal(parseSettings({ AUTOTUNNEL_LOG_FORMAT: 'json' }).logFormat, 'json');
    assert.equal(parseSettings({ AUTOTUNNEL_LOG_FORMAT: 'text' }).logFormat, 'text');
    assert.equal(parseSettings({ AUTOTUNNEL_LOG_FORMAT: ' json ' }).logFormat, 'json');
    assert.equal(parseSettings({ AUTOTUNNEL_LOG_FORMAT: 'JSON' }).logFormat, 'json', 'any case, like the log level');
  });

  for (const bad of ['yaml', 'logfmt', 'txt']) {
    test(`${bad} is refused`, () => {
      const err = settingsError({ AUTOTUNNEL_LOG_FORMAT: bad });
      assert.deepEqual(err.problems, [
        { where: 'AUTOTUNNEL_LOG_FORMAT', value: bad, expected: 'expected "text" (readable lines, the default) or "json" (one JSON object per line)' },
      ]);
    });
  }
});

describe('AUTOTUNNEL_LOG_LEVEL', () => {
  test('debug, info, warn, error, any case', () => {
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      assert.equal(parseSettings({ AUTOTUNNEL_LOG_LEVEL: level }).logLevel, level);
      assert.equal(parseSettings({ AUTOTUNNEL_LOG_LEVEL: level.toUpperCase() }).logLevel, level);
    }
  });

  for (const bad of ['verbose', 'warning', 'trace', '2']) {
    test(`${bad} is refused`, () => {
      const err = settingsError({ AUTOTUNNEL_LOG_LEVEL: bad });
      assert.deepEqual(err.problems, [{ where: 'AUTOTUNNEL_LOG_LEVEL', value: bad, expected: 'expected debug, info (the default), warn or error' }]);
    });
  }
});

describe('AUTOTUNNEL_STATE_DIR', () => {
  test('an absolute path', () => {
    assert.deepEqual(parseSettings({ AUTOTUNNEL_STATE_DIR: '/data/autotunnel' }), { logFormat: 'text', logLevel: 'info', stateDir: '/data/autotunnel' });
    assert.equal(parseSettings({ AUTOTUNNEL_STATE_DIR: ' /data ' }).stateDir, '/data');
  });

  for (const bad of ['data', './state', '~/state', 'C:\\state']) {
    test(`${JSON.stringify(bad)} is refused`, () => {
      const err = settingsError({ AUTOTUNNEL_STATE_DIR: bad });
      assert.deepEqual(err.problems, [{ where: 'AUTOTUNNEL_STATE_DIR', value: bad, expected: 'expected an absolute path' }]);
    });
  }
});

describe('AUTOTUNNEL_SSH', () => {
  test('is passed through (trimmed) for the caller to resolve', () => {
    assert.equal(parseSettings({ AUTOTUNNEL_SSH: '/opt/openssh/bin/ssh' }).ssh, '/opt/openssh/bin/ssh');
    assert.equal(parseSettings({ AUTOTUNNEL_SSH: ' ssh ' }).ssh, 'ssh');
  });
});

describe('several bad settings', () => {
  test('are all reported in one error', () => {
    const err = settingsError({ AUTOTUNNEL_LOG_FORMAT: 'xml', AUTOTUNNEL_LOG_LEVEL: 'loud', AUTOTUNNEL_STATE_DIR: 'rel' });
    assert.deepEqual(err.problems.map((p) => [p.where, p.value]), [
      ['AUTOTUNNEL_LOG_FORMAT', 'xml'],
      ['AUTOTUNNEL_LOG_LEVEL', 'loud'],
      ['AUTOTUNNEL_STATE_DIR', 'rel'],
    ]);
    assert.equal(err.message.split('\n').length, 3);
    assert.equal(err.message.split('\n')[2], 'AUTOTUNNEL_STATE_DIR="rel": expected an absolute path');
  });
});
