// Verb dispatch with systemd's messages (src/shared/verbs.c): an unknown verb gets a "did you mean" hint
// chosen the way strv_find_closest() chooses it, a missing verb lists the choices.

export interface VerbSpec {
  readonly name: string;
  readonly help?: string;
  /** Counting the verb itself, as systemd does; VERB_NOARG verbs take exactly 1. */
  readonly minArgs: number;
  readonly maxArgs: number;
}

export type VerbLookup<V extends VerbSpec> = { ok: true; verb: V; args: string[] } | { ok: false; message: string };

/** Byte-wise Damerau-Levenshtein (optimal string alignment) distance, as systemd's strlevenshtein(). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length === 0) return y.length;
  if (y.length === 0) return x.length;
  let t0 = new Array<number>(y.length + 1).fill(0);
  let t1 = Array.from({ length: y.length + 1 }, (_, i) => i);
  let t2 = new Array<number>(y.length + 1).fill(0);
  for (let i = 0; i < x.length; i++) {
    t2[0] = i + 1;
    for (let j = 0; j < y.length; j++) {
      let v = t1[j]! + (x[i] !== y[j] ? 1 : 0);
      if (i > 0 && j > 0 && x[i - 1] === y[j] && x[i] === y[j - 1] && v > t0[j - 1]! + 1) v = t0[j - 1]! + 1;
      if (v > t1[j + 1]! + 1) v = t1[j + 1]! + 1;
      if (v > t2[j]! + 1) v = t2[j]! + 1;
      t2[j + 1] = v;
    }
    [t0, t1, t2] = [t1, t2, t0];
  }
  return t1[y.length]!;
}

/** strv_find_closest(): the candidate `name` is a prefix of with the shortest rest, else the nearest within 5 edits. */
export function findClosest(candidates: readonly string[], name: string): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (!c.startsWith(name)) continue;
    const rest = Buffer.byteLength(c) - Buffer.byteLength(name);
    if (rest < bestDistance) {
      bestDistance = rest;
      best = c;
    }
  }
  if (best !== null) return best;
  for (const c of candidates) {
    const d = levenshtein(c, name);
    if (d > 5) continue;
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

/** dispatch_verb()'s checks, without running anything. */
export function findVerb<V extends VerbSpec>(verbs: readonly V[], args: readonly string[]): VerbLookup<V> {
  const name = args[0];
  const verb = name === undefined ? undefined : verbs.find((v) => v.name === name);
  if (!verb) {
    const names = verbs.map((v) => v.name);
    if (name !== undefined) {
      const found = findClosest(names, name);
      return {
        ok: false,
        message: found ? `Unknown command verb '${name}', did you mean '${found}'?` : `Unknown command verb '${name}'.`,
      };
    }
    return {
      ok: false,
      message: names.length >= 2 ? `Command verb required (one of ${names.join(", ")}).` : `Command verb '${names[0]}' required.`,
    };
  }
  if (args.length < verb.minArgs) return { ok: false, message: "Too few arguments." };
  if (args.length > verb.maxArgs) return { ok: false, message: "Too many arguments." };
  return { ok: true, verb, args: [...args] };
}
