/* Start a program the way ssh starts a ProxyCommand with ProxyUseFdpass: stdin and stdout one end of a
 * socketpair. Print the microseconds until a descriptor arrives on the other end (or EOF), the microseconds
 * until the program has exited, its peak RSS in KiB and its CPU time (user + system) in microseconds from
 * wait4(), whether a descriptor came, and its exit status. A small C parent, so that the child's
 * peak RSS is not inflated by a large parent's pages.
 *
 *   handoff [--timeout SECONDS] [--bind FILE TARGET]... PROGRAM [ARGS...]
 *
 * --timeout: kill the program after SECONDS (default 120), say so on stderr and exit 3, so that a candidate
 * that hangs never hangs the bench. --bind: before starting the clock, enter a private mount namespace and
 * bind-mount FILE over TARGET (e.g. a 10,000-word kernel command line over /proc/cmdline: an environment
 * variable cannot hold that many bytes). Needs CAP_SYS_ADMIN. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig) {
  (void)sig;
  timed_out = 1;
  if (child > 0) kill(child, SIGKILL);
}

int main(int argc, char **argv) {
  int i = 1;
  unsigned timeout = 120;
  int unshared = 0;
  while (i < argc && strncmp(argv[i], "--", 2) == 0) {
    if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout = (unsigned)strtoul(argv[i + 1], NULL, 10);
      i += 2;
    } else if (strcmp(argv[i], "--bind") == 0 && i + 2 < argc) {
      if (!unshared) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
          fprintf(stderr, "handoff: a private mount namespace needs root (CAP_SYS_ADMIN): %s\n", strerror(errno));
          return 1;
        }
        unshared = 1;
      }
      if (mount(argv[i + 1], argv[i + 2], NULL, MS_BIND, NULL) < 0) {
        fprintf(stderr, "handoff: bind-mounting %s over %s: %s\n", argv[i + 1], argv[i + 2], strerror(errno));
        return 1;
      }
      i += 3;
    } else {
      break;
    }
  }
  if (i >= argc) { fprintf(stderr, "usage: handoff [--timeout SECONDS] [--bind FILE TARGET]... PROGRAM [ARGS...]\n"); return 2; }
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) { perror("socketpair"); return 1; }
  struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: recvmsg() returns on the alarm */
  sigaction(SIGALRM, &sa, NULL);
  long long t0 = now_us();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sp[1], 0);
    dup2(sp[1], 1);
    execv(argv[i], argv + i);
    _exit(127);
  }
  child = pid;
  alarm(timeout);
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
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {}
  long long t2 = now_us();
  if (timed_out) {
    fprintf(stderr, "handoff: %s did not finish within %u s; killed\n", argv[i], timeout);
    return 3;
  }
  long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  printf("%lld %lld %ld %d %d %lld\n", t1 - t0, t2 - t0, ru.ru_maxrss, got, WIFEXITED(status) ? WEXITSTATUS(status) : 128, cpu);
  return 0;
}
