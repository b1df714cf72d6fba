/**
 * ssh(1)'s command-line grammar, scanned in one place for every parser of ssh words: the check
 * of extra options (SSH_OPTIONS, options:) and the ssh-style command line. A word is an operand
 * (not an option: the destination or a command), or a cluster of flags that may end in one
 * option taking a value (-vT, -p22, -p 22, -oKey=value).
 */

/** ssh(1) options that take an argument (OpenSSH 9.x getopt string). */
export const WITH_ARGUMENT = new Set('bceilmopBDEFIJLOPQRSwW'.split(''));
/** ssh(1) options that are plain flags. */
export const FLAGS = new Set('1246afgknqstvxACGKMNTVXYy'.split(''));

export interface SshWordsVisitor {
  /** A word that is not an option ("--", "-" and words not starting with "-"). 'stop' ends the scan. */
  operand(word: string, at: number): 'stop' | void;
  /** A letter that takes no value (`known`: one of ssh's flags). Return false to skip the rest of the word. */
  flag(letter: string, known: boolean): boolean | void;
  /** An option and its value; `value` is undefined when the words end before it. */
  option(letter: string, value: string | undefined): void;
  /** Called after each option word's cluster. */
  endOfWord?(): void;
}

export function scanSshOptions(words: readonly string[], visit: SshWordsVisitor): void {
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--' || !word.startsWith('-') || word === '-') {
      if (visit.operand(word, i) === 'stop') return;
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (WITH_ARGUMENT.has(letter)) {
        let value: string | undefined = word.slice(j + 1);
        if (value === '') value = i + 1 < words.length ? words[++i]! : undefined;
        visit.option(letter, value);
        break;
      }
      if (visit.flag(letter, FLAGS.has(letter)) === false) break;
    }
    visit.endOfWord?.();
  }
}

/** A `-o` value split into its keyword and value; undefined when it is not `Keyword=value`. */
export function splitKeyword(setting: string): { keyword: string; value: string } | undefined {
  // Keywords may contain digits (ForwardX11, PKCS11Provider).
  const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=|\s)\s*(.*)$/.exec(setting);
  return match ? { keyword: match[1]!, value: match[2]! } : undefined;
}
