/* Start a program the way ssh starts a ProxyCommand with ProxyUseFdpass: stdin and stdout one end of a
 * socketpair. Print the microseconds until a descriptor arrives on the other end (or EOF), the microseconds
 * until the program has exited, and its peak RSS in KiB from wait4(). A small C parent, so that the child's
 * peak RSS is not inflated by a large parent's pages. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: handoff PROGRAM [ARGS...]\n"); return 2; }
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) { perror("socketpair"); return 1; }
  long long t0 = now_us();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sp[1], 0);
    dup2(sp[1], 1);
    execv(argv[1], argv + 1);
    _exit(127);
  }
  close(sp[1]);
  char byte;
  struct iovec iov = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
  ssize_t n = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
  long long t1 = now_us();
  int got = 0;
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
  if (c && c->cmsg_type == SCM_RIGHTS) { int fd; memcpy(&fd, CMSG_DATA(c), sizeof(fd)); close(fd); got = 1; }
  int status;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  long long t2 = now_us();
  printf("%lld %lld %ld %d %d\n", t1 - t0, t2 - t0, ru.ru_maxrss, got, WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  return 0;
}
