// SPDX-License-Identifier: Apache-2.0
//
// Router: maps a method and a path to a handler. Patterns are literal
// segments and `{name}` segments that take one non-empty path segment
// (percent-decoded) as a parameter: "/api/v1/users/{login}/devices".
//
// Thread-safety: built once (Add) before requests; Find is const and may run
// on any number of threads at once.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatpro::console {

template <typename Handler>
class Router {
 public:
  struct Route {
    std::string method;   // "GET", "POST", "DELETE"
    std::string pattern;  // e.g. "/api/v1/users/{login}"
    Handler handler;
  };
  struct Match {
    const Route* route = nullptr;                // null: no route for this method
    bool path_known = false;                     // some method has this path (405, not 404)
    std::map<std::string, std::string> params;   // {name} -> decoded segment
  };

  void Add(std::string method, std::string pattern, Handler handler) {
    routes_.push_back({std::move(method), std::move(pattern), std::move(handler)});
  }

  // `path` without the query string, still percent-encoded.
  Match Find(std::string_view method, std::string_view path) const {
    Match m;
    for (const Route& r : routes_) {
      std::optional<std::map<std::string, std::string>> params = MatchPattern(r.pattern, path);
      if (!params) continue;
      m.path_known = true;
      if (r.method == method) {
        m.route = &r;
        m.params = std::move(*params);
        return m;
      }
    }
    return m;
  }

  const std::vector<Route>& routes() const { return routes_; }

 private:
  static std::vector<std::string_view> Split(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t slash = s.find('/', start);
      if (slash == std::string_view::npos) slash = s.size();
      out.push_back(s.substr(start, slash - start));
      start = slash + 1;
    }
    return out;
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // nullopt for a broken escape or a decoded NUL or slash (a parameter is one
  // segment, never a path).
  static std::optional<std::string> Decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out += s[i];
        continue;
      }
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = Hex(s[i + 1]), lo = Hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char c = static_cast<char>(hi * 16 + lo);
      if (c == '\0' || c == '/') return std::nullopt;
      out += c;
      i += 2;
    }
    return out;
  }

  static std::optional<std::map<std::string, std::string>> MatchPattern(std::string_view pattern,
                                                                        std::string_view path) {
    std::vector<std::string_view> want = Split(pattern), got = Split(path);
    if (want.size() != got.size()) return std::nullopt;
    std::map<std::string, std::string> params;
    for (std::size_t i = 0; i < want.size(); ++i) {
      std::string_view w = want[i];
      if (w.size() > 2 && w.front() == '{' && w.back() == '}') {
        if (got[i].empty()) return std::nullopt;
        std::optional<std::string> value = Decode(got[i]);
        if (!value) return std::nullopt;
        params[std::string(w.substr(1, w.size() - 2))] = std::move(*value);
      } else if (w != got[i]) {
        return std::nullopt;
      }
    }
    return params;
  }

  std::vector<Route> routes_;
};

}  // namespace chatpro::console
