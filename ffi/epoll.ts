// Waiting for the next bytes to arrive on a socket whose queue already holds some: an edge-triggered epoll
// watch. poll(2) cannot do this (on AF_UNIX it reports "readable" for as long as anything is queued, and
// ignores SO_RCVLOWAT), and neither can a blocking recv(MSG_PEEK), which returns at once with what is
// there. An edge-triggered watch is woken by every arrival and by the peer's hang-up, so a caller can
// peek, find the bytes incomplete, and sleep until there are more, without consuming anything.

import {
  EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLLIN, EPOLLERR, EPOLLHUP, EPOLLRDHUP, EPOLLET, epoll_event,
} from "./arch.ts";
import { Errno } from "./errno.ts";
import { fail, SysError } from "./errors.ts";
import { errno, libc } from "./libc.ts";
import { close } from "./socket.ts";

// struct epoll_event { uint32_t events; uint64_t data; }: packed on x86-64 (12 bytes), naturally aligned
// on aarch64 (16; ffi/arch.ts). One event at a time, and only `events` is read.
const EVENT_BUFFER = Math.max(epoll_event.size, 16);
const EVENTS_WORD = epoll_event.events / 4;

export type Arrival = "data" | "hangup" | "timeout";

export class ArrivalWatch {
  private readonly ep: number;
  private readonly event = new Uint32Array(new ArrayBuffer(EVENT_BUFFER));

  /** Watch `fd` from now on. The first wait() may report bytes that were queued before. */
  constructor(fd: number) {
    const ep = libc.epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1");
    this.ep = ep;
    const ev = new Uint32Array(new ArrayBuffer(EVENT_BUFFER));
    ev[EVENTS_WORD] = (EPOLLIN | EPOLLRDHUP | EPOLLET) >>> 0;
    if (libc.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev) < 0) {
      const e = errno();
      close(ep);
      throw new SysError("epoll_ctl", e);
    }
  }

  /** Sleep until bytes arrive or the peer hangs up (or `timeoutMs` passes). Throws SysError. */
  wait(timeoutMs: number): Arrival {
    for (;;) {
      const n = libc.epoll_wait(this.ep, this.event, 1, timeoutMs);
      if (n === 0) return "timeout";
      if (n > 0) return this.event[EVENTS_WORD]! & (EPOLLRDHUP | EPOLLHUP | EPOLLERR) ? "hangup" : "data";
      if (errno() !== Errno.EINTR) fail("epoll_wait");
    }
  }

  close(): void {
    close(this.ep);
  }
}
