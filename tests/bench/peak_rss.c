/* peak_rss OUT CMD [ARG...]: runs CMD and writes {"exit":N,"maxrss_kib":M} to OUT.
 *
 * Why: ru_maxrss of a child spawned by Python (fork, vfork or posix_spawn) starts from the
 * resident size of the Python process it was cloned from, because Linux carries the old memory's
 * high-water mark across exec. A 20 MiB benchmark script would be charged to every process it
 * starts. Cloned from this small program instead, the child starts from about 1 MiB.
 * The child dies with this process (PR_SET_PDEATHSIG), so a caller that kills this process on a
 * timeout leaves nothing behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: peak_rss OUT CMD [ARG...]\n");
    return 2;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) != pid) {
    perror("wait4");
    return 2;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* out = fopen(argv[1], "w");
  if (out == NULL) {
    perror(argv[1]);
    return 2;
  }
  fprintf(out, "{\"exit\":%d,\"maxrss_kib\":%ld}\n", code, usage.ru_maxrss);
  fclose(out);
  return code;
}
