// SPDX-License-Identifier: Apache-2.0
#include "service/windows_service.h"

#include <windows.h>

#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "broker/base/log.h"
#include "service/event_log.h"

namespace chatpro::service {

const char kServiceUsage[] = R"(
Windows service:
  --register-service     register chatpro-broker with the service manager and
                         exit; the service runs this program with
                         --config's absolute path and the other options given
    --config FILE        the config file the service reads
    --start-type TYPE    auto (default), delayed (auto, after the boot) or manual
    --service-name NAME  default ChatPro
    --display-name TEXT  default "ChatPro messaging broker"
  --unregister-service   stop the service if it runs, remove it, and exit
    --service-name NAME  default ChatPro
)";

namespace {

constexpr char kDefaultName[] = "ChatPro";
constexpr char kDefaultDisplayName[] = "ChatPro messaging broker";
constexpr char kDescription[] =
    "ChatPro workplace messaging broker: routes and stores the organisation's chat messages.";
// How long the SCM should wait for the next checkpoint while starting or
// stopping (a store's recovery reports one per start-up step).
constexpr DWORD kWaitHintMs = 30000;

std::wstring Wide(const std::string& utf8) {
  int n = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

std::string Narrow(const std::wstring& wide) {
  int n = ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr, 0,
                                nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), out.data(), n,
                        nullptr, nullptr);
  return out;
}

std::string ErrorText(DWORD error) {
  wchar_t* text = nullptr;
  DWORD n = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, error, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
  std::string out = n > 0 ? Narrow(std::wstring(text, n)) : std::string();
  ::LocalFree(text);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return out + " (error " + std::to_string(error) + ")";
}

int Fail(const std::string& what) {
  std::cerr << "chatpro-broker: " << what << "\n";
  return 1;
}

// One argument quoted for CommandLineToArgvW and the C runtime: backslashes
// are literal except before a quote.
std::wstring Quote(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
    } else if (c == L'"') {
      out.append(backslashes * 2 + 1, L'\\');
      backslashes = 0;
    } else {
      backslashes = 0;
    }
    out.push_back(c);
  }
  out.append(backslashes, L'\\');
  return out + L"\"";
}

std::wstring ThisExecutable() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

// Closes a service handle at scope exit.
struct ScHandle {
  SC_HANDLE handle;
  explicit ScHandle(SC_HANDLE h) : handle(h) {}
  ~ScHandle() {
    if (handle != nullptr) ::CloseServiceHandle(handle);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
};

int Register(int argc, char** argv) {
  std::string name = kDefaultName;
  std::string display = kDefaultDisplayName;
  std::string start_type = "auto";
  std::string config;
  std::vector<std::string> passed;  // broker options the service is run with
  for (int i = 2; i < argc; ++i) {
    std::string f = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (f == "--service-name") {
      ok = value(&name);
    } else if (f == "--display-name") {
      ok = value(&display);
    } else if (f == "--start-type") {
      ok = value(&start_type);
    } else if (f == "--config") {
      ok = value(&config);
    } else {
      passed.push_back(f);
    }
    if (!ok) return Fail(f + " needs a value");
  }
  if (start_type != "auto" && start_type != "delayed" && start_type != "manual") {
    return Fail("--start-type must be auto, delayed or manual, not " + start_type);
  }
  if (name.empty()) return Fail("--service-name must not be empty");

  std::wstring command = Quote(ThisExecutable()) + L" --service " + Quote(Wide(name));
  if (!config.empty()) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(std::filesystem::u8path(config), ec);
    if (ec || !std::filesystem::is_regular_file(absolute, ec)) {
      return Fail("no config file at " + config);
    }
    command += L" --config " + Quote(absolute.make_preferred().wstring());
  }
  for (const std::string& arg : passed) command += L" " + Quote(Wide(arg));

  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (scm.handle == nullptr) {
    return Fail("cannot open the service manager (run as an administrator): " +
                ErrorText(::GetLastError()));
  }
  ScHandle service(::CreateServiceW(
      scm.handle, Wide(name).c_str(), Wide(display).c_str(), SERVICE_ALL_ACCESS,
      SERVICE_WIN32_OWN_PROCESS, start_type == "manual" ? SERVICE_DEMAND_START : SERVICE_AUTO_START,
      SERVICE_ERROR_NORMAL, command.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr));
  if (service.handle == nullptr) {
    DWORD error = ::GetLastError();
    if (error == ERROR_SERVICE_EXISTS) {
      return Fail("a service named " + name + " exists already; remove it first with " +
                  "--unregister-service --service-name " + name);
    }
    return Fail("cannot register the service " + name + ": " + ErrorText(error));
  }
  std::wstring description = Wide(kDescription);
  SERVICE_DESCRIPTIONW about{description.data()};
  ::ChangeServiceConfig2W(service.handle, SERVICE_CONFIG_DESCRIPTION, &about);
  if (start_type == "delayed") {
    SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
    ::ChangeServiceConfig2W(service.handle, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed);
  }
  // Restart after a crash: at once, after 10 s, then every minute; the count
  // of failures resets after a day without one.
  SC_ACTION actions[] = {
      {SC_ACTION_RESTART, 1000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 60 * 60;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  ::ChangeServiceConfig2W(service.handle, SERVICE_CONFIG_FAILURE_ACTIONS, &failure);
  std::cout << "registered the service " << name << " (" << display << "), start type "
            << start_type << ":\n  " << Narrow(command) << "\nStart it with: sc start " << name
            << std::endl;
  return 0;
}

int Unregister(int argc, char** argv) {
  std::string name = kDefaultName;
  for (int i = 2; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--service-name" && i + 1 < argc) {
      name = argv[++i];
    } else {
      return Fail("unknown option " + f + " for --unregister-service");
    }
  }
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (scm.handle == nullptr) {
    return Fail("cannot open the service manager (run as an administrator): " +
                ErrorText(::GetLastError()));
  }
  ScHandle service(
      ::OpenServiceW(scm.handle, Wide(name).c_str(), DELETE | SERVICE_STOP | SERVICE_QUERY_STATUS));
  if (service.handle == nullptr) {
    return Fail("cannot open the service " + name + ": " + ErrorText(::GetLastError()));
  }
  SERVICE_STATUS status{};
  if (::QueryServiceStatus(service.handle, &status) && status.dwCurrentState != SERVICE_STOPPED) {
    std::cout << "stopping the service " << name << std::endl;
    ::ControlService(service.handle, SERVICE_CONTROL_STOP, &status);
    for (int waited = 0; waited < 600 && status.dwCurrentState != SERVICE_STOPPED; ++waited) {
      ::Sleep(100);
      if (!::QueryServiceStatus(service.handle, &status)) break;
    }
  }
  if (!::DeleteService(service.handle)) {
    return Fail("cannot remove the service " + name + ": " + ErrorText(::GetLastError()));
  }
  std::cout << "removed the service " << name << std::endl;
  return 0;
}

// The host of a broker that the SCM started.
class ServiceHost final : public Host {
 public:
  explicit ServiceHost(const std::string& name) : name_(Wide(name)), events_(name_) {}
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  const std::wstring& name() const { return name_; }
  EventLog& events() { return events_; }

  bool Connect(LPHANDLER_FUNCTION_EX handler) {
    handle_ = ::RegisterServiceCtrlHandlerExW(name_.c_str(), handler, this);
    return handle_ != nullptr;
  }

  void Starting(const std::string& step) override {
    LOG_INFO() << step;
    Report(SERVICE_START_PENDING, kWaitHintMs);
  }
  void Ready(const std::string& status) override {
    events_.Write(LogLevel::kInfo, "started: " + status);
    Report(SERVICE_RUNNING, 0);
  }
  void Stopping(const std::string&) override { Report(SERVICE_STOP_PENDING, kWaitHintMs); }
  void WatchdogTick() override {}

  void WatchForStop(std::function<void()> request_stop, std::function<void()>) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stop_requested_) {
      lock.unlock();
      request_stop();
      return;
    }
    request_stop_ = std::move(request_stop);
  }
  void StopWatching() override {
    std::lock_guard<std::mutex> lock(mutex_);
    request_stop_ = nullptr;
  }

  // The SCM's STOP or SHUTDOWN: STOP_PENDING first, then the broker's stop.
  void RequestStop(const char* why) {
    std::function<void()> request_stop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_requested_) return;
      stop_requested_ = true;
      request_stop = std::move(request_stop_);
      request_stop_ = nullptr;
    }
    LOG_INFO() << why << ", stopping";
    Report(SERVICE_STOP_PENDING, kWaitHintMs);
    if (request_stop) request_stop();
  }

  void Stopped(int exit_code) {
    std::lock_guard<std::mutex> lock(mutex_);
    SERVICE_STATUS s = status_;
    s.dwCurrentState = SERVICE_STOPPED;
    s.dwControlsAccepted = 0;
    s.dwCheckPoint = 0;
    s.dwWaitHint = 0;
    s.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    s.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
    ::SetServiceStatus(handle_, &s);
  }

  void Report(DWORD state, DWORD wait_hint) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Once stopping, never report running again.
    if (status_.dwCurrentState == SERVICE_STOP_PENDING && state != SERVICE_STOP_PENDING) return;
    status_.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    status_.dwCheckPoint = pending && status_.dwCurrentState == state ? status_.dwCheckPoint + 1
                           : pending                                  ? 1
                                                                      : 0;
    status_.dwCurrentState = state;
    // A stop may come while the store opens: it is passed on once it can be.
    status_.dwControlsAccepted =
        state == SERVICE_STOP_PENDING ? 0 : SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
    status_.dwWaitHint = wait_hint;
    status_.dwWin32ExitCode = NO_ERROR;
    ::SetServiceStatus(handle_, &status_);
  }

 private:
  const std::wstring name_;
  EventLog events_;
  SERVICE_STATUS_HANDLE handle_ = nullptr;
  std::mutex mutex_;
  SERVICE_STATUS status_{};
  std::function<void()> request_stop_;
  bool stop_requested_ = false;
};

DWORD WINAPI OnControl(DWORD control, DWORD, LPVOID, LPVOID context) {
  auto* host = static_cast<ServiceHost*>(context);
  switch (control) {
    case SERVICE_CONTROL_STOP:
      host->RequestStop("the service manager asked to stop");
      return NO_ERROR;
    case SERVICE_CONTROL_SHUTDOWN:
      host->RequestStop("the system is shutting down");
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

// A stream buffer that sends each line written to it to the event log as an
// error, and on to the original buffer: the broker reports start-up failures
// on std::cerr, which nobody sees when it runs as a service.
class EventLogLines final : public std::streambuf {
 public:
  EventLogLines(EventLog* events, std::streambuf* next) : events_(events), next_(next) {}

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    if (c == '\n') {
      if (!line_.empty()) events_->Write(LogLevel::kError, line_);
      line_.clear();
    } else {
      line_.push_back(static_cast<char>(c));
    }
    // A service may have no valid stderr: the line counts as written anyway,
    // or std::cerr would turn bad and drop the rest.
    next_->sputc(static_cast<char>(c));
    return c;
  }
  // std::cerr flushes after every <<: a failing stderr must not fail it either.
  int sync() override {
    next_->pubsync();
    return 0;
  }

 private:
  EventLog* events_;
  std::streambuf* next_;
  std::string line_;
};

struct ServiceRun {
  std::string name;
  std::vector<char*> argv;  // the broker's arguments
  BrokerMain broker_main = nullptr;
  int exit_code = 0;
};
ServiceRun* g_run = nullptr;

void WINAPI ServiceMain(DWORD, LPWSTR*) {
  ServiceHost host(g_run->name);
  if (!host.Connect(&OnControl)) {
    host.events().Write(LogLevel::kError,
                        "cannot connect to the service manager: " + ErrorText(::GetLastError()));
    g_run->exit_code = 1;
    return;
  }
  host.Report(SERVICE_START_PENDING, kWaitHintMs);
  // The broker's log also goes to the event log, from warnings up, plus start and stop.
  EventLog* events = &host.events();
  SetLogSink([events](LogLevel level, std::string_view line) {
    std::fprintf(stderr, "chatpro-broker [%.*s] %.*s\n",
                 static_cast<int>(LogLevelName(level).size()), LogLevelName(level).data(),
                 static_cast<int>(line.size()), line.data());
    std::fflush(stderr);
    if (level >= LogLevel::kWarning) events->Write(level, line);
  });
  EventLogLines errors(events, std::cerr.rdbuf());
  std::streambuf* original = std::cerr.rdbuf(&errors);
  events->Write(LogLevel::kInfo, "starting");
  int rc = g_run->broker_main(static_cast<int>(g_run->argv.size() - 1), g_run->argv.data(), host);
  std::cerr.flush();
  std::cerr.rdbuf(original);
  events->Write(rc == 0 ? LogLevel::kInfo : LogLevel::kError,
                rc == 0 ? "stopped cleanly" : "stopped with exit code " + std::to_string(rc));
  SetLogSink(nullptr);
  g_run->exit_code = rc;
  host.Stopped(rc);
}

int RunAsService(int argc, char** argv, BrokerMain broker_main) {
  if (argc < 3) return Fail("--service needs the service's name");
  ServiceRun run;
  run.name = argv[2];
  run.broker_main = broker_main;
  run.argv.push_back(argv[0]);
  for (int i = 3; i < argc; ++i) run.argv.push_back(argv[i]);
  run.argv.push_back(nullptr);  // argv[argc], as for main()
  g_run = &run;
  std::wstring name = Wide(run.name);
  SERVICE_TABLE_ENTRYW table[] = {{name.data(), &ServiceMain}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    DWORD error = ::GetLastError();
    if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      return Fail(
          "--service is for the service manager; to run the broker in this console, "
          "leave it out");
    }
    return Fail("cannot start the service dispatcher: " + ErrorText(error));
  }
  return run.exit_code;
}

}  // namespace

std::optional<int> RunServiceCommand(int argc, char** argv, BrokerMain broker_main) {
  if (argc >= 2 && std::string(argv[1]) == "--service") {
    return RunAsService(argc, argv, broker_main);
  }
  // --register-service and --unregister-service anywhere: moved to argv[1].
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f != "--register-service" && f != "--unregister-service") continue;
    std::vector<char*> args(argv, argv + argc);
    args.erase(args.begin() + i);
    args.insert(args.begin() + 1, argv[i]);
    args.push_back(nullptr);
    return f == "--register-service" ? Register(argc, args.data()) : Unregister(argc, args.data());
  }
  return std::nullopt;
}

}  // namespace chatpro::service
