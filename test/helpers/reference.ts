/**
 * The reference systemd binaries, for tests that compare against them.
 *
 * `scripts/fetch-reference [262|257|all]` unpacks Debian's systemd 262 (sid)
 * and 257 (trixie) into `<repo>/.reference/<version>/` (or
 * `$SYSTEMD_SSH_REFERENCE_DIR/<version>/`) and writes wrappers in its `bin/`
 * that run each tool like a normal program (same stdin/stdout/stderr and fds,
 * real argv[0]): systemd-ssh-proxy, systemd-ssh-generator, systemd-ssh-issue
 * (262 only), systemd-analyze, systemd-detect-virt.
 *
 * With SYSTEMD_SSH_REFERENCE_ARCH=arm64 (scripts/test-arm64), the same for
 * Debian's arm64 packages, from `<root>/arm64/<version>/`
 * (`scripts/fetch-reference --arch=arm64`), run under qemu-aarch64-static.
 *
 * API:
 *   referenceRoot(): string
 *     The directory holding all versions.
 *   referenceDir(version = "262"): string
 *     `<root>/<version>`, whether fetched or not.
 *   referenceTool(tool, version = "262"): string | null
 *     Path of the tool's wrapper; null when that version is not fetched or
 *     does not ship the tool.
 *   requireReference(version = "262"): Reference | null
 *     The fetched reference. When it is missing: throws if CI=true (a missing
 *     reference in CI is a failure, not a skip), else returns null so the
 *     caller can skip. `Reference.tool(name)` returns the wrapper path and
 *     throws if this version lacks the tool.
 *
 * Typical use:
 *   const ref = requireReference("262");
 *   describe.skipIf(!ref)("like systemd 262", () => {
 *     test("…", () => { Bun.spawnSync([ref!.tool("systemd-ssh-proxy"), …]); });
 *   });
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type ReferenceVersion = "262" | "257";

export type ReferenceToolName =
	| "systemd-ssh-proxy"
	| "systemd-ssh-generator"
	| "systemd-ssh-issue"
	| "systemd-analyze"
	| "systemd-detect-virt";

export interface Reference {
	/** The systemd major version: "262" or "257". */
	readonly version: ReferenceVersion;
	/** Exact Debian package version, e.g. "262.1-1". */
	readonly debianVersion: string;
	/** The unpacked tree, `<root>/<version>`. */
	readonly dir: string;
	/** Wrapper path of `name`; throws if this version does not ship it. */
	tool(name: ReferenceToolName): string;
	/** Whether this version ships `name` (systemd-ssh-issue is new in 262). */
	has(name: ReferenceToolName): boolean;
	/**
	 * argv that runs an ssh tool through the tree's own loader directly, without the bin/ wrapper: for
	 * callers that need no shell in between (the wrapper's dash complains in a deleted working
	 * directory, and needs $PATH). The tool sees its installed path as argv[0].
	 */
	direct(name: SshToolName): string[];
}

export type SshToolName = "systemd-ssh-proxy" | "systemd-ssh-generator" | "systemd-ssh-issue";

/** Where Debian installs each ssh tool. */
const INSTALLED: Record<SshToolName, string> = {
	"systemd-ssh-proxy": "/usr/lib/systemd/systemd-ssh-proxy",
	"systemd-ssh-generator": "/usr/lib/systemd/system-generators/systemd-ssh-generator",
	"systemd-ssh-issue": "/usr/lib/systemd/systemd-ssh-issue",
};

const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The architecture of the reference binaries, and how to run their loader. */
const ARCH = process.env.SYSTEMD_SSH_REFERENCE_ARCH === "arm64"
	? { dir: "arm64", triplet: "aarch64-linux-gnu", loader: "ld-linux-aarch64.so.1", emulator: [Bun.which("qemu-aarch64-static") ?? "qemu-aarch64-static"] }
	: { dir: "", triplet: "x86_64-linux-gnu", loader: "ld-linux-x86-64.so.2", emulator: [] as string[] };

export function referenceRoot(): string {
	const override = process.env.SYSTEMD_SSH_REFERENCE_DIR;
	return join(override ? resolve(override) : join(REPO_ROOT, ".reference"), ARCH.dir);
}

export function referenceDir(version: ReferenceVersion = "262"): string {
	return join(referenceRoot(), version);
}

/** scripts/fetch-reference writes packages.stamp last, once the tree works. */
function isFetched(dir: string): boolean {
	return existsSync(join(dir, "packages.stamp")) && existsSync(join(dir, "VERSION"));
}

export function referenceTool(tool: ReferenceToolName, version: ReferenceVersion = "262"): string | null {
	const dir = referenceDir(version);
	const path = join(dir, "bin", tool);
	return isFetched(dir) && existsSync(path) ? path : null;
}

export function requireReference(version: ReferenceVersion = "262"): Reference | null {
	const dir = referenceDir(version);
	if (!isFetched(dir)) {
		if (process.env.CI === "true") {
			throw new Error(`systemd ${version} reference missing in ${dir}: run scripts/fetch-reference ${version}`);
		}
		return null;
	}
	const debianVersion = readFileSync(join(dir, "VERSION"), "utf8").trim();
	return {
		version,
		debianVersion,
		dir,
		has: (name) => referenceTool(name, version) !== null,
		direct(name) {
			const lib = join(dir, "usr/lib", ARCH.triplet);
			const installed = INSTALLED[name];
			return [...ARCH.emulator, join(lib, ARCH.loader), "--library-path", `${lib}/systemd:${lib}`, "--argv0", installed, join(dir, installed.slice(1))];
		},
		tool(name) {
			const path = referenceTool(name, version);
			if (path === null) {
				throw new Error(`systemd ${debianVersion} (${dir}) has no ${name}`);
			}
			return path;
		},
	};
}
