/** Log lines: what a person reads (text) and what a machine reads (JSON), from the same events. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type LogFormat, type LogLevel } from '../../src/observe/logger.js';
import { logTunnelEvent } from '../../src/observe/event-log.js';
import { makeCause } from '../../src/ssh/causes.js';
import type { TunnelEvent } from '../../src/supervisor/events.js';

function capture(format: LogFormat, level: LogLevel = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ format, level, write: (l) => lines.push(l), now: () => new Date('2026-11-25T03:00:00.000Z') });
  return { logger, lines };
}

const down: TunnelEvent = {
  type: 'state',
  tunnel: 'db',
  at: 0,
  from: 'up',
  to: 'backoff',
  attempt: 3,
  delayMs: 400,
  upForMs: 12_345,
  cause: makeCause('remote_forward_failed', 'the server could not listen on port 4000 for the -R forward', {
    line: 'Error: remote port forwarding failed for listen port 4000',
    hint: 'set ClientAliveInterval',
  }),
};

describe('logger', () => {
  it('text: time, level, message, then key=value fields, quoting only where needed', () => {
    const { logger, lines } = capture('text');
    logger.log('warn', 'hello world', { tunnel: 'db', n: 3, say: 'two words', list: ['a', 'b'], gone: undefined });
    assert.deepEqual(lines, ['2026-11-25T03:00:00.000Z WARN  hello world  tunnel=db n=3 say="two words" list=a,b\n']);
  });

  it('json: one object per line, undefined fields dropped', () => {
    const { logger, lines } = capture('json');
    logger.log('info', 'hi', { tunnel: 'db', gone: undefined });
    assert.deepEqual(JSON.parse(lines[0]!), { time: '2026-11-25T03:00:00.000Z', level: 'info', msg: 'hi', tunnel: 'db' });
    assert.ok(lines[0]!.endsWith('\n') && !lines[0]!.slice(0, -1).includes('\n'));
  });

  it('levels below the threshold are dropped', () => {
    const { logger, lines } = capture('text', 'warn');
    logger.log('info', 'quiet');
    logger.log('error', 'loud');
    assert.equal(lines.length, 1);
    assert.equal(logger.enabled('debug'), false);
  });
});

describe('event log', () => {
  it('a down event says how long it was up, why in plain words, when it retries, and the fix', () => {
    const { logger, lines } = capture('json');
    logTunnelEvent(logger, down);
    const l = JSON.parse(lines[0]!);
    assert.equal(l.level, 'warn');
    assert.equal(l.msg, 'down after 12 s up: the server could not listen on port 4000 for the -R forward; retrying in 0.40 s');
    assert.equal(l.cause, 'remote_forward_failed');
    assert.equal(l.ssh_said, 'Error: remote port forwarding failed for listen port 4000');
    assert.equal(l.fix, 'set ClientAliveInterval');
    assert.equal(l.state, 'backoff');
    assert.equal(l.from, 'up');
  });

  it('a permanent cause is logged as an error', () => {
    const { logger, lines } = capture('json');
    logTunnelEvent(logger, { ...down, from: 'connecting', upForMs: undefined, cause: makeCause('permission_denied', 'denied') } as TunnelEvent);
    assert.equal(JSON.parse(lines[0]!).level, 'error');
  });

  it("ssh's own lines appear only at debug level", () => {
    const quiet = capture('text', 'info');
    logTunnelEvent(quiet.logger, { type: 'ssh', tunnel: 'db', at: 0, line: 'debug1: Connection established.', debug: true });
    assert.deepEqual(quiet.lines, []);
    const loud = capture('text', 'debug');
    logTunnelEvent(loud.logger, { type: 'ssh', tunnel: 'db', at: 0, line: 'Connection established.', debug: true });
    assert.match(loud.lines[0]!, /DEBUG ssh: Connection established\./);
  });

  it('up, connecting, removed', () => {
    const { logger, lines } = capture('text');
    logTunnelEvent(logger, { type: 'state', tunnel: 'db', at: 0, from: 'connecting', to: 'up', attempt: 1, pid: 42, connectMs: 170 });
    logTunnelEvent(logger, { type: 'removed', tunnel: 'db', at: 0 });
    assert.match(lines[0]!, /INFO  up: every forward works \(connected in 0\.17 s\)  tunnel=db state=up from=connecting attempt=1 pid=42 connect_ms=170/);
    assert.match(lines[1]!, /removed: no longer in the configuration  tunnel=db/);
  });
});
