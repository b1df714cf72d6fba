/**
 * Reads a small text file (a config file, a secret) without trusting what the path names: a
 * device such as /dev/zero never ends, a FIFO blocks the open until a writer comes, and a huge
 * file would be read whole into memory. Only regular files, and only up to a limit.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** A tunnels file for 500 tunnels is about 100 kB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** A user name or a few host keys. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Thrown for a path that is not a regular file or is too large; `code` as Node's own errors. */
export class UnreadableFileError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTREG' | 'EFBIG',
  ) {
    super(message);
  }
}

export function readBoundedText(path: string, maxBytes: number): string {
  // stat before open: opening a FIFO for reading would wait for a writer forever.
  if (!statSync(path).isFile()) throw new UnreadableFileError('not a regular file (a device, FIFO or directory)', 'ENOTREG');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    // Checked again on what was opened: the path may have been replaced in between.
    if (!fstatSync(fd).isFile()) throw new UnreadableFileError('not a regular file (a device, FIFO or directory)', 'ENOTREG');
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new UnreadableFileError(`larger than ${maxBytes / 1024} kB`, 'EFBIG');
    }
    return buf.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * A secret file's text (a key's user name, a webhook URL, a control token), bounded; problems
 * come back as errors whose `code` says what is wrong in words, for "cannot read it (…)".
 */
export function readSecretFile(path: string): string {
  try {
    return readBoundedText(path, MAX_SECRET_BYTES);
  } catch (e) {
    throw e instanceof UnreadableFileError ? Object.assign(new Error(e.message), { code: e.message }) : e;
  }
}
