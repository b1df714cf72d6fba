/**
 * Splits a string into words by POSIX shell quoting rules — and does nothing else a shell
 * would do: no variable, glob, tilde or command expansion, no operators. SSH_OPTIONS is split
 * this way so quoting works as users expect while no shell ever runs between config and ssh.
 */

export class ShellWordsError extends Error {
  constructor(
    message: string,
    /** 0-based index in the input where the problem is. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

export function splitShellWords(input: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    // Backslash-newline is a line continuation: removed entirely, so it neither starts nor ends a word.
    if (c === '\\' && input[i + 1] === '\n') {
      i += 2;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unbalanced single quote at position ${i + 1}`, i);
      word += input.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      i++;
      let closed = false;
      while (i < input.length) {
        const d = input[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        // Inside double quotes a backslash only escapes these characters (POSIX).
        if (d === '\\' && i + 1 < input.length && '$`"\\\n'.includes(input[i + 1]!)) {
          if (input[i + 1] !== '\n') word += input[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      if (!closed) throw new ShellWordsError(`unbalanced double quote at position ${start + 1}`, start);
    } else if (c === '\\') {
      if (i + 1 >= input.length) throw new ShellWordsError(`trailing backslash at position ${i + 1}`, i);
      word += input[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
