/**
 * A YAML document read with source positions: every value is checked where it is read, and
 * every problem carries file:line:column, the field's path, the value and what is expected.
 * Generic: it knows YAML, "${VAR}" references and the shapes of values, not the tunnel schema
 * (that is file.ts).
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Scalar } from 'yaml';
import type { ConfigProblem } from './errors.js';
import { splitShellWords, ShellWordsError } from './shell-words.js';
import { parseBoolean, parseWholeNumber } from './validate.js';
import { durationProblem, nulProblem } from './field-checks.js';

/** Parses `text`; syntax errors come back as problems, with no document to read. */
export function readYaml(file: string, text: string, env: Record<string, string | undefined>): { reader: YamlReader; root: Node | null } {
  const lc = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  const reader = new YamlReader(file, lc, env);
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    reader.problems.push({ where: pos ? `${file}:${pos.line}:${pos.col}` : file, expected: `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
  }
  return { reader, root: doc.contents as Node | null };
}

export class YamlReader {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
    /** Where ${VAR} in a value is looked up. */
    private readonly env: Record<string, string | undefined>,
  ) {}

  at(node: Node | null | undefined): string {
    const offset = node?.range?.[0];
    if (offset === undefined) return this.file;
    const { line, col } = this.lc.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }
  fail(node: Node | null | undefined, path: string, value: string | undefined, expected: string): undefined {
    this.problems.push({ where: `${this.at(node)} ${path}`, ...(value !== undefined ? { value } : {}), expected });
    return undefined;
  }

  /** A mapping with only the allowed keys; returns key → value node (and the key node, for errors). */
  map(node: Node | null | undefined, path: string, allowed: string[]): Map<string, { key: Scalar; value: Node | null }> | undefined {
    if (!isMap(node)) return this.fail(node, path, raw(node), `expected a mapping with keys: ${allowed.join(', ')}`);
    const out = new Map<string, { key: Scalar; value: Node | null }>();
    for (const pair of node.items) {
      const key = pair.key as Scalar;
      const name = String(isScalar(key) ? key.value : key);
      if (!allowed.includes(name)) {
        const guess = closest(name, allowed);
        this.fail(key, `${path}.${name}`, undefined, `unknown key "${name}"${guess ? `; did you mean "${guess}"?` : ''} (allowed here: ${allowed.join(', ')})`);
        continue;
      }
      out.set(name, { key, value: (pair.value as Node | null) ?? null });
    }
    return out;
  }

  /** A string, with ${VAR} and ${VAR:-default} taken from the environment. */
  string(node: Node | null | undefined, path: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      return this.fail(node, path, raw(node), 'expected a text value');
    }
    const text = String(node.value);
    let missing: string | undefined;
    const out = text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, name: string | undefined, fallback: string | undefined) => {
      if (m === '$$') return '$';
      // Own variables only: ${constructor} must not find Object.prototype's.
      const v = Object.hasOwn(this.env, name!) ? this.env[name!] : undefined;
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      missing ??= name;
      return '';
    });
    if (missing) return this.fail(node, path, text, `the environment variable ${missing} is not set; set it, or give a default as \${${missing}:-value}`);
    const nul = nulProblem(out);
    if (nul) return this.fail(node, path, out, nul);
    return out;
  }

  int(node: Node | null | undefined, path: string, min: number, max: number, expected: string): number | undefined {
    const text = this.string(node, path);
    if (text === undefined) return undefined;
    const n = parseWholeNumber(text.trim());
    if (n === undefined || n < min || n > max) return this.fail(node, path, text, expected);
    return n;
  }

  /** Seconds: 10, 0.5, "10s", "500ms", "2m". */
  seconds(node: Node | null | undefined, path: string, min: number, max = Infinity): number | undefined {
    const text = this.string(node, path);
    if (text === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text.trim());
    const value = m ? Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1) : NaN;
    if (!(value >= min)) return this.fail(node, path, text, `expected a duration of at least ${min} s, e.g. 10, 0.5, "500ms" or "2m"`);
    const tooLong = durationProblem(value, max);
    if (tooLong) return this.fail(node, path, text, tooLong);
    return value;
  }

  bool(node: Node | null | undefined, path: string): boolean | undefined {
    const text = this.string(node, path);
    if (text === undefined) return undefined;
    const b = parseBoolean(text);
    if (b === undefined) return this.fail(node, path, text, 'expected true or false');
    return b;
  }

  /** A list of strings, or one string (split by shell rules when `split`). */
  strings(node: Node | null | undefined, path: string, split: boolean): string[] | undefined {
    if (isSeq(node)) {
      const out: string[] = [];
      node.items.forEach((item, i) => {
        const s = this.string(item as Node, `${path}[${i}]`);
        if (s !== undefined) out.push(s);
      });
      return out;
    }
    const text = this.string(node, path);
    if (text === undefined) return undefined;
    if (!split) return text.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      return splitShellWords(text);
    } catch (e) {
      if (!(e instanceof ShellWordsError)) throw e;
      return this.fail(node, path, text, `${e.message}; quote as in a shell, or write a list`);
    }
  }
}

/** A node's text as shown in a problem (undefined for a missing value). */
export function raw(node: Node | null | undefined): string | undefined {
  if (node === null || node === undefined) return undefined;
  // An empty value (`key:` with nothing after it) is shown as missing, not as "null".
  if (isScalar(node)) return node.value === null ? undefined : String(node.value);
  return node.toString().trim().slice(0, 80);
}

/** The allowed word nearest to a typo, if it is near enough to be a likely meaning. */
function closest(word: string, options: string[]): string | undefined {
  let best: { o: string; d: number } | undefined;
  for (const o of options) {
    const d = distance(word.toLowerCase(), o);
    if (!best || d < best.d) best = { o, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.o : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
