/** A strict reader of the Prometheus text format, for tests of /metrics. */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the text format (0.0.4): every sample belongs to a family declared by
 * HELP and TYPE before it, label values are properly quoted, values are numbers.
 */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') helps.add(meta[2]!);
      else {
        assert.ok(helps.has(meta[2]!), `HELP before TYPE for ${meta[2]}`);
        assert.ok(!types.has(meta[2]!), `one TYPE per family: ${meta[2]}`);
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a valid sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number: ${m[3]}`);
    const family = [...types.keys()].find((f) => m[1] === f || (types.get(f) === 'histogram' && /^_(bucket|sum|count)$/.test(m[1]!.slice(f.length)) && m[1]!.startsWith(f)));
    assert.ok(family, `the family of ${m[1]} was declared before it`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}
