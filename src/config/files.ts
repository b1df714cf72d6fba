/** What the config parsers may know of a file, and why one that exists cannot be used. */

/** A file as a config parser sees it; the adapter (adapters/files.ts) reads it from the machine. */
export interface FileInfo {
  isFile: boolean;
  readable: boolean;
  /** A directory on the path cannot be searched by this user, so whether the file exists is unknown. */
  blocked?: boolean;
}

/** Why a file that exists (or may) cannot be used, naming the uid so the fix is obvious. */
export function unusableFile(info: FileInfo, what: string, uid: number | undefined): string {
  const who = uid === undefined ? 'this user' : `uid ${uid}`;
  if (info.blocked) return `cannot reach it: a directory on the path is not searchable by ${who}; make it searchable (chmod o+x, or g+x for a shared group) or mount the ${what} elsewhere`;
  if (!info.isFile) return `that is not a regular file; point it at the ${what}`;
  return `the file is not readable by ${who}: make it readable for that user (chown ${uid ?? 'USER'} FILE on the host, or mount it as a Docker secret)${what === 'private key' ? ' — autotunnel copies a key with too-open permissions to a private 0600 file itself' : ''}`;
}
