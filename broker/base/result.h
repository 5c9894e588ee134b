// SPDX-License-Identifier: Apache-2.0
//
// Result<T>: a T, or the Status that explains why there is none.
//
//   Result<User> r = directory.FindUser("ana");
//   if (!r.ok()) return r.status();
//   Use(*r);
//
// Thread-safety: a value type; no internal synchronisation.
#pragma once

#include <optional>
#include <utility>

#include "broker/base/check.h"
#include "broker/base/status.h"

namespace chatpro {

template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok().
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    CHATPRO_CHECK(!status_.ok(), "a Result built from a Status must carry an error");
  }
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    CHATPRO_CHECK(ok(), "value() of a failed Result");
    return *value_;
  }
  const T& value() const& {
    CHATPRO_CHECK(ok(), "value() of a failed Result");
    return *value_;
  }
  T&& value() && {
    CHATPRO_CHECK(ok(), "value() of a failed Result");
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace chatpro

#define CHATPRO_CONCAT_INNER_(a, b) a##b
#define CHATPRO_CONCAT_(a, b) CHATPRO_CONCAT_INNER_(a, b)

// Evaluates `expr` (a Result<T>); on error returns its Status from the
// enclosing function, else moves the value into `lhs` (a declaration or an lvalue).
#define CHATPRO_ASSIGN_OR_RETURN(lhs, expr) \
  CHATPRO_ASSIGN_OR_RETURN_IMPL_(CHATPRO_CONCAT_(chatpro_result_, __LINE__), lhs, expr)
#define CHATPRO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()
