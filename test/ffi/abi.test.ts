// ffi/arch.ts, the one place of the Linux numbers and struct layouts ffi/ uses, checked for both
// architectures (each put together as a table by test/helpers/abi-table.ts) against their C headers: a
// probe compiled with gcc (x86-64) and gcc-aarch64-linux-gnu (aarch64, run under qemu-user) prints every
// constant, sizeof and offsetof under the table's own names.

import { describe, expect, test } from "bun:test";
import { constants } from "node:fs";
import * as arch from "../../ffi/arch.ts";
import type { Abi } from "../../ffi/arch.ts";
import { abiTable, ARCHES, runningAbi } from "../helpers/abi-table.ts";
import { compileAndRun, parseFacts, requireCompilerFor } from "../helpers/cross-cc.ts";

const CONSTANTS = [
  "O_RDONLY", "O_WRONLY", "O_CREAT", "O_EXCL", "O_NONBLOCK", "O_CLOEXEC", "O_PATH",
  "F_GETFL", "F_SETFL", "F_SETPIPE_SZ", "SPLICE_F_MOVE", "SPLICE_F_NONBLOCK",
  "AT_FDCWD", "AT_SYMLINK_NOFOLLOW", "STATX_TYPE", "STATX_SIZE", "F_OK", "X_OK", "W_OK",
  "RLIMIT_NOFILE", "EPOLL_CLOEXEC", "EPOLL_CTL_ADD", "EPOLLIN", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP", "EPOLLET",
  "PROT_READ", "PROT_WRITE", "PROT_EXEC", "MAP_PRIVATE", "MAP_ANONYMOUS",
  "POLLIN", "POLLOUT", "POLLERR", "POLLHUP",
  "AF_UNIX", "AF_VSOCK", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_SEQPACKET",
  "SOCK_CLOEXEC", "SOL_SOCKET", "SO_TYPE", "SO_PEERCRED", "SO_DOMAIN", "SO_RCVTIMEO", "SCM_RIGHTS", "MSG_PEEK",
  "MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_CMSG_CLOEXEC", "SHUT_WR", "FIONREAD",
  "IOCTL_VM_SOCKETS_GET_LOCAL_CID", "VMADDR_CID_ANY", "VMADDR_PORT_ANY",
  "S_IFMT", "S_IFSOCK", "S_IFIFO", "S_IFCHR", "S_IFREG", "S_IFDIR", "S_IFBLK", "S_IFLNK",
] as const satisfies readonly (keyof Abi)[];

// struct name in the table -> C type and the members to print; "size" is sizeof, the rest offsetof.
const STRUCTS: Record<string, [string, string[]]> = {
  stat: ["struct stat", ["st_dev", "st_ino", "st_mode"]],
  statx: ["struct statx", ["stx_mode", "stx_size"]],
  epoll_event: ["struct epoll_event", ["events", "data"]],
  rlimit: ["struct rlimit", ["rlim_cur", "rlim_max"]],
  pollfd: ["struct pollfd", ["fd", "events", "revents"]],
  msghdr: ["struct msghdr", ["msg_name", "msg_namelen", "msg_iov", "msg_iovlen", "msg_control", "msg_controllen", "msg_flags"]],
  iovec: ["struct iovec", ["iov_base", "iov_len"]],
  cmsghdr: ["struct cmsghdr", ["cmsg_len", "cmsg_level", "cmsg_type"]],
  ucred: ["struct ucred", ["pid", "uid", "gid"]],
  timeval: ["struct timeval", ["tv_sec", "tv_usec"]],
  sockaddr_un: ["struct sockaddr_un", ["sun_family", "sun_path"]],
  sockaddr_vm: ["struct sockaddr_vm", ["svm_family", "svm_reserved1", "svm_port", "svm_cid", "svm_flags", "svm_zero"]],
};

function probeSource(): string {
  const lines = [
    "#define _GNU_SOURCE",
    ...["stddef.h", "stdio.h", "fcntl.h", "poll.h", "sys/epoll.h", "sys/ioctl.h", "sys/mman.h", "sys/resource.h", "sys/socket.h", "sys/stat.h", "sys/time.h", "sys/uio.h",
      "sys/un.h", "unistd.h", "linux/vm_sockets.h"].map((h) => `#include <${h}>`),
    "int main(void) {",
    "  struct cmsghdr c;",
    ...CONSTANTS.map((c) => `  printf("${c} %lld\\n", (long long) (${c}));`),
    ...Object.entries(STRUCTS).flatMap(([name, [type, members]]) => [
      `  printf("${name}.size %zu\\n", sizeof(${type}));`,
      ...members.map((m) => `  printf("${name}.${m} %zu\\n", offsetof(${type}, ${m}));`),
    ]),
    `  printf("cmsghdr.data %zu\\n", (size_t) ((unsigned char *) CMSG_DATA(&c) - (unsigned char *) &c));`,
    `  printf("cmsghdr.lenInt %zu\\ncmsghdr.spaceInt %zu\\n", (size_t) CMSG_LEN(sizeof(int)), (size_t) CMSG_SPACE(sizeof(int)));`,
    `  printf("sockaddr_un.sun_path_size %zu\\n", sizeof(((struct sockaddr_un){0}).sun_path));`,
    "  return 0;",
    "}",
  ];
  return lines.join("\n") + "\n";
}

/** The table flattened to the probe's names ("O_CLOEXEC", "stat.st_mode", ...). */
function flatten(t: Abi): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === "number") out[k] = v;
    else if (!Array.isArray(v)) for (const [m, n] of Object.entries(v as Record<string, number>)) out[`${k}.${m}`] = n;
  }
  return out;
}

for (const a of ARCHES) {
  const run = requireCompilerFor(a);
  describe.skipIf(!run)(`ffi/arch.ts's ${a} values match ${a}'s C headers`, () => {
    const facts = run ? parseFacts(compileAndRun(probeSource(), a)) : {};
    const table = flatten(abiTable(a));

    test("the probe prints every number in the table, and only those", () => {
      expect(Object.keys(facts).sort()).toEqual(Object.keys(table).sort());
    });
    test("constants", () => {
      for (const c of CONSTANTS) expect([c, table[c]]).toEqual([c, facts[c]!]);
    });
    for (const name of Object.keys(STRUCTS)) {
      test(`struct ${name}: sizeof and offsets`, () => {
        const pick = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(`${name}.`)));
        expect(pick(table)).toEqual(pick(facts));
      });
    }
  });
}

describe("the running program", () => {
  test(`uses its own architecture's values (${process.arch})`, () => {
    // What differs between the architectures is exported from DIFFERENT's column for this one.
    const { DIFFERENT: _, ...exported } = arch;
    expect(exported).toEqual(runningAbi() as unknown as typeof exported);
  });
  // Tests open files with node:fs flags and src/ with ffi/arch.ts's: Bun's numbers must be the table's.
  test("node:fs's open flags agree with the table", () => {
    for (const c of ["O_RDONLY", "O_WRONLY", "O_CREAT", "O_EXCL", "O_NONBLOCK"] as const) {
      expect([c, (constants as Record<string, number>)[c]]).toEqual([c, arch[c]]);
    }
  });
});
