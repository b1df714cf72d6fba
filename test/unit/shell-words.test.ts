/**
 * splitShellWords: POSIX shell quoting, and nothing else a shell does (no expansion of any kind).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ShellWordsError, splitShellWords } from '../../src/config/shell-words.js';

function split(input: string): string[] {
  return splitShellWords(input);
}

function splitError(input: string): ShellWordsError {
  let caught: unknown;
  try {
    splitShellWords(input);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ShellWordsError, `expected a ShellWordsError for ${JSON.stringify(input)}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, 'ShellWordsError');
  return caught;
}

describe('whitespace', () => {
  test('empty and blank input give no words', () => {
    assert.deepEqual(split(''), []);
    assert.deepEqual(split('   '), []);
    assert.deepEqual(split(' \t\n\r '), []);
  });

  test('spaces, tabs, newlines and carriage returns separate words; runs of them count once', () => {
    assert.deepEqual(split('a b'), ['a', 'b']);
    assert.deepEqual(split('  a   b  '), ['a', 'b']);
    assert.deepEqual(split('a\tb\nc\r\nd'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(split('-o\tA=b\n-v'), ['-o', 'A=b', '-v']);
  });
});

describe('single quotes', () => {
  test('keep everything literally, including spaces and backslashes', () => {
    assert.deepEqual(split("'a b'"), ['a b']);
    assert.deepEqual(split("'a\\b'"), ['a\\b']);
    assert.deepEqual(split("'a\\'"), ['a\\']);
    assert.deepEqual(split(`'say "hi"'`), ['say "hi"']);
    assert.deepEqual(split("'a\tb\nc'"), ['a\tb\nc']);
  });

  test('do not expand variables, commands or globs', () => {
    assert.deepEqual(split("'$HOME' '$(id)' '`id`' '*'"), ['$HOME', '$(id)', '`id`', '*']);
  });
});

describe('double quotes', () => {
  test('keep spaces, tabs and newlines', () => {
    assert.deepEqual(split('"a b"'), ['a b']);
    assert.deepEqual(split('"a\tb\nc"'), ['a\tb\nc']);
    assert.deepEqual(split(`"it's"`), ["it's"]);
  });

  test('a backslash escapes only $ ` " \\ and newline', () => {
    assert.deepEqual(split('"a\\"b"'), ['a"b']);
    assert.deepEqual(split('"a\\\\b"'), ['a\\b']);
    assert.deepEqual(split('"\\$HOME"'), ['$HOME']);
    assert.deepEqual(split('"\\`id\\`"'), ['`id`']);
    // before any other character the backslash stays
    assert.deepEqual(split('"a\\nb"'), ['a\\nb']);
    assert.deepEqual(split('"\\a\\ b"'), ['\\a\\ b']);
    assert.deepEqual(split(`"\\'"`), ["\\'"]);
  });

  test('backslash-newline inside double quotes is a line continuation (removed)', () => {
    assert.deepEqual(split('"a\\\nb"'), ['ab']);
  });

  test('do not expand $VAR, ${VAR}, $(cmd) or `cmd`', () => {
    assert.deepEqual(split('"$HOME" "${USER}" "$(id)" "`id`"'), ['$HOME', '${USER}', '$(id)', '`id`']);
  });

  test('a realistic ProxyCommand', () => {
    assert.deepEqual(split('-o "ProxyCommand=nc -x proxy:1080 %h %p"'), ['-o', 'ProxyCommand=nc -x proxy:1080 %h %p']);
  });
});

describe('backslash outside quotes', () => {
  test('escapes the next character, whatever it is', () => {
    assert.deepEqual(split('a\\ b'), ['a b']);
    assert.deepEqual(split('\\"'), ['"']);
    assert.deepEqual(split("\\'"), ["'"]);
    assert.deepEqual(split('\\\\'), ['\\']);
    assert.deepEqual(split('\\$HOME'), ['$HOME']);
    assert.deepEqual(split('\\a'), ['a']);
    assert.deepEqual(split('a\\\tb'), ['a\tb']);
  });

  test('backslash-newline is a line continuation: removed, joining the word around it', () => {
    assert.deepEqual(split('a\\\nb'), ['ab']);
    assert.deepEqual(split('-o A=b \\\n-v'), ['-o', 'A=b', '-v']);
  });

  test('backslash-newline between words produces no empty word', () => {
    assert.deepEqual(split('-v \\\n  -T'), ['-v', '-T']);
    assert.deepEqual(split('\\\n'), []);
    assert.deepEqual(split('-v \\\n'), ['-v']);
  });
});

describe('words made of several parts', () => {
  test('adjacent quoted and unquoted parts form one word', () => {
    assert.deepEqual(split(`a'b c'"d e"f`), ['ab cd ef']);
    assert.deepEqual(split(`-o'ProxyJump bastion'`), ['-oProxyJump bastion']);
    assert.deepEqual(split(`-o"Key=a b"'c'`), ['-oKey=a bc']);
    assert.deepEqual(split(`a\\ b'c'`), ['a bc']);
  });

  test('empty quotes make an empty word on their own, nothing inside a word', () => {
    assert.deepEqual(split("''"), ['']);
    assert.deepEqual(split('""'), ['']);
    assert.deepEqual(split(`a '' b "" c`), ['a', '', 'b', '', 'c']);
    assert.deepEqual(split(`a''b""c`), ['abc']);
  });
});

describe('no shell features', () => {
  test('variables, command substitution, globs, tildes, operators and comments are plain text', () => {
    assert.deepEqual(split('$HOME ${X} $(id) `id` *.txt ? [ab] ~ ~/x a;b c|d e&f >g <h #c {a,b}'), [
      '$HOME', '${X}', '$(id)', '`id`', '*.txt', '?', '[ab]', '~', '~/x', 'a;b', 'c|d', 'e&f', '>g', '<h', '#c', '{a,b}',
    ]);
  });

  test('operators do not split words', () => {
    assert.deepEqual(split('a;b&&c||d'), ['a;b&&c||d']);
  });

  test('non-ASCII text passes through', () => {
    assert.deepEqual(split('é "ü ß" 日本'), ['é', 'ü ß', '日本']);
  });
});

describe('errors carry the position of the problem', () => {
  test('unbalanced single quote', () => {
    const e = splitError("a 'b");
    assert.equal(e.index, 2);
    assert.equal(e.message, 'unbalanced single quote at position 3');
  });

  test('a closing single quote then a new opening one', () => {
    const e = splitError("'a'b'");
    assert.equal(e.index, 4);
    assert.equal(e.message, 'unbalanced single quote at position 5');
  });

  test('unbalanced double quote', () => {
    const e = splitError('-o "ProxyCommand=nc x');
    assert.equal(e.index, 3);
    assert.equal(e.message, 'unbalanced double quote at position 4');
  });

  test('an escaped double quote does not close the string', () => {
    const e = splitError('"a\\"');
    assert.equal(e.index, 0);
    assert.equal(e.message, 'unbalanced double quote at position 1');
  });

  test('a double quote inside single quotes does not count, and vice versa', () => {
    assert.deepEqual(split(`'"' "'"`), ['"', "'"]);
    const e = splitError(`'"' "`);
    assert.equal(e.index, 4);
  });

  test('trailing backslash', () => {
    const e = splitError('abc\\');
    assert.equal(e.index, 3);
    assert.equal(e.message, 'trailing backslash at position 4');
  });
});
