// SPDX-License-Identifier: Apache-2.0
#include "service/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace chatpro::service {
namespace {

sigset_t ServiceSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void FlushStandardStreams() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

// The original process: copies the daemon's start-up output to its own
// stdout and stderr until the daemon is ready (a byte on the status pipe and
// every pipe closed) or has ended (every pipe closed without that byte).
[[noreturn]] void RelayUntilReady(int out_fd, int err_fd, int status_fd, pid_t first_child) {
  // Ctrl-C on the waiting process ends it (the daemon goes on).
  sigset_t set = ServiceSignals();
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {status_fd, POLLIN, 0}};
  int open_pipes = 3;
  bool ready = false;
  char buffer[4096];
  while (open_pipes > 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 3; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
        continue;
      }
      if (i == 2) {
        ready = ready || std::memchr(buffer, 'R', static_cast<size_t>(n)) != nullptr;
      } else {
        WriteAll(i == 0 ? STDOUT_FILENO : STDERR_FILENO, buffer, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  while (::waitpid(first_child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ready) {
    const char msg[] = "chatpro-broker: the daemon ended before it was serving\n";
    WriteAll(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(1);
  }
  ::_exit(0);
}

}  // namespace

void BlockServiceSignals() {
  sigset_t set = ServiceSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForStopSignal(const std::function<void()>& on_hangup) {
  sigset_t set = ServiceSignals();
  while (true) {
    int sig = 0;
    if (::sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) return sig;
    if (on_hangup) on_hangup();
  }
}

Result<std::unique_ptr<Daemon>> Daemon::Start(const std::string& pid_file) {
  int out[2];
  int err[2];
  int status[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::IoError(Errno("cannot make a pipe"));
  if (::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(status, O_CLOEXEC) != 0) {
    return Status::IoError(Errno("cannot make a pipe"));
  }
  FlushStandardStreams();  // nothing buffered is written twice
  pid_t first = ::fork();
  if (first < 0) return Status::IoError(Errno("cannot fork"));
  if (first > 0) {
    ::close(out[1]);
    ::close(err[1]);
    ::close(status[1]);
    RelayUntilReady(out[0], err[0], status[0], first);
  }
  ::close(out[0]);
  ::close(err[0]);
  ::close(status[0]);
  ::setsid();
  pid_t second = ::fork();
  if (second < 0) {
    std::string msg = Errno("chatpro-broker: cannot fork") + "\n";
    WriteAll(err[1], msg.data(), msg.size());
    ::_exit(1);
  }
  if (second > 0) ::_exit(0);

  // The daemon. Its output goes to the waiting process until Ready().
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
  }
  ::dup2(out[1], STDOUT_FILENO);
  ::dup2(err[1], STDERR_FILENO);
  ::close(out[1]);
  ::close(err[1]);

  int fd = ::open(pid_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    ::close(status[1]);
    return Status::IoError(Errno("cannot open the pid file " + pid_file));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char held[32] = {};
    ssize_t n = ::pread(fd, held, sizeof held - 1, 0);
    std::string other = n > 0 ? std::string(held, static_cast<size_t>(n)) : std::string("?");
    while (!other.empty() && (other.back() == '\n' || other.back() == ' ')) other.pop_back();
    ::close(fd);
    ::close(status[1]);
    return Status::FailedPrecondition("another chatpro-broker (pid " + other +
                                      ") runs with the pid file " + pid_file);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    Status st = Status::IoError(Errno("cannot write the pid file " + pid_file));
    ::unlink(pid_file.c_str());
    ::close(fd);
    ::close(status[1]);
    return st;
  }
  return std::unique_ptr<Daemon>(new Daemon(pid_file, fd, status[1]));
}

Daemon::~Daemon() {
  ::unlink(pid_file_.c_str());
  ::close(pid_fd_);                          // releases the lock
  if (status_fd_ >= 0) ::close(status_fd_);  // never ready: the waiting process exits 1
}

void Daemon::Ready() {
  if (status_fd_ < 0) return;
  FlushStandardStreams();
  // First away from the pipes, so that the waiting process sees them close.
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
  }
  WriteAll(status_fd_, "R", 1);
  ::close(status_fd_);
  status_fd_ = -1;
}

}  // namespace chatpro::service
