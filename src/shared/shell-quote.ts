// Quoting for the two places a path of ours is read back by someone else's parser: a command line printed
// for a person to paste into a shell, and an ssh_config ProxyCommand (which ssh expands and runs with the
// user's shell). Install prefixes and checkouts may have spaces in them.

/** A word for a POSIX shell: as is when it is plain, else in single quotes. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A program path for an ssh ProxyCommand: ssh expands its % tokens first (%% is a literal %), then runs
 * the line with the user's shell.
 */
export function proxyCommandWord(path: string): string {
  return shellQuote(path.replace(/%/g, "%%"));
}
