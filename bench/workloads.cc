// SPDX-License-Identifier: Apache-2.0
#include "bench/workloads.h"

#include <signal.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "bench/harness.h"
#include "bench/raw_devices.h"
#include "bench/reference.h"
#include "broker/base/encoding.h"
#include "broker/base/log.h"

namespace chatpro::bench {
namespace {

using Clock = std::chrono::steady_clock;
using client::Client;
using client::ClientOptions;
using client::Message;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

void Fail(const std::string& what, const Status& st) {
  std::fprintf(stderr, "chatpro-bench: %s: %s\n", what.c_str(), st.ToString().c_str());
}

// Counts deliveries of one conversation and checks that they come in order,
// each seq exactly once.
class Inbox {
 public:
  void On(const Message& m) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (m.seq != last_seq_ + 1 && last_seq_ != 0) in_order_ = false;
    last_seq_ = m.seq;
    ++received_;
    if (latencies_ != nullptr) {
      const auto* text = std::get_if<client::Text>(&m.content);
      if (text != nullptr) {
        std::int64_t sent = std::strtoll(text->body.c_str(), nullptr, 10);
        latencies_->push_back(static_cast<double>(NowNs() - sent) / 1000.0);
      }
    }
    if (received_ >= expected_) cv_.notify_all();
  }
  void Expect(std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    expected_ = n;
  }
  void CollectLatencies(std::vector<double>* out) { latencies_ = out; }
  bool WaitAll(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return received_ >= expected_; });
  }
  std::uint64_t received() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  bool in_order() {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_order_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t expected_ = ~0ull;
  std::uint64_t received_ = 0;
  std::uint64_t last_seq_ = 0;
  bool in_order_ = true;
  std::vector<double>* latencies_ = nullptr;
};

struct Acks {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  std::function<void(const client::SendResult&)> Callback() {
    return [this](const client::SendResult& r) {
      if (r.status.ok()) {
        ok.fetch_add(1, std::memory_order_relaxed);
      } else {
        if (failed.fetch_add(1) == 0) Fail("a send failed", r.status);
      }
    };
  }
};

std::string TextPayload(std::size_t bytes, std::uint64_t i) {
  std::string s = "message " + std::to_string(i) + " ";
  s.resize(std::max(bytes, s.size()), 'x');
  return s;
}

std::chrono::seconds TimeoutFor(std::uint64_t messages) {
  return std::chrono::seconds(60 + messages / 20000);
}

struct Pair {
  std::unique_ptr<BrokerProcess> broker;
  std::vector<std::string> profiles;
  std::vector<std::string> logins;
};

// Login names unique to this run, so that runs against one broker never clash.
std::string UserPrefix() {
  static int run = 0;
  return "b" + std::to_string(::getpid()) + "-" + std::to_string(++run) + "-u";
}

Result<std::unique_ptr<BrokerProcess>> StartOrAttach(const BenchOptions& o,
                                                     const BrokerSettings& settings,
                                                     const TempDir& dir) {
  if (!o.attach_profile.empty()) return BrokerProcess::Attach(o.attach_profile, o.attach_pid);
  return BrokerProcess::Start(settings, dir.path());
}

Result<Pair> StartWithUsers(const BenchOptions& o, const std::string& durability, int users,
                            const TempDir& dir, int pin_cpu = -1) {
  BrokerSettings settings;
  settings.broker_path = o.broker_path;
  settings.extra_args = o.broker_args;
  settings.durability = durability;
  settings.pin_cpu = pin_cpu;
  Pair p;
  CHATPRO_ASSIGN_OR_RETURN(p.broker, StartOrAttach(o, settings, dir));
  Population population(p.broker->admin_profile(), dir.path());
  std::string prefix = UserPrefix();
  CHATPRO_ASSIGN_OR_RETURN(p.profiles, population.AddUsers(prefix, users));
  for (int i = 0; i < users; ++i) p.logins.push_back(prefix + std::to_string(i));
  return p;
}

struct OneToOneResult {
  double messages_per_second = 0;
  double megabytes_per_second = 0;
  bool lost_nothing = false;
  std::vector<double> latencies_us;
};

// From the device of profile `from` to the device of `to` (login `to_login`)
// on a running broker: `messages` messages made by `make`, as fast as the
// sender can go (rate 0) or at a fixed rate.
OneToOneResult SendOneToOne(const Pair& setup, int from, int to,
                            const std::function<client::Content(std::uint64_t)>& make,
                            int messages, std::size_t payload_bytes, int rate) {
  OneToOneResult result;
  Inbox inbox;
  if (rate > 0) inbox.CollectLatencies(&result.latencies_us);
  ClientOptions receiver_options;
  receiver_options.on_message = [&](const Message& m) { inbox.On(m); };
  auto receiver = Population::Connect(setup.profiles[static_cast<std::size_t>(to)], receiver_options);
  ClientOptions sender_options;
  sender_options.receive = false;
  auto sender = Population::Connect(setup.profiles[static_cast<std::size_t>(from)], sender_options);
  if (!receiver.ok() || !sender.ok()) {
    Fail("connecting", receiver.ok() ? sender.status() : receiver.status());
    return result;
  }
  auto conversation = (*sender)->OpenDirect(setup.logins[static_cast<std::size_t>(to)]);
  if (!conversation.ok()) {
    Fail("opening the conversation", conversation.status());
    return result;
  }
  client::Target target = client::Target::Conversation(conversation->id);
  // Only what this run sends counts (the conversation may hold earlier runs').
  inbox.Expect(static_cast<std::uint64_t>(messages));
  Acks acks;
  std::int64_t start = NowNs();
  auto interval = rate > 0 ? std::chrono::nanoseconds(1'000'000'000 / rate) : std::chrono::nanoseconds(0);
  auto t0 = Clock::now();
  for (int i = 0; i < messages; ++i) {
    if (rate > 0) std::this_thread::sleep_until(t0 + interval * i);
    (*sender)->SendAsync(target, make(static_cast<std::uint64_t>(i)), acks.Callback());
  }
  bool all = inbox.WaitAll(TimeoutFor(static_cast<std::uint64_t>(messages)));
  double seconds = static_cast<double>(NowNs() - start) / 1e9;
  (*sender)->Flush(std::chrono::seconds(30));
  result.lost_nothing = all && inbox.in_order() &&
                        acks.ok.load() == static_cast<std::uint64_t>(messages) &&
                        acks.failed.load() == 0;
  if (!result.lost_nothing) {
    std::fprintf(stderr, "chatpro-bench: sent %d, acknowledged %llu, failed %llu, received %llu%s\n",
                 messages, static_cast<unsigned long long>(acks.ok.load()),
                 static_cast<unsigned long long>(acks.failed.load()),
                 static_cast<unsigned long long>(inbox.received()),
                 inbox.in_order() ? "" : ", out of order");
  }
  result.messages_per_second = messages / seconds;
  result.megabytes_per_second = static_cast<double>(messages) * static_cast<double>(payload_bytes) /
                                seconds / 1e6;
  sender->reset();
  receiver->reset();
  return result;
}

void UnpinAll() {
  cpu_set_t all_cpus;
  CPU_ZERO(&all_cpus);
  for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &all_cpus);
  sched_setaffinity(0, sizeof all_cpus, &all_cpus);
}

// One sender, one receiving device on a broker of their own.
OneToOneResult OneToOne(const BenchOptions& o, const std::string& durability, int messages,
                        const std::function<client::Content(std::uint64_t)>& make,
                        std::size_t payload_bytes, int rate = 0, int pin_cpu = -1) {
  TempDir dir;
  if (pin_cpu >= 0) PinToCpu(pin_cpu);
  Result<Pair> setup = StartWithUsers(o, durability, 2, dir, pin_cpu);
  if (!setup.ok()) {
    Fail("starting the broker", setup.status());
    if (pin_cpu >= 0) UnpinAll();
    return OneToOneResult();
  }
  OneToOneResult result = SendOneToOne(*setup, 0, 1, make, messages, payload_bytes, rate);
  if (!setup->broker->Stop()) std::fprintf(stderr, "chatpro-bench: the broker did not stop cleanly\n");
  if (o.verbose) std::fprintf(stderr, "%s\n", setup->broker->ServedLine().c_str());
  if (pin_cpu >= 0) UnpinAll();
  return result;
}

std::function<client::Content(std::uint64_t)> Texts(std::size_t bytes) {
  std::string base = TextPayload(bytes, 0);
  return [base](std::uint64_t) { return client::Content(client::Text{base}); };
}

Metric MakeMetric(const std::string& id, const std::string& title, const std::string& name,
                  bool higher_is_better, double target, const std::string& target_text) {
  Metric m;
  m.workload = id;
  m.title = title;
  m.name = name;
  m.higher_is_better = higher_is_better;
  if (target > 0) {
    m.target_value = target;
    m.target = target_text;
  }
  return m;
}

}  // namespace

std::vector<Metric> RunW1(const BenchOptions& o) {
  Metric m = MakeMetric("W1", "1:1 text 200 B, durability os", "msgs/s", true, 700000, ">= 700000");
  for (int r = 0; r < o.repeat; ++r) {
    OneToOneResult res = OneToOne(o, "os", o.w1_messages, Texts(o.text_bytes), o.text_bytes);
    m.runs.push_back(res.messages_per_second);
    m.lost_nothing = m.lost_nothing && res.lost_nothing;
    ReferenceResult ref = RunReferenceThroughput(o.w1_messages, o.text_bytes, 1);
    m.reference_runs.push_back(ref.messages_per_second);
  }
  return {m};
}

std::vector<Metric> RunW2(const BenchOptions& o) {
  Metric m = MakeMetric("W2", "1:1 text 200 B, durability fsync", "msgs/s", true, 300000,
                        ">= 300000");
  for (int r = 0; r < o.repeat; ++r) {
    OneToOneResult res = OneToOne(o, "fsync", o.w2_messages, Texts(o.text_bytes), o.text_bytes);
    m.runs.push_back(res.messages_per_second);
    m.lost_nothing = m.lost_nothing && res.lost_nothing;
    ReferenceResult ref = RunReferenceThroughput(o.w2_messages, o.text_bytes, 1);
    m.reference_runs.push_back(ref.messages_per_second);
  }
  return {m};
}

std::vector<Metric> RunW3(const BenchOptions& o) {
  Metric m = MakeMetric("W3", "fan-out to a group of " + std::to_string(o.w3_members),
                        "deliveries/s", true, 1100000, ">= 1100000");
  for (int r = 0; r < o.repeat; ++r) {
    TempDir dir;
    Result<Pair> setup = StartWithUsers(o, "os", o.w3_members, dir);
    if (!setup.ok()) {
      Fail("starting the broker", setup.status());
      m.lost_nothing = false;
      continue;
    }
    std::vector<std::unique_ptr<Inbox>> inboxes;
    std::vector<std::unique_ptr<Client>> clients;
    bool ok = true;
    for (int i = 0; i < o.w3_members; ++i) {
      inboxes.push_back(std::make_unique<Inbox>());
      Inbox* inbox = inboxes.back().get();
      inbox->Expect(static_cast<std::uint64_t>(o.w3_messages));
      ClientOptions opts;
      opts.on_message = [inbox](const Message& msg) { inbox->On(msg); };
      auto c = Population::Connect(setup->profiles[static_cast<size_t>(i)], opts);
      if (!c.ok()) {
        Fail("connecting a member", c.status());
        ok = false;
        break;
      }
      clients.push_back(std::move(*c));
    }
    ClientOptions sender_options;
    sender_options.receive = false;
    auto sender = Population::Connect(setup->profiles[0], sender_options);
    std::vector<std::string> members;
    for (int i = 1; i < o.w3_members; ++i) members.push_back(setup->logins[static_cast<size_t>(i)]);
    Result<client::Conversation> group =
        ok && sender.ok() ? (*sender)->CreateGroup("bench", members)
                          : Result<client::Conversation>(Status::Internal("setup failed"));
    if (!group.ok()) {
      Fail("creating the group", group.status());
      m.lost_nothing = false;
      continue;
    }
    Acks acks;
    client::Target to = client::Target::Conversation(group->id);
    auto make = Texts(o.text_bytes);
    std::int64_t start = NowNs();
    for (int i = 0; i < o.w3_messages; ++i) {
      (*sender)->SendAsync(to, make(static_cast<std::uint64_t>(i)), acks.Callback());
    }
    bool all = true;
    for (auto& inbox : inboxes) {
      all = inbox->WaitAll(TimeoutFor(static_cast<std::uint64_t>(o.w3_messages))) && all;
    }
    double seconds = static_cast<double>(NowNs() - start) / 1e9;
    (*sender)->Flush(std::chrono::seconds(30));
    bool in_order = std::all_of(inboxes.begin(), inboxes.end(), [](auto& i) { return i->in_order(); });
    m.runs.push_back(static_cast<double>(o.w3_messages) * o.w3_members / seconds);
    m.lost_nothing = m.lost_nothing && all && in_order &&
                     acks.ok.load() == static_cast<std::uint64_t>(o.w3_messages);
    sender->reset();
    clients.clear();
    setup->broker->Stop();
    ReferenceResult ref = RunReferenceThroughput(o.w3_messages, o.text_bytes, o.w3_members);
    m.reference_runs.push_back(ref.messages_per_second);
  }
  return {m};
}

// Texts that carry the time they were made (for one-way latency).
std::function<client::Content(std::uint64_t)> Stamped(std::size_t bytes) {
  return [bytes](std::uint64_t) {
    std::string s = std::to_string(NowNs()) + " ";
    s.resize(std::max(bytes, s.size()), 'x');
    return client::Content(client::Text{s});
  };
}

std::vector<Metric> RunW4(const BenchOptions& o) {
  std::vector<Metric> out;
  int messages = static_cast<int>(o.w4_rate * o.w4_seconds);
  auto stamped = Stamped(o.text_bytes);
  for (bool pinned : {false, true}) {
    std::string how = pinned ? ", all on one CPU" : "";
    std::string title = "latency at " + std::to_string(o.w4_rate) + " msgs/s" + how;
    Metric p50 = MakeMetric("W4", title, "p50 us", false, 100, "<= 100");
    Metric p99 = MakeMetric("W4", title, "p99 us", false, pinned ? 200 : 500,
                            pinned ? "<= 200" : "<= 500");
    Metric p999 = MakeMetric("W4", title, "p99.9 us", false, 0, "");
    if (pinned) p50.target_value.reset(), p50.target.clear();
    for (int r = 0; r < o.repeat; ++r) {
      OneToOneResult res = OneToOne(o, "os", messages, stamped, o.text_bytes, o.w4_rate,
                                    pinned ? 0 : -1);
      p50.runs.push_back(Quantile(res.latencies_us, 0.50));
      p99.runs.push_back(Quantile(res.latencies_us, 0.99));
      p999.runs.push_back(Quantile(res.latencies_us, 0.999));
      bool lost = !res.lost_nothing;
      for (Metric* m : {&p50, &p99, &p999}) m->lost_nothing = m->lost_nothing && !lost;
      if (pinned) PinToCpu(0);
      ReferenceResult ref = RunReferenceLatency(o.w4_rate, o.w4_seconds, o.text_bytes);
      if (pinned) UnpinAll();
      p50.reference_runs.push_back(Quantile(ref.latencies_us, 0.50));
      p99.reference_runs.push_back(Quantile(ref.latencies_us, 0.99));
      p999.reference_runs.push_back(Quantile(ref.latencies_us, 0.999));
    }
    out.push_back(p50);
    out.push_back(p99);
    out.push_back(p999);
  }
  return out;
}

std::vector<Metric> RunW5(const BenchOptions& o) {
  Metric m = MakeMetric("W5", "1:1 pictures 256 KiB, durability os", "MB/s", true, 700, ">= 700");
  std::string image(o.picture_bytes, '\0');
  std::mt19937_64 rng(42);
  for (char& c : image) c = static_cast<char>(rng());
  auto make = [&](std::uint64_t) {
    client::Picture p;
    p.mime_type = "image/jpeg";
    p.width = 1024;
    p.height = 768;
    p.image = image;
    return client::Content(p);
  };
  for (int r = 0; r < o.repeat; ++r) {
    OneToOneResult res = OneToOne(o, "os", o.w5_messages, make, o.picture_bytes);
    m.runs.push_back(res.megabytes_per_second);
    m.lost_nothing = m.lost_nothing && res.lost_nothing;
    ReferenceResult ref = RunReferenceThroughput(o.w5_messages, o.picture_bytes, 1);
    m.reference_runs.push_back(ref.megabytes_per_second);
  }
  return {m};
}

std::vector<Metric> RunW6(const BenchOptions& o) {
  Metric memory = MakeMetric("W6", std::to_string(o.w6_devices) + " idle devices",
                             "KiB RSS/device", false, 1024.0 * 1024 / 10000, "<= 104.9");
  Metric connect = MakeMetric("W6", std::to_string(o.w6_devices) + " idle devices",
                              "s to connect all", false, 0, "");
  TempDir dir;
  BrokerSettings settings;
  settings.broker_path = o.broker_path;
  settings.extra_args = o.broker_args;
  settings.durability = "os";
  auto broker = StartOrAttach(o, settings, dir);
  if (!broker.ok()) {
    Fail("starting the broker", broker.status());
    memory.lost_nothing = connect.lost_nothing = false;
    return {memory, connect};
  }
  Result<IdleDevices> devices =
      EnrollIdleDevices((*broker)->admin_profile(), dir.path(), o.w6_devices, UserPrefix());
  if (!devices.ok()) {
    Fail("enrolling devices", devices.status());
    memory.lost_nothing = connect.lost_nothing = false;
    return {memory, connect};
  }
  for (int r = 0; r < o.repeat; ++r) {
    // Each round starts from a freshly started broker: devices of the last
    // round are otherwise remembered until their sessions time out.
    double restart_s = 0;
    Status restarted = (*broker)->attached() ? Status::Ok() : (*broker)->Restart(&restart_s);
    if (!restarted.ok()) {
      Fail("restarting the broker", restarted);
      memory.lost_nothing = connect.lost_nothing = false;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::uint64_t before = (*broker)->ResidentBytes();
    Result<ConnectedDevices> connected = ConnectIdleDevices(o.self_path, *devices);
    if (!connected.ok()) {
      Fail("connecting devices", connected.status());
      memory.lost_nothing = connect.lost_nothing = false;
      continue;
    }
    std::uint64_t after = (*broker)->ResidentBytes();
    memory.runs.push_back(static_cast<double>(after > before ? after - before : 0) / 1024.0 /
                          o.w6_devices);
    connect.runs.push_back(connected->seconds);
    memory.note = "broker RSS " + std::to_string(before / (1024 * 1024)) + " MiB before, " +
                  std::to_string(after / (1024 * 1024)) + " MiB with the devices connected";
    connected->Close();
  }
  return {memory, connect};
}

std::vector<Metric> RunW7(const BenchOptions& o) {
  Metric m = MakeMetric("W7", "restart with " + std::to_string(o.w7_messages) + " stored messages",
                        "s to serving", false, 2, "< 2");
  TempDir dir;
  Result<Pair> setup = StartWithUsers(o, "os", 2, dir);
  if (!setup.ok()) {
    Fail("starting the broker", setup.status());
    m.lost_nothing = false;
    return {m};
  }
  {
    ClientOptions opts;
    opts.receive = false;
    auto sender = Population::Connect(setup->profiles[0], opts);
    if (!sender.ok()) {
      Fail("connecting", sender.status());
      m.lost_nothing = false;
      return {m};
    }
    Acks acks;
    auto make = Texts(o.text_bytes);
    for (int i = 0; i < o.w7_messages; ++i) {
      (*sender)->SendAsync(client::Target::User(setup->logins[1]), make(static_cast<std::uint64_t>(i)),
                           acks.Callback());
    }
    (*sender)->Flush(TimeoutFor(static_cast<std::uint64_t>(o.w7_messages)));
    if (acks.ok.load() != static_cast<std::uint64_t>(o.w7_messages)) m.lost_nothing = false;
  }
  for (int r = 0; r < o.repeat; ++r) {
    double started_s = 0;
    Status st = setup->broker->Restart(&started_s);
    if (!st.ok()) {
      Fail("restarting", st);
      m.lost_nothing = false;
      continue;
    }
    // Serving: a device connects and gets its session.
    auto t = Clock::now();
    ClientOptions opts;
    opts.receive = false;
    auto c = Population::Connect(setup->profiles[1], opts);
    double hello_s = std::chrono::duration<double>(Clock::now() - t).count();
    if (!c.ok()) {
      Fail("connecting after the restart", c.status());
      m.lost_nothing = false;
      continue;
    }
    auto last =
        (*c)->History(client::Target::User(setup->logins[0]), client::HistoryQuery{0, 1, true});
    if (!last.ok() || last->messages.empty() ||
        last->messages.back().seq != static_cast<std::uint64_t>(o.w7_messages)) {
      m.lost_nothing = false;
    }
    m.runs.push_back(started_s + hello_s);
  }
  setup->broker->Stop();
  return {m};
}

std::vector<Metric> RunW8(const BenchOptions& o) {
  const std::string n = std::to_string(o.w8_messages);
  Metric base = MakeMetric("W8", "latency, no retention run", "p99 us", false, 0, "");
  Metric during = MakeMetric("W8", "latency, retention removing " + n, "p99 us", false, 0, "");
  Metric ratio = MakeMetric("W8", "p99 with / without the run", "ratio", false, 2, "<= 2");
  Metric removed = MakeMetric("W8", "retention run removing " + n, "removed/s", true, 0, "");
  const int latency_messages = static_cast<int>(o.w4_rate * o.w4_seconds);
  for (int r = 0; r < o.repeat; ++r) {
    // A broker whose one retention policy keeps the newest 10 messages of the
    // group "w8-bulk", and users: 0-1 and 2-3 for the latency runs, 4 fills
    // the group (5 is its other member, never connected).
    BenchOptions with_policy = o;
    for (const char* arg : {"--set", "plugin.w8.library=keep_newest", "--set", "plugin.w8.count=10",
                            "--set", "plugin.w8.groups=w8-bulk", "--set", "retention.interval=24h"}) {
      with_policy.broker_args.emplace_back(arg);
    }
    TempDir dir;
    Result<Pair> setup = StartWithUsers(with_policy, "os", 6, dir);
    if (!setup.ok()) {
      Fail("starting the broker", setup.status());
      base.lost_nothing = during.lost_nothing = false;
      continue;
    }
    {
      ClientOptions opts;
      opts.receive = false;
      auto filler = Population::Connect(setup->profiles[4], opts);
      if (!filler.ok()) {
        Fail("connecting", filler.status());
        base.lost_nothing = false;
        continue;
      }
      auto group = (*filler)->CreateGroup("w8-bulk", {setup->logins[5]});
      if (!group.ok()) {
        Fail("creating the group", group.status());
        base.lost_nothing = false;
        continue;
      }
      Acks acks;
      auto make = Texts(o.text_bytes);
      for (int i = 0; i < o.w8_messages; ++i) {
        (*filler)->SendAsync(client::Target::Conversation(group->id),
                             make(static_cast<std::uint64_t>(i)), acks.Callback());
      }
      (*filler)->Flush(TimeoutFor(static_cast<std::uint64_t>(o.w8_messages)));
      if (acks.ok.load() != static_cast<std::uint64_t>(o.w8_messages)) base.lost_nothing = false;
    }
    OneToOneResult quiet =
        SendOneToOne(*setup, 0, 1, Stamped(o.text_bytes), latency_messages, o.text_bytes, o.w4_rate);
    base.runs.push_back(Quantile(quiet.latencies_us, 0.99));
    base.lost_nothing = base.lost_nothing && quiet.lost_nothing;

    // The same while an administrator's retention run removes the group's
    // messages.
    ClientOptions admin_opts;
    admin_opts.receive = false;
    admin_opts.request_timeout = std::chrono::minutes(30);
    auto admin = Population::Connect(setup->broker->admin_profile(), admin_opts);
    if (!admin.ok()) {
      Fail("connecting the administrator", admin.status());
      during.lost_nothing = false;
      continue;
    }
    Result<client::RetentionReport> report = Status::Internal("not run");
    std::atomic<bool> sweep_done{false};
    auto sweep_start = Clock::now();
    double sweep_seconds = 0;
    std::thread sweeper([&] {
      report = (*admin)->RunRetention(/*dry_run=*/false);
      sweep_seconds = std::chrono::duration<double>(Clock::now() - sweep_start).count();
      sweep_done = true;
    });
    OneToOneResult busy =
        SendOneToOne(*setup, 2, 3, Stamped(o.text_bytes), latency_messages, o.text_bytes, o.w4_rate);
    bool overlapped = !sweep_done.load();
    sweeper.join();
    if (!report.ok()) {
      Fail("the retention run", report.status());
      during.lost_nothing = false;
    } else {
      std::uint64_t expected = o.w8_messages > 10 ? static_cast<std::uint64_t>(o.w8_messages) - 10 : 0;
      if (report->messages_deleted != expected) {
        std::fprintf(stderr, "chatpro-bench: the retention run removed %llu messages, not %llu\n",
                     static_cast<unsigned long long>(report->messages_deleted),
                     static_cast<unsigned long long>(expected));
        during.lost_nothing = false;
      }
      removed.runs.push_back(static_cast<double>(report->messages_deleted) / sweep_seconds);
    }
    if (!overlapped) {
      std::fprintf(stderr,
                   "chatpro-bench: W8: the retention run (%.1f s) ended before the latency run "
                   "(%.1f s); the p99 covers only part of it\n",
                   sweep_seconds, o.w4_seconds);
    }
    during.runs.push_back(Quantile(busy.latencies_us, 0.99));
    during.lost_nothing = during.lost_nothing && busy.lost_nothing;
    ratio.runs.push_back(during.runs.back() / std::max(1.0, base.runs.back()));
    admin->reset();
    if (!setup->broker->Stop()) std::fprintf(stderr, "chatpro-bench: the broker did not stop cleanly\n");
    if (o.verbose) std::fprintf(stderr, "%s\n", setup->broker->ServedLine().c_str());
  }
  return {base, during, ratio, removed};
}

}  // namespace chatpro::bench
