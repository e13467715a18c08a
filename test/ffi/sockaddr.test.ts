// The SockAddr builder's layouts, checked against what the C compiler says about the real structs, for
// x86-64 (gcc) and aarch64 (gcc-aarch64-linux-gnu, the probe run under qemu-user).

import { describe, expect, test } from "bun:test";
import { sockaddr_un, sockaddr_vm } from "../../ffi/arch.ts";
import { abiTable, ARCHES } from "../helpers/abi-table.ts";
import {
  AF_UNIX, AF_VSOCK, SUN_PATH_SIZE,
  sockaddrUn, sockaddrVm,
} from "../../ffi/sockaddr.ts";
import { compileAndRun, requireCompilerFor } from "../helpers/cross-cc.ts";

// Prints the layout facts, then the bytes of a few addresses built the C way, one per line in hex.
const C_SOURCE = String.raw`
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

static void hex(const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *) p)[i]);
  printf("\n");
}

int main(void) {
  printf("AF_UNIX %d\nAF_VSOCK %d\n", AF_UNIX, AF_VSOCK);
  printf("sizeof_sockaddr_un %zu\noffsetof_sun_path %zu\nsizeof_sun_path %zu\n",
         sizeof(struct sockaddr_un), offsetof(struct sockaddr_un, sun_path), sizeof(((struct sockaddr_un){0}).sun_path));
  printf("sizeof_sockaddr_vm %zu\n", sizeof(struct sockaddr_vm));
  printf("offsetof_svm_family %zu\noffsetof_svm_reserved1 %zu\noffsetof_svm_port %zu\noffsetof_svm_cid %zu\n",
         offsetof(struct sockaddr_vm, svm_family), offsetof(struct sockaddr_vm, svm_reserved1),
         offsetof(struct sockaddr_vm, svm_port), offsetof(struct sockaddr_vm, svm_cid));
  printf("offsetof_svm_flags %zu\noffsetof_svm_zero %zu\n",
         offsetof(struct sockaddr_vm, svm_flags), offsetof(struct sockaddr_vm, svm_zero));

  struct sockaddr_un un = { .sun_family = AF_UNIX };
  strcpy(un.sun_path, "/run/ssh-unix-local/socket");
  hex(&un, offsetof(struct sockaddr_un, sun_path) + strlen(un.sun_path) + 1);

  struct sockaddr_un ab = { .sun_family = AF_UNIX };
  memcpy(ab.sun_path, "\0abstract", 9);
  hex(&ab, offsetof(struct sockaddr_un, sun_path) + 9);

  struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_port = 22, .svm_cid = 0x12345678 };
  hex(&vm, sizeof(vm));
  struct sockaddr_vm any = { .svm_family = AF_VSOCK, .svm_port = VMADDR_PORT_ANY, .svm_cid = VMADDR_CID_ANY };
  hex(&any, sizeof(any));
  return 0;
}
`;

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

for (const arch of ARCHES) {
  const run = requireCompilerFor(arch);
  describe.skipIf(!run)(`struct layouts match ${arch}'s C compiler`, () => {
    const out = run ? compileAndRun(C_SOURCE, arch).trim().split("\n") : [];
    const facts: Record<string, number> = Object.fromEntries(out.filter((l) => l.includes(" ")).map((l) => [l.split(" ")[0]!, Number(l.split(" ")[1])]));
    const samples = out.filter((l) => !l.includes(" "));

    // The builder below runs with this machine's table; the bytes it makes stand for `arch` because the
    // socket address parts of the two tables are the same (and ffi/arch.ts's test checks each against C).
    test("this architecture's socket address layout is the running one's", () => {
      const t = abiTable(arch);
      expect([t.sockaddr_un, t.sockaddr_vm, t.AF_UNIX, t.AF_VSOCK]).toEqual([sockaddr_un, sockaddr_vm, AF_UNIX, AF_VSOCK]);
    });

    test("constants and sockaddr_un", () => {
      expect(facts.AF_UNIX).toBe(AF_UNIX);
      expect(facts.AF_VSOCK).toBe(AF_VSOCK);
      expect(facts.sizeof_sockaddr_un).toBe(sockaddr_un.size);
      expect(facts.offsetof_sun_path).toBe(sockaddr_un.sun_path);
      expect(facts.sizeof_sun_path).toBe(SUN_PATH_SIZE);
    });

    test("sockaddr_vm", () => {
      expect(facts.sizeof_sockaddr_vm).toBe(sockaddr_vm.size);
      expect([facts.offsetof_svm_family, facts.offsetof_svm_reserved1, facts.offsetof_svm_port, facts.offsetof_svm_cid,
        facts.offsetof_svm_flags, facts.offsetof_svm_zero]).toEqual([0, 2, 4, 8, 12, 13]);
    });

    test("a path address: bytes and length include the terminating NUL", () => {
      const sa = sockaddrUn("/run/ssh-unix-local/socket");
      expect(sa.length).toBe(sockaddr_un.sun_path + "/run/ssh-unix-local/socket".length + 1);
      expect(toHex(sa.bytes)).toBe(samples[0]!);
    });

    test("an abstract address: leading NUL, exact length", () => {
      const sa = sockaddrUn("\0abstract");
      expect(sa.length).toBe(sockaddr_un.sun_path + 9);
      expect(toHex(sa.bytes)).toBe(samples[1]!);
    });

    test("vsock addresses", () => {
      expect(toHex(sockaddrVm(0x12345678, 22).bytes)).toBe(samples[2]!);
      expect(toHex(sockaddrVm(0xffffffff, 0xffffffff).bytes)).toBe(samples[3]!);
    });
  });
}

describe("limits", () => {
  test("the longest path that fits is 107 bytes; 108 does not", () => {
    expect(sockaddrUn(`/${"a".repeat(106)}`).length).toBe(sockaddr_un.size);
    expect(() => sockaddrUn(`/${"a".repeat(107)}`)).toThrow(RangeError);
  });
  test("abstract names may use all 108 bytes", () => {
    expect(sockaddrUn(`\0${"a".repeat(107)}`).length).toBe(sockaddr_un.size);
    expect(() => sockaddrUn(`\0${"a".repeat(108)}`)).toThrow(RangeError);
  });
  test("empty paths, embedded NULs and out-of-range vsock values are refused", () => {
    expect(() => sockaddrUn("")).toThrow(RangeError);
    expect(() => sockaddrUn("/a\0b")).toThrow(RangeError);
    expect(() => sockaddrVm(2 ** 32, 22)).toThrow(RangeError);
    expect(() => sockaddrVm(3, -1)).toThrow(RangeError);
  });
  test("each address owns its ArrayBuffer, sized to the struct", () => {
    const sa = sockaddrVm(3, 22);
    expect(sa.bytes.byteOffset).toBe(0);
    expect(sa.bytes.buffer.byteLength).toBe(sockaddr_vm.size);
  });
});
