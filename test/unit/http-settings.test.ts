/** AUTOTUNNEL_HTTP: where the observability listener goes, and how clients reach it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { DEFAULT_HTTP_ADDRESS, parseHttpSettings } from '../../src/config/settings.js';
import { baseUrl } from '../../src/net/address.js';

const parse = (value: string | undefined) => parseHttpSettings({ AUTOTUNNEL_HTTP: value }).address;

describe('parseHttpSettings', () => {
  test('unset or blank: loopback port 9810', () => {
    assert.deepEqual(parse(undefined), { host: '127.0.0.1', port: 9810 });
    assert.deepEqual(parse('  '), DEFAULT_HTTP_ADDRESS);
  });

  test('"off" (any case) turns the listener off', () => {
    assert.equal(parse('off'), undefined);
    assert.equal(parse(' OFF '), undefined);
  });

  test('host:port, [v6]:port, a host name, a port alone', () => {
    assert.deepEqual(parse('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100 });
    assert.deepEqual(parse('[::]:9810'), { host: '::', port: 9810 });
    assert.deepEqual(parse('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parse('localhost:8080'), { host: 'localhost', port: 8080 });
    assert.deepEqual(parse('metrics.internal.example:80'), { host: 'metrics.internal.example', port: 80 });
    assert.deepEqual(parse('9811'), { host: '127.0.0.1', port: 9811 });
  });

  for (const bad of ['on', 'true', ':9810', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '::1:9810', '[::1]', '[nothost]:80', 'http://127.0.0.1:9810', 'a b:80', '1.2.3.4:123456', '-bad-:80']) {
    test(`refused with the variable, the value and what is expected: ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parse(bad),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.exitCode === 78 &&
          e.problems.length === 1 &&
          e.problems[0]!.where === 'AUTOTUNNEL_HTTP' &&
          e.problems[0]!.value === bad.trim() &&
          /host:port/.test(e.problems[0]!.expected),
      );
    });
  }
});

describe('baseUrl', () => {
  test('a wildcard bind is reached on loopback; IPv6 is bracketed; the bound port wins', () => {
    assert.equal(baseUrl({ host: '127.0.0.1', port: 9810 }), 'http://127.0.0.1:9810');
    assert.equal(baseUrl({ host: '0.0.0.0', port: 9810 }), 'http://127.0.0.1:9810');
    assert.equal(baseUrl({ host: '::', port: 9810 }), 'http://[::1]:9810');
    assert.equal(baseUrl({ host: '::1', port: 0 }, 43210), 'http://[::1]:43210');
  });
});
