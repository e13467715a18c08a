// Constants of glibc and of systemd's C string handling that several of our parsers and the logger share.

/** glibc's LINE_MAX: the size of systemd's line and message buffers, the terminating NUL included. */
export const LINE_MAX = 2048;

/** systemd's WHITESPACE: the bytes its string splitting and stripping skip. */
export const WHITESPACE = " \t\n\r";

/** Whether the character code `c` is one of WHITESPACE's bytes. */
export const isWhitespace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
