// SPDX-License-Identifier: Apache-2.0
#include "bench/soak.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "bench/harness.h"

namespace chatpro::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSteadyUsers = 4;   // connected all the time, send and receive
constexpr int kChurnUsers = 2;    // group members whose devices come and go
constexpr std::size_t kTextBytes = 200;
constexpr std::size_t kPictureBytes = 64 << 10;

std::uint64_t AnonymousResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10) * 1024;
  }
  return 0;
}

int OpenFds(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

// What every user received, by conversation, across all of their sessions:
// the highest seq seen, and whether a seq ever skipped ahead (a loss, or
// delivery out of order). A seq at or below the highest is a redelivery,
// which at-least-once delivery allows across sessions.
class Received {
 public:
  void On(int user, const client::Message& m) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t& last = last_[{user, m.conversation_id}];
    if (m.seq > last + 1) {
      if (gaps_++ == 0) {
        std::fprintf(stderr, "chatpro-bench: user %d got seq %llu after %llu in conversation %llu\n",
                     user, static_cast<unsigned long long>(m.seq),
                     static_cast<unsigned long long>(last),
                     static_cast<unsigned long long>(m.conversation_id));
      }
    }
    if (m.seq > last) {
      last = m.seq;
      ++delivered_;
    }
  }
  std::uint64_t Last(int user, std::uint64_t conversation) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = last_.find({user, conversation});
    return it == last_.end() ? 0 : it->second;
  }
  std::uint64_t gaps() {
    std::lock_guard<std::mutex> lock(mutex_);
    return gaps_;
  }
  std::uint64_t delivered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return delivered_;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> last_;
  std::uint64_t gaps_ = 0;
  std::uint64_t delivered_ = 0;
};

// The highest acknowledged seq per conversation, and failed sends.
class Acked {
 public:
  void On(const client::SendResult& r) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!r.status.ok()) {
      if (failed_++ == 0) {
        std::fprintf(stderr, "chatpro-bench: a send failed: %s\n", r.status.ToString().c_str());
      }
      return;
    }
    ++acked_;
    std::uint64_t& last = last_[r.conversation_id];
    last = std::max(last, r.seq);
  }
  std::uint64_t Last(std::uint64_t conversation) {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_[conversation];
  }
  std::uint64_t failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }
  std::uint64_t acked() {
    std::lock_guard<std::mutex> lock(mutex_);
    return acked_;
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, std::uint64_t> last_;
  std::uint64_t failed_ = 0;
  std::uint64_t acked_ = 0;
};

std::uint64_t Median(std::vector<std::uint64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string Mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

}  // namespace

SoakVerdict JudgeSoak(const std::vector<SoakSample>& samples, const SoakOptions& options) {
  SoakVerdict v;
  std::vector<SoakSample> judged;
  for (const SoakSample& s : samples) {
    if (s.t_s >= options.warmup_fraction * options.seconds) judged.push_back(s);
  }
  if (judged.size() < 3) {
    v.explanation = "too few samples after the warm-up to judge (" +
                    std::to_string(judged.size()) + "); run longer or sample more often";
    return v;
  }
  const std::size_t third = judged.size() / 3;
  std::vector<std::uint64_t> first_rss, last_rss;
  for (std::size_t i = 0; i < third; ++i) {
    first_rss.push_back(judged[i].anon_bytes);
    v.fds_first_max = std::max(v.fds_first_max, judged[i].fds);
  }
  for (std::size_t i = judged.size() - third; i < judged.size(); ++i) {
    last_rss.push_back(judged[i].anon_bytes);
    v.fds_last_max = std::max(v.fds_last_max, judged[i].fds);
  }
  v.rss_first_median = Median(first_rss);
  v.rss_last_median = Median(last_rss);
  const double rss_bound = static_cast<double>(v.rss_first_median) *
                               (1 + options.rss_growth_fraction) +
                           static_cast<double>(options.rss_slack_bytes);
  v.rss_flat = static_cast<double>(v.rss_last_median) <= rss_bound;
  v.fds_flat = v.fds_last_max <= v.fds_first_max + options.fd_slack;
  std::ostringstream out;
  out << "anonymous resident memory (RssAnon), median of the first third after the warm-up "
      << Mib(v.rss_first_median) << ", of the last third " << Mib(v.rss_last_median)
      << " (bound " << Mib(static_cast<std::uint64_t>(rss_bound)) << "): "
      << (v.rss_flat ? "flat" : "GROWING") << "; open fds, highest of the first third "
      << v.fds_first_max << ", of the last third " << v.fds_last_max << " (bound "
      << v.fds_first_max + options.fd_slack << "): " << (v.fds_flat ? "flat" : "GROWING");
  v.explanation = out.str();
  return v;
}

int RunSoak(const BenchOptions& bench, const SoakOptions& options) {
  int rate = options.rate;
  TempDir dir;
  BrokerSettings settings;
  settings.broker_path = bench.broker_path;
  settings.durability = "os";
  // A small memtable and block cache, full within the warm-up, so that their
  // filling is not mistaken for growth; later arguments override them.
  settings.extra_args = {"--set", "store.write_buffer_size=4MiB", "--set",
                         "store.cache_size=8MiB"};
  settings.extra_args.insert(settings.extra_args.end(), bench.broker_args.begin(),
                             bench.broker_args.end());
  Result<std::unique_ptr<BrokerProcess>> broker = BrokerProcess::Start(settings, dir.path());
  if (!broker.ok()) {
    std::fprintf(stderr, "chatpro-bench: starting the broker: %s\n",
                 broker.status().ToString().c_str());
    return 1;
  }
  Population population((*broker)->admin_profile(), dir.path());
  const std::string prefix = "soak" + std::to_string(::getpid()) + "-u";
  Result<std::vector<std::string>> profiles =
      population.AddUsers(prefix, kSteadyUsers + kChurnUsers);
  if (!profiles.ok()) {
    std::fprintf(stderr, "chatpro-bench: adding users: %s\n", profiles.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> logins;
  for (int i = 0; i < kSteadyUsers + kChurnUsers; ++i) logins.push_back(prefix + std::to_string(i));

  Received received;
  Acked acked;
  std::atomic<std::uint64_t> other_failures{0};
  auto options_for = [&](int user) {
    client::ClientOptions o;
    o.on_message = [&received, user](const client::Message& m) { received.On(user, m); };
    return o;
  };
  std::vector<std::unique_ptr<client::Client>> steady;
  for (int i = 0; i < kSteadyUsers; ++i) {
    auto c = Population::Connect((*profiles)[static_cast<std::size_t>(i)], options_for(i));
    if (!c.ok()) {
      std::fprintf(stderr, "chatpro-bench: connecting: %s\n", c.status().ToString().c_str());
      return 1;
    }
    steady.push_back(std::move(*c));
  }
  std::vector<std::string> others(logins.begin() + 1, logins.end());
  Result<client::Conversation> group = steady[0]->CreateGroup(prefix + "group", others);
  // direct[i]: user i with user i+1 (mod kSteadyUsers).
  std::vector<std::uint64_t> direct;
  for (int i = 0; i < kSteadyUsers && group.ok(); ++i) {
    auto c = steady[static_cast<std::size_t>(i)]->OpenDirect(
        logins[static_cast<std::size_t>((i + 1) % kSteadyUsers)]);
    if (!c.ok()) group = c.status();
    if (c.ok()) direct.push_back(c->id);
  }
  if (!group.ok()) {
    std::fprintf(stderr, "chatpro-bench: setting up conversations: %s\n",
                 group.status().ToString().c_str());
    return 1;
  }
  const std::uint64_t group_id = group->id;

  // Message k of the mix: from user k % 4, a group text every third, a
  // picture every 100th, otherwise a 1:1 text.
  const std::string text(kTextBytes, 't');
  client::Picture picture;
  picture.mime_type = "image/png";
  picture.width = 64;
  picture.height = 64;
  picture.image = std::string(kPictureBytes, 'p');
  auto SendOne = [&](std::uint64_t k, std::function<void(const client::SendResult&)> done) {
    const std::size_t from = k % kSteadyUsers;
    client::Target to = client::Target::Conversation(k % 3 == 0 ? group_id : direct[from]);
    client::Content content = client::Text{text};
    if (k % 100 == 99) {
      to = client::Target::Conversation(direct[from]);
      content = picture;
    }
    steady[from]->SendAsync(to, std::move(content), std::move(done));
  };

  std::atomic<std::uint64_t> sent{0};
  std::atomic<int> outstanding{0};
  if (rate <= 0) {
    // The capacity of this very mix on this machine: as fast as the broker
    // acknowledges, with a bounded number of sends outstanding; the soak
    // then runs at half of it.
    const double seconds = std::min(10.0, std::max(3.0, options.seconds / 20));
    std::fprintf(stderr, "chatpro-bench: measuring the mix's capacity for %.0f s ...\n", seconds);
    const std::uint64_t acked_before = acked.acked();
    const auto t0 = Clock::now();
    const auto until = t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
    for (std::uint64_t k = 0; Clock::now() < until;) {
      if (outstanding.load() >= 1000) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      ++outstanding;
      SendOne(k++, [&acked, &outstanding](const client::SendResult& r) {
        acked.On(r);
        --outstanding;
      });
      ++sent;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const double capacity = static_cast<double>(acked.acked() - acked_before) / elapsed;
    for (auto& c : steady) c->Flush(std::chrono::seconds(60));
    rate = std::max(1, static_cast<int>(capacity / 2));
    std::printf("capacity of the mix: %.0f messages/s acknowledged\n", capacity);
  }

  std::printf("ChatPro soak: %.0f s at %d messages/s (1:1 texts, group texts, a 64 KiB picture "
              "every 100th, history reads, devices connecting and leaving), durability os\n",
              options.seconds, rate);
  std::fflush(stdout);

  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.seconds));

  std::thread sender([&] {
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL / rate);
    for (std::uint64_t k = 0; Clock::now() < end; ++k) {
      std::this_thread::sleep_until(start + interval * static_cast<std::int64_t>(k));
      SendOne(k, [&acked](const client::SendResult& r) { acked.On(r); });
      ++sent;
    }
  });
  std::thread side([&] {
    // Devices that come and go, and history reads, until the end.
    int round = 0;
    while (Clock::now() < end) {
      const int user = kSteadyUsers + round % kChurnUsers;
      auto c = Population::Connect((*profiles)[static_cast<std::size_t>(user)], options_for(user));
      if (!c.ok()) {
        if (other_failures++ == 0) {
          std::fprintf(stderr, "chatpro-bench: a device could not connect: %s\n",
                       c.status().ToString().c_str());
        }
      }
      client::HistoryQuery q;
      q.limit = 50;
      auto page = steady[static_cast<std::size_t>(round % kSteadyUsers)]->History(
          client::Target::Conversation(group_id), q);
      if (!page.ok() && other_failures++ == 0) {
        std::fprintf(stderr, "chatpro-bench: a history read failed: %s\n",
                     page.status().ToString().c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      if (c.ok()) c->reset();  // the device leaves
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ++round;
    }
  });

  std::vector<SoakSample> samples;
  std::printf("%8s %10s %10s %6s %12s %12s %12s\n", "t (s)", "RSS (MiB)", "anon (MiB)", "fds",
              "sent", "acked", "delivered");
  auto sample = [&] {
    SoakSample s;
    s.t_s = std::chrono::duration<double>(Clock::now() - start).count();
    s.rss_bytes = (*broker)->ResidentBytes();
    s.anon_bytes = AnonymousResidentBytes((*broker)->pid());
    s.fds = OpenFds((*broker)->pid());
    s.sent = sent.load();
    s.acked = acked.acked();
    s.delivered = received.delivered();
    samples.push_back(s);
    std::printf("%8.0f %10.1f %10.1f %6d %12llu %12llu %12llu\n", s.t_s,
                static_cast<double>(s.rss_bytes) / (1 << 20),
                static_cast<double>(s.anon_bytes) / (1 << 20), s.fds,
                static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.acked),
                static_cast<unsigned long long>(s.delivered));
    std::fflush(stdout);
  };
  const auto step = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.sample_interval_s));
  for (auto next = start + step; next <= end; next += step) {
    std::this_thread::sleep_until(next);
    sample();
  }
  sender.join();
  side.join();

  // Every send acknowledged, every message at every member.
  for (auto& c : steady) c->Flush(std::chrono::seconds(60));
  std::vector<std::unique_ptr<client::Client>> churn;
  for (int u = kSteadyUsers; u < kSteadyUsers + kChurnUsers; ++u) {
    auto c = Population::Connect((*profiles)[static_cast<std::size_t>(u)], options_for(u));
    if (c.ok()) churn.push_back(std::move(*c));
    else ++other_failures;
  }
  auto caught_up = [&] {
    for (int u = 0; u < kSteadyUsers + kChurnUsers; ++u) {
      if (received.Last(u, group_id) < acked.Last(group_id)) return false;
    }
    for (int i = 0; i < kSteadyUsers; ++i) {
      const std::uint64_t d = direct[static_cast<std::size_t>(i)];
      if (received.Last(i, d) < acked.Last(d)) return false;
      if (received.Last((i + 1) % kSteadyUsers, d) < acked.Last(d)) return false;
    }
    return true;
  };
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!caught_up() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool everything_arrived = caught_up();
  churn.clear();
  steady.clear();
  const bool clean_stop = (*broker)->Stop();

  SoakVerdict verdict = JudgeSoak(samples, options);
  const std::uint64_t failed = acked.failed();
  const bool ok = failed == 0 && other_failures.load() == 0 && received.gaps() == 0 &&
                  everything_arrived && clean_stop && verdict.rss_flat && verdict.fds_flat;
  std::printf("\nsent %llu, acknowledged %llu, failed %llu; every message at every member: %s; "
              "gaps or reorderings: %llu; other failures (connects, history): %llu; clean stop: "
              "%s\n%s\nverdict: %s\n",
              static_cast<unsigned long long>(sent.load()),
              static_cast<unsigned long long>(acked.acked()),
              static_cast<unsigned long long>(failed), everything_arrived ? "yes" : "NO",
              static_cast<unsigned long long>(received.gaps()),
              static_cast<unsigned long long>(other_failures.load()), clean_stop ? "yes" : "NO",
              verdict.explanation.c_str(), ok ? "PASS" : "FAIL");

  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << "{\"seconds\":" << options.seconds << ",\"rate\":" << rate
        << ",\"sent\":" << sent.load() << ",\"acked\":" << acked.acked()
        << ",\"failed\":" << failed << ",\"gaps\":" << received.gaps()
        << ",\"other_failures\":" << other_failures.load()
        << ",\"everything_arrived\":" << (everything_arrived ? "true" : "false")
        << ",\"anon_first_median\":" << verdict.rss_first_median
        << ",\"anon_last_median\":" << verdict.rss_last_median
        << ",\"fds_first_max\":" << verdict.fds_first_max
        << ",\"fds_last_max\":" << verdict.fds_last_max
        << ",\"rss_flat\":" << (verdict.rss_flat ? "true" : "false")
        << ",\"fds_flat\":" << (verdict.fds_flat ? "true" : "false")
        << ",\"pass\":" << (ok ? "true" : "false") << ",\"samples\":[";
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const SoakSample& s = samples[i];
      out << (i ? "," : "") << "{\"t\":" << s.t_s << ",\"rss\":" << s.rss_bytes << ",\"anon\":" << s.anon_bytes
          << ",\"fds\":" << s.fds << ",\"sent\":" << s.sent << ",\"acked\":" << s.acked
          << ",\"delivered\":" << s.delivered << "}";
    }
    out << "]}\n";
  }
  return ok ? 0 : 1;
}

}  // namespace chatpro::bench
