/** What no two tunnels of one file may share: a name, or a local port or socket to listen on. */
import type { Node } from 'yaml';
import type { Forward, TunnelSpec } from './spec.js';
import type { YamlReader } from './yaml-reader.js';
import { sameListener } from './field-checks.js';

/** A tunnel's YAML nodes, for conflict errors that point at both places. */
export interface Origin {
  name: Node;
  forwards: Node[];
}

/** Duplicate names, and two tunnels (or forwards) listening on the same local port or socket. */
export function checkConflicts(r: YamlReader, tunnels: Array<{ spec: TunnelSpec; origin: Origin }>): void {
  const names = new Map<string, Origin>();
  const listeners: Array<{ spec: TunnelSpec; f: Forward; node: Node }> = [];
  for (const { spec, origin } of tunnels) {
    const first = names.get(spec.name);
    if (first) r.fail(origin.name, 'name', spec.name, `the name "${spec.name}" is already used at ${r.at(first.name)}; names must be unique`);
    else names.set(spec.name, origin);
    spec.forwards.forEach((f, i) => {
      if (f.kind === 'remote') return;
      const node = origin.forwards[i]!;
      const clash = listeners.find(({ f: g }) => sameListener(f, g));
      if (clash) {
        const what = f.bindSocket ?? `port ${f.bindPort}`;
        r.fail(node, `${spec.name}.forwards[${i}]`, undefined, `local ${what} is already claimed by tunnel "${clash.spec.name}" at ${r.at(clash.node)}; give each local listener its own port`);
      } else listeners.push({ spec, f, node });
    });
  }
}
