// SPDX-License-Identifier: Apache-2.0
#include "bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace chatpro::bench {
namespace {

std::string Num(double v) {
  char buf[64];
  if (std::fabs(v) >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (std::fabs(v) >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonArray(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v[i]);
    out += buf;
  }
  return out + "]";
}

}  // namespace

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) ;
  idx = idx == 0 ? 0 : idx - 1;
  return v[std::min(idx, v.size() - 1)];
}

double Metric::Median() const { return MedianOf(runs); }
double Metric::Min() const { return runs.empty() ? 0 : *std::min_element(runs.begin(), runs.end()); }
double Metric::Max() const { return runs.empty() ? 0 : *std::max_element(runs.begin(), runs.end()); }

std::optional<double> Metric::ReferenceMedian() const {
  if (reference_runs.empty()) return std::nullopt;
  return MedianOf(reference_runs);
}

std::optional<bool> Metric::MeetsTarget() const {
  if (!target_value || runs.empty()) return std::nullopt;
  return higher_is_better ? Median() >= *target_value : Median() <= *target_value;
}

std::string FormatTable(const std::vector<Metric>& metrics) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-4s %-40s %-16s %12s %-25s %12s %7s %-12s %s\n", "id",
                "workload", "metric", "median", "[min - max]", "zmq ref", "ratio", "target",
                "result");
  out << line;
  for (const Metric& m : metrics) {
    std::string range = "[" + Num(m.Min()) + " - " + Num(m.Max()) + "]";
    std::string ref = m.ReferenceMedian() ? Num(*m.ReferenceMedian()) : "-";
    std::string ratio = "-";
    if (m.ReferenceMedian() && *m.ReferenceMedian() != 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", m.Median() / *m.ReferenceMedian());
      ratio = buf;
    }
    std::string result;
    if (!m.lost_nothing) {
      result = "LOST MESSAGES";
    } else if (auto meets = m.MeetsTarget()) {
      result = *meets ? "meets target" : "below target";
    }
    std::snprintf(line, sizeof line, "%-4s %-40s %-16s %12s %-25s %12s %7s %-12s %s\n",
                  m.workload.c_str(), m.title.c_str(), m.name.c_str(), Num(m.Median()).c_str(),
                  range.c_str(), ref.c_str(), ratio.c_str(), m.target.c_str(), result.c_str());
    out << line;
    if (!m.note.empty()) out << "     " << m.note << "\n";
  }
  return out.str();
}

std::string FormatJson(const std::vector<Metric>& metrics, const std::string& machine,
                       const std::string& date, const std::string& command) {
  std::ostringstream out;
  out << "{\n  \"machine\": " << JsonString(machine) << ",\n  \"date\": " << JsonString(date)
      << ",\n  \"command\": " << JsonString(command) << ",\n  \"metrics\": [\n";
  for (size_t i = 0; i < metrics.size(); ++i) {
    const Metric& m = metrics[i];
    out << "    {\"workload\": " << JsonString(m.workload) << ", \"title\": " << JsonString(m.title)
        << ", \"metric\": " << JsonString(m.name) << ", \"runs\": " << JsonArray(m.runs)
        << ", \"median\": " << m.Median() << ", \"min\": " << m.Min() << ", \"max\": " << m.Max();
    if (m.ReferenceMedian()) {
      out << ", \"reference_runs\": " << JsonArray(m.reference_runs)
          << ", \"reference_median\": " << *m.ReferenceMedian();
      if (*m.ReferenceMedian() != 0) out << ", \"ratio\": " << m.Median() / *m.ReferenceMedian();
    }
    if (m.target_value) out << ", \"target\": " << *m.target_value;
    if (auto meets = m.MeetsTarget()) out << ", \"meets_target\": " << (*meets ? "true" : "false");
    out << ", \"lost_nothing\": " << (m.lost_nothing ? "true" : "false");
    if (!m.note.empty()) out << ", \"note\": " << JsonString(m.note);
    out << "}" << (i + 1 < metrics.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  return out.str();
}

std::string DescribeMachine() {
  std::string cpu;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  double mem_gib = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                   static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024 * 1024);
  std::string os = "Linux";
  std::ifstream release("/etc/os-release");
  while (std::getline(release, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      os = line.substr(12);
      os.erase(std::remove(os.begin(), os.end(), '"'), os.end());
    }
  }
  utsname u{};
  ::uname(&u);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s (kernel %s), %ld CPUs (%s), %.0f GiB RAM", os.c_str(),
                u.release, cpus, cpu.c_str(), mem_gib);
  return buf;
}

}  // namespace chatpro::bench
