// What this machine charges for the things an agent step does many times, so that per-step
// figures can be read against it: a system call, a page fault (first touch of an anonymous
// page), and waking a thread blocked on a pipe, from the same CPU and from the other CPU (a
// request and its answer each wake the other side), the latter also after the other CPU has
// been idle for a while (how long a step's own work leaves a model server waiting). Prints one
// JSON object, times in microseconds (medians). Every loop is bounded; threads are joined.
// Usage: machine_costs
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { kRounds = 5, kSyscalls = 20000, kPages = 2000, kPingPongs = 2000, kWakes = 300 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median_of(double* v, size_t n) {
  qsort(v, n, sizeof *v, cmp);
  return v[n / 2];
}

static double median(double* v) { return median_of(v, kRounds); }

static double syscall_us(void) {
  double t = now_us();
  for (int i = 0; i < kSyscalls; ++i) getppid();
  return (now_us() - t) / kSyscalls;
}

static double page_fault_us(void) {
  size_t len = (size_t)kPages * 4096;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  double t = now_us();
  for (size_t i = 0; i < len; i += 4096) p[i] = 1;
  double us = (now_us() - t) / kPages;
  munmap(p, len);
  return us;
}

struct Peer {
  int in, out, cpu;
  int stamp;  // answer with the time it woke instead of echoing the byte
};

static int cpu_a = 0, cpu_b = -1;  // the first two CPUs this process may run on

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// Answers every byte until the other end closes (link_close).
static void* echo(void* arg) {
  struct Peer* p = arg;
  pin(p->cpu);
  char c;
  while (read(p->in, &c, 1) == 1) {
    double woke = now_us();
    ssize_t n = p->stamp ? write(p->out, &woke, sizeof woke) : write(p->out, &c, 1);
    if (n <= 0) break;
  }
  return NULL;
}

// A peer thread on a CPU of its own, reading from a and answering on b.
struct Link {
  int a[2], b[2];
  struct Peer peer;
  pthread_t thread;
};

static void close_pair(int* p) {
  close(p[0]);
  close(p[1]);
}

// Starts echo on peer_cpu; 0 on success.
static int link_open(struct Link* l, int peer_cpu, int stamp) {
  if (pipe(l->a) != 0) return -1;
  if (pipe(l->b) != 0) {
    close_pair(l->a);
    return -1;
  }
  l->peer = (struct Peer){l->a[0], l->b[1], peer_cpu, stamp};
  if (pthread_create(&l->thread, NULL, echo, &l->peer) != 0) {
    close_pair(l->a);
    close_pair(l->b);
    return -1;
  }
  return 0;
}

static void link_close(struct Link* l) {
  close(l->a[1]);  // the peer's read ends if it is still waiting
  pthread_join(l->thread, NULL);
  close(l->a[0]);
  close_pair(l->b);
}

// One wake-up: half a round trip between two threads that block on pipes.
static double wake_us(int my_cpu, int peer_cpu) {
  struct Link l;
  if (link_open(&l, peer_cpu, 0) != 0) return -1;
  pin(my_cpu);
  char c = 'x';
  double start = now_us();
  int done = 0;
  for (; done < kPingPongs; ++done) {
    if (write(l.a[1], &c, 1) != 1 || read(l.b[0], &c, 1) != 1) break;
  }
  double us = (now_us() - start) / (2.0 * (done > 0 ? done : 1));
  link_close(&l);
  return us;
}

// Write to a thread blocked on the other CPU after that CPU has been idle for idle_us: the
// median time from the write to the thread running.
static double wake_after_idle_us(double idle_us) {
  struct Link l;
  if (link_open(&l, cpu_b, 1) != 0) return -1;
  pin(cpu_a);
  static double lat[kWakes];
  int n = 0;
  char c = 'x';
  for (; n < kWakes; ++n) {
    double until = now_us() + idle_us;
    while (now_us() < until) {
    }
    double sent = now_us();
    double woke;
    if (write(l.a[1], &c, 1) != 1 || read(l.b[0], &woke, sizeof woke) != sizeof woke) break;
    lat[n] = woke - sent;
  }
  link_close(&l);
  return n > 0 ? median_of(lat, (size_t)n) : -1;
}

int main(void) {
  double sys[kRounds], fault[kRounds], same[kRounds], other[kRounds];
  cpu_set_t saved;
  CPU_ZERO(&saved);
  sched_getaffinity(0, sizeof saved, &saved);
  long cpus = CPU_COUNT(&saved);
  cpu_a = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &saved)) continue;
    if (cpu_a < 0) {
      cpu_a = c;
    } else if (cpu_b < 0) {
      cpu_b = c;
    }
  }
  for (int r = 0; r < kRounds; ++r) {
    sys[r] = syscall_us();
    fault[r] = page_fault_us();
    same[r] = wake_us(cpu_a, cpu_a);
    other[r] = cpu_b >= 0 ? wake_us(cpu_a, cpu_b) : -1;
  }
  double idle[5] = {-1, -1, -1, -1, -1};
  const double gaps[5] = {0, 50, 100, 150, 200};
  if (cpu_b >= 0) {
    for (int g = 0; g < 5; ++g) idle[g] = wake_after_idle_us(gaps[g]);
  }
  sched_setaffinity(0, sizeof saved, &saved);
  printf(
      "{\"cpus\":%ld,\"syscall_us\":%.2f,\"page_fault_us\":%.2f,\"wake_same_cpu_us\":%.1f,"
      "\"wake_other_cpu_us\":%.1f,\"wake_other_cpu_after_idle_us\":{\"0\":%.1f,\"50\":%.1f,"
      "\"100\":%.1f,\"150\":%.1f,\"200\":%.1f}}\n",
      cpus, median(sys), median(fault), median(same), median(other), idle[0], idle[1], idle[2],
      idle[3], idle[4]);
  return 0;
}
