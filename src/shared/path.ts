// Path handling with systemd's rules (src/basic/path-util.c), for command-line paths: the exact string
// matters because it is what the tools print in their messages and what they hand to the kernel.

const NAME_MAX = 255;

/** Skip any run of "/" and "./". */
function skipSlashOrDot(p: string, i: number): number {
  while (i < p.length) {
    if (p[i] === "/") i++;
    else if (p.startsWith("./", i)) i += 2;
    else break;
  }
  return i;
}

/**
 * path_simplify(): collapse repeated slashes, drop "." components and the trailing slash, drop ".."
 * directly under "/" of an absolute path; other ".." stay. "" stays "", an emptied relative path is ".".
 * `byteString`: `path` is a byte string (src/shared/raw-bytes.ts), one character per byte; else a JS
 * string whose bytes are its UTF-8 encoding. (It matters for the length limit of a component.)
 */
export function pathSimplify(path: string, byteString = false): string {
  return alreadySimple(path) ? path : simplifyComponents(path, byteString);
}

/**
 * Whether path_simplify() leaves `path` as it is, found by a few searches of the whole string: most paths
 * the tools see are (every $PATH entry, every unit directory), and the generator's boot run would otherwise
 * walk each one component by component. A component longer than NAME_MAX changes nothing here: the walk
 * keeps it and the rest verbatim, and the rest passed the same searches.
 */
function alreadySimple(path: string): boolean {
  if (path === "") return true;
  if (path.includes("//") || path.includes("/./") || path.startsWith("./") || path.endsWith("/.")) return false;
  if (path.endsWith("/")) return path === "/";
  return !(path === "/.." || path.startsWith("/../"));
}

/** path_simplify() proper, component by component (exported for its tests, which check the shortcut against it). */
export function simplifyComponents(path: string, byteString = false): string {
  if (path === "") return path;
  const absolute = path[0] === "/";
  const out: string[] = [];
  let beginning = true;
  let i = absolute ? 1 : 0;
  for (;;) {
    const first = skipSlashOrDot(path, i);
    if (first >= path.length || path.slice(first) === ".") break;
    let end = path.indexOf("/", first);
    if (end < 0) end = path.length;
    const component = path.slice(first, end);
    if ((byteString ? component.length : Buffer.byteLength(component)) > NAME_MAX) {
      // An invalid component: systemd leaves the rest as it is.
      out.push(path.slice(first));
      break;
    }
    const next = skipSlashOrDot(path, end);
    i = path.slice(next) === "." ? next + 1 : next;
    if (absolute && beginning && component === "..") continue;
    beginning = false;
    out.push(component);
  }
  const joined = out.join("/");
  if (absolute) return `/${joined}`;
  return joined === "" ? "." : joined;
}

/** path_make_absolute_cwd() followed by path_simplify(), as parse_path_argument() does. */
export function absolutePathArgument(path: string, cwd: () => string, byteString = false): string {
  const abs = path.startsWith("/") ? path : pathJoin(cwd(), path);
  return pathSimplify(abs, byteString);
}

/** path_join() of two parts: a slash between them unless one is there already (so "a/" + "/b" keeps both). */
export function pathJoin(a: string, b: string): string {
  if (a === "") return b;
  if (b === "") return a;
  return a.endsWith("/") || b.startsWith("/") ? a + b : `${a}/${b}`;
}
