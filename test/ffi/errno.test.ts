import { expect, test } from "bun:test";
import { Errno, errnoCode, type ErrnoName } from "../../ffi/errno.ts";

test("errnoCode names a number the way strerrorname_np() does: never by an alias", () => {
  expect(errnoCode(Errno.EAGAIN)).toBe("EAGAIN"); // not EWOULDBLOCK
  expect(errnoCode(Errno.EDEADLK)).toBe("EDEADLK"); // not EDEADLOCK
  expect(errnoCode(Errno.EOPNOTSUPP)).toBe("EOPNOTSUPP"); // not ENOTSUP
});

test("errnoCode gives every other name back for its number, and E<number> for numbers Linux does not name", () => {
  const aliases = new Set(["EWOULDBLOCK", "EDEADLOCK", "ENOTSUP"]);
  // The enum's object maps numbers back to names too: those keys are digits.
  const names = Object.keys(Errno).filter((k) => !/^[0-9]+$/.test(k)) as ErrnoName[];
  expect(names).toHaveLength(134);
  for (const name of names) if (!aliases.has(name)) expect(errnoCode(Errno[name])).toBe(name);
  expect(errnoCode(41)).toBe("E41");
  expect(errnoCode(0)).toBe("E0");
  expect(errnoCode(4095)).toBe("E4095");
});
