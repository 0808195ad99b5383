/*
 * An LD_PRELOAD shim that steps a process's wall clock (CLOCK_REALTIME, gettimeofday, time) by an
 * offset read, on every call, from the file named by WALLCLOCK_OFFSET_FILE (signed milliseconds,
 * e.g. "-3600000"); monotonic clocks are left alone, as an NTP step or a VM resume leaves them.
 * Used by test/utils/redis-server.ts to step a real redis-server's `TIME` (libfaketime 0.9.10
 * cannot run redis-server: its initialisation recurses through jemalloc).
 *
 * Raw syscalls only (no dlsym, no malloc, no stdio): safe however early the process calls it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long offset_millis(void) {
  static const char *path = NULL;
  static int looked = 0;
  if (!looked) {
    extern char **environ;
    looked = 1;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
      const char *k = "WALLCLOCK_OFFSET_FILE=";
      const char *s = *e;
      int i = 0;
      while (k[i] != 0 && s[i] == k[i]) i++;
      if (k[i] == 0) { path = s + i; break; }
    }
  }
  if (path == NULL) return 0;
  int fd = (int)syscall(SYS_open, path, O_RDONLY);
  if (fd < 0) return 0;
  char buf[32];
  long n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  long long v = 0;
  int i = 0, neg = 0;
  while (buf[i] == ' ' || buf[i] == '+' || buf[i] == '-') { if (buf[i] == '-') neg = 1; i++; }
  while (buf[i] >= '0' && buf[i] <= '9') { v = v * 10 + (buf[i] - '0'); i++; }
  return neg ? -v : v;
}

static int real_clock_gettime(clockid_t id, struct timespec *ts) {
  return (int)syscall(SYS_clock_gettime, id, ts);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  int r = real_clock_gettime(id, ts);
  if (r != 0 || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE)) return r;
  long long off = offset_millis();
  if (off == 0) return r;
  long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + off * 1000000LL;
  ts->tv_sec = (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
  return r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  if (r == 0 && tv != NULL) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return r;
}

time_t time(time_t *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t != NULL) *t = ts.tv_sec;
  return ts.tv_sec;
}
