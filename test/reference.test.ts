// The reference wrappers from scripts/fetch-reference run like the installed
// programs. Skipped when the 262 reference is not fetched, except in CI.
import { describe, expect, test } from "bun:test";
import { requireReference } from "./helpers/reference.ts";

const ref = requireReference("262");

describe.skipIf(!ref)("systemd 262 reference wrappers", () => {
	test("systemd-detect-virt --version says systemd 262", () => {
		const r = Bun.spawnSync([ref!.tool("systemd-detect-virt"), "--version"]);
		expect(r.exitCode).toBe(0);
		expect(r.stdout.toString()).toStartWith(`systemd 262 (${ref!.debianVersion})\n`);
	});

	test("systemd-ssh-proxy without arguments fails like systemd's", () => {
		const r = Bun.spawnSync([ref!.tool("systemd-ssh-proxy")], { stdin: "ignore" });
		expect(r.exitCode).toBe(1);
		expect(r.stdout.toString()).toBe("");
		expect(r.stderr.toString()).toBe("Expected two arguments: host and port.\n");
	});

	test("systemd-detect-virt --help names the program", () => {
		// systemd 262 starts its help text with "> NAME [OPTION…]".
		const r = Bun.spawnSync([ref!.tool("systemd-detect-virt"), "--help"]);
		expect(r.exitCode).toBe(0);
		expect(r.stdout.toString()).toStartWith("> systemd-detect-virt [OPTION…]\n");
	});
});
