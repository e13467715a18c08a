// What a call throws, for tests that look into the error: the one of the expected class, or the test fails.

/** The error of class `type` that `f` throws; anything else thrown is rethrown, and no throw at all is an error. */
export function thrown<E>(f: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    f();
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`no ${type.name} thrown`);
}
