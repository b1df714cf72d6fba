/** Conventional exit codes (sysexits.h), documented in the README. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 64;
export const EXIT_SOFTWARE = 70;
export const EXIT_CONFIG = 78;

/** One thing wrong with the configuration: where, what was given, what is expected. */
export interface ConfigProblem {
  /** The variable, flag or field, e.g. SSH_REMOTE_PORT. */
  where: string;
  /** The offending value as given (undefined when the problem is a missing value). */
  value?: string;
  /** What is expected or what to do instead. */
  expected: string;
}

/** All problems found in a configuration, reported together so one run shows every fix. */
export class ConfigError extends Error {
  readonly exitCode = EXIT_CONFIG;
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return p.value === undefined ? `${p.where}: ${p.expected}` : `${p.where}=${JSON.stringify(p.value)}: ${p.expected}`;
}

/** A command line the program cannot make sense of. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
