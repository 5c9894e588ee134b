// SPDX-License-Identifier: Apache-2.0
//
// The monitoring kit against real programs: a real chatpro-broker with its
// metrics endpoint on a free loopback port, scraped by a real Prometheus
// (Debian's `prometheus`, with the alert rules shipped in
// monitoring/prometheus/), read back through Prometheus's HTTP API; and the
// Grafana dashboard and the alert rules checked against the metric names the
// broker really exposes, so that a typo in either fails here.
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/chat_fixture.h"
#include "tests/http_get.h"

#ifndef CHATPRO_PROMETHEUS_PATH
#define CHATPRO_PROMETHEUS_PATH ""
#endif

namespace chatpro::testing {
namespace {

using client::Profile;
using client::SendResult;
using client::Target;

const std::string kMonitoringDir = CHATPRO_MONITORING_DIR;

// Metric names in Prometheus text: every sample's name, and every family
// named by a # TYPE line (a family may have no samples yet, e.g. removals by
// a policy that removed nothing).
std::set<std::string> ExposedNames(const std::string& text) {
  std::set<std::string> names;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      words >> name;
      names.insert(name);
    } else if (!line.empty() && line[0] != '#') {
      names.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return names;
}

// Every chatpro_* name in `text`.
std::set<std::string> ReferencedNames(const std::string& text) {
  static const std::regex kName("chatpro_[a-z0-9_]+");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

class PrometheusMonitoring : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "metrics.listen=127.0.0.1:" + std::to_string(metrics_port_)};
    return o;
  }

  // Sends `n` texts from a new user to another and waits until they arrive.
  void SendTexts(int n) {
    ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
    ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
    auto ben_inbox = std::make_shared<Inbox>();
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
    ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
    for (int i = 0; i < n; ++i) {
      auto future = ana_client->Send(Target::User("ben"), MakeText("report " + std::to_string(i)));
      ASSERT_OK_AND_ASSIGN(SendResult r, Await(future));
      ASSERT_TRUE(r.status.ok()) << r.status;
    }
    ASSERT_TRUE(ben_inbox->WaitFor(n));
  }

  const int metrics_port_ = PickFreePort();
};

TEST_F(PrometheusMonitoring, DashboardAndAlertRulesUseOnlyMetricsTheBrokerExposes) {
  ASSERT_NO_FATAL_FAILURE(SendTexts(1));
  HttpReply scrape = HttpGet(metrics_port_, "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.body << scrape.error;
  const std::set<std::string> exposed = ExposedNames(scrape.body);
  ASSERT_TRUE(exposed.count("chatpro_messages_accepted_total")) << scrape.body;

  // The dashboard is valid JSON that Grafana can import: the data source is
  // an input chosen at import, every panel uses it, brokers are a variable.
  const std::string dashboard_text =
      ReadWholeFile(kMonitoringDir + "/grafana/chatpro-dashboard.json");
  ASSERT_FALSE(dashboard_text.empty());
  Poco::JSON::Object::Ptr dashboard;
  try {
    dashboard = Poco::JSON::Parser().parse(dashboard_text).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    FAIL() << "the dashboard is not valid JSON: " << e.what();
  }
  Poco::JSON::Array::Ptr inputs = dashboard->getArray("__inputs");
  ASSERT_FALSE(inputs.isNull());
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ(inputs->getObject(0)->getValue<std::string>("name"), "DS_PROMETHEUS");
  EXPECT_EQ(inputs->getObject(0)->getValue<std::string>("pluginId"), "prometheus");
  std::set<std::string> variables;
  Poco::JSON::Array::Ptr templating = dashboard->getObject("templating")->getArray("list");
  for (std::size_t i = 0; i < templating->size(); ++i) {
    variables.insert(
        templating->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
  }
  EXPECT_TRUE(variables.count("instance"));
  Poco::JSON::Array::Ptr panels = dashboard->getArray("panels");
  ASSERT_GE(panels->size(), 15u);
  std::string expressions;
  for (std::size_t i = 0; i < panels->size(); ++i) {
    Poco::JSON::Object::Ptr panel = panels->getObject(static_cast<unsigned>(i));
    if (panel->getValue<std::string>("type") == "row") continue;
    const std::string title = panel->getValue<std::string>("title");
    EXPECT_EQ(panel->getObject("datasource")->getValue<std::string>("uid"), "${DS_PROMETHEUS}")
        << title;
    Poco::JSON::Array::Ptr targets = panel->getArray("targets");
    ASSERT_FALSE(targets.isNull()) << title;
    ASSERT_GE(targets->size(), 1u) << title;
    for (std::size_t t = 0; t < targets->size(); ++t) {
      std::string expr =
          targets->getObject(static_cast<unsigned>(t))->getValue<std::string>("expr");
      EXPECT_NE(expr.find("$instance"), std::string::npos) << title << ": " << expr;
      expressions += expr + "\n";
    }
  }

  // Every chatpro_* name the panels and the alert rules use is exposed.
  const std::set<std::string> in_dashboard = ReferencedNames(expressions);
  EXPECT_GE(in_dashboard.size(), 15u);
  for (const std::string& name : in_dashboard) {
    EXPECT_TRUE(exposed.count(name))
        << "the dashboard uses " << name << ", which the broker does not expose";
  }
  const std::string rules = ReadWholeFile(kMonitoringDir + "/prometheus/chatpro-alerts.yml");
  const std::set<std::string> in_rules = ReferencedNames(rules);
  EXPECT_GE(in_rules.size(), 6u);
  for (const std::string& name : in_rules) {
    EXPECT_TRUE(exposed.count(name))
        << "an alert rule uses " << name << ", which the broker does not expose";
  }
}

// A real Prometheus on a free loopback port with its own storage.
class PrometheusProcess {
 public:
  explicit PrometheusProcess(const TempDir& dir) : dir_(dir) {}

  // Writes a configuration that scrapes `target` every second as job
  // "chatpro" with the shipped alert rules, starts Prometheus and waits until
  // it is ready. Tries another port if the one picked was taken meanwhile.
  Status Start(const std::string& target) {
    const std::string config = dir_.Sub("prometheus.yml");
    Status st = WriteWholeFile(config,
                               "global:\n"
                               "  scrape_interval: 1s\n"
                               "  evaluation_interval: 1s\n"
                               "rule_files:\n"
                               "  - " +
                                   kMonitoringDir +
                                   "/prometheus/chatpro-alerts.yml\n"
                                   "scrape_configs:\n"
                                   "  - job_name: chatpro\n"
                                   "    static_configs:\n"
                                   "      - targets: ['" +
                                   target + "']\n");
    if (!st.ok()) return st;
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = PickFreePort();
      st = process_.Spawn(
          {CHATPRO_PROMETHEUS_PATH, "--config.file=" + config,
           "--storage.tsdb.path=" + dir_.Sub("prometheus-data"),
           "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
          log_path(), log_path());
      if (!st.ok()) return st;
      auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
      while (std::chrono::steady_clock::now() < deadline && !process_.Poll()) {
        if (HttpGet(port_, "/-/ready").status == 200) return Status::Ok();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      process_.Kill();  // ended (port taken?) or never ready: try again
    }
    return Status::Unavailable("prometheus did not start:\n" + ReadWholeFile(log_path()));
  }

  // Runs an instant query; the `result` array of the answer, or null.
  Poco::JSON::Array::Ptr Query(const std::string& promql, std::string* raw) {
    Poco::URI uri("/api/v1/query");
    uri.addQueryParameter("query", promql);
    HttpReply reply = HttpGet(port_, uri.getPathAndQuery());
    *raw = reply.error.empty() ? reply.body : reply.error;
    if (reply.status != 200) return nullptr;
    try {
      auto answer = Poco::JSON::Parser().parse(reply.body).extract<Poco::JSON::Object::Ptr>();
      return answer->getObject("data")->getArray("result");
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  int port() const { return port_; }
  std::string log_path() const { return dir_.Sub("prometheus.log"); }
  ChildProcess& process() { return process_; }

 private:
  const TempDir& dir_;
  ChildProcess process_;  // killed with its group when the test ends, whatever happened
  int port_ = 0;
};

// The value of the first sample of an instant query's result, or -1.
double FirstValue(const Poco::JSON::Array::Ptr& result) {
  if (result.isNull() || result->size() == 0) return -1;
  Poco::JSON::Array::Ptr value = result->getObject(0)->getArray("value");  // [time, "value"]
  return std::stod(value->getElement<std::string>(1));
}

TEST_F(PrometheusMonitoring, RealPrometheusScrapesTheBrokerAndReadsMessagesAcceptedBack) {
  ASSERT_STRNE(CHATPRO_PROMETHEUS_PATH, "")
      << "prometheus not found at configure time: install Debian's `prometheus` package";
  TempDir prometheus_dir;
  PrometheusProcess prometheus(prometheus_dir);
  Status started = prometheus.Start("127.0.0.1:" + std::to_string(metrics_port_));
  ASSERT_TRUE(started.ok()) << started;

  constexpr int kSent = 5;
  ASSERT_NO_FATAL_FAILURE(SendTexts(kSent));

  // Prometheus scrapes every second; wait until its answer has the messages.
  const std::string query = "sum(chatpro_messages_accepted_total{job=\"chatpro\",kind=\"text\"})";
  double accepted = -1;
  std::string raw;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    accepted = FirstValue(prometheus.Query(query, &raw));
    if (accepted == kSent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(accepted, kSent) << "last answer: " << raw << "\nprometheus log:\n"
                             << ReadWholeFile(prometheus.log_path());

  EXPECT_EQ(FirstValue(prometheus.Query("up{job=\"chatpro\"}", &raw)), 1) << raw;
  EXPECT_GE(FirstValue(prometheus.Query(
                "sum(chatpro_messages_delivered_total{job=\"chatpro\",kind=\"text\"})", &raw)),
            kSent)
      << raw;
  // The shipped rules loaded, and none fires for a healthy broker.
  HttpReply rules = HttpGet(prometheus.port(), "/api/v1/rules");
  EXPECT_EQ(rules.status, 200);
  EXPECT_NE(rules.body.find("ChatProBrokerDown"), std::string::npos) << rules.body;
  EXPECT_NE(rules.body.find("ChatProRetentionFailing"), std::string::npos) << rules.body;
  Poco::JSON::Array::Ptr firing = prometheus.Query("ALERTS{alertstate=\"firing\"}", &raw);
  ASSERT_FALSE(firing.isNull()) << raw;
  EXPECT_EQ(firing->size(), 0u) << raw;

  // A clean stop of both; the fixture stops the broker.
  EXPECT_EQ(prometheus.process().Terminate(), 0) << ReadWholeFile(prometheus.log_path());
}

}  // namespace
}  // namespace chatpro::testing
