// SPDX-License-Identifier: Apache-2.0
// The Windows console host: Ctrl+C, Ctrl+Break and closing the console
// window stop the broker as SIGTERM does on POSIX.
#include <windows.h>

#include <condition_variable>
#include <mutex>

#include "broker/base/log.h"
#include "service/host.h"

namespace chatpro::service {
namespace {

class WindowsConsoleHost;
// The console control handler is a plain function: it finds the host here.
WindowsConsoleHost* g_host = nullptr;

class WindowsConsoleHost final : public Host {
 public:
  WindowsConsoleHost() = default;
  WindowsConsoleHost(const WindowsConsoleHost&) = delete;
  WindowsConsoleHost& operator=(const WindowsConsoleHost&) = delete;
  ~WindowsConsoleHost() override { StopWatching(); }

  void Starting(const std::string&) override {}
  void Ready(const std::string&) override {}
  void Stopping(const std::string&) override {}
  void WatchdogTick() override {}

  void WatchForStop(std::function<void()> request_stop, std::function<void()>) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      request_stop_ = std::move(request_stop);
      watching_ = true;
    }
    g_host = this;
    ::SetConsoleCtrlHandler(&WindowsConsoleHost::OnControl, TRUE);
  }

  void StopWatching() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!watching_) return;
    watching_ = false;
    request_stop_ = nullptr;
    stopped_.notify_all();
  }

 private:
  // Runs on a thread the system starts for the event.
  static BOOL WINAPI OnControl(DWORD event) {
    WindowsConsoleHost* host = g_host;
    if (host == nullptr) return FALSE;
    std::unique_lock<std::mutex> lock(host->mutex_);
    if (!host->watching_) return FALSE;
    if (host->request_stop_) {
      LOG_INFO() << "received " << (event == CTRL_C_EVENT ? "Ctrl+C" : "a console close")
                 << ", stopping";
      std::function<void()> request_stop = std::move(host->request_stop_);
      host->request_stop_ = nullptr;
      request_stop();
    }
    // The process ends when this returns for a closing console: wait for the
    // broker to finish its stop first (Windows allows a few seconds).
    if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT) {
      host->stopped_.wait(lock, [host] { return !host->watching_; });
    }
    return TRUE;
  }

  std::mutex mutex_;
  std::condition_variable stopped_;
  std::function<void()> request_stop_;
  bool watching_ = false;
};

}  // namespace

std::unique_ptr<Host> ConsoleHost() { return std::make_unique<WindowsConsoleHost>(); }

void PrepareProcess() {}

}  // namespace chatpro::service
